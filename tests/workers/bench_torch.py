"""Runs ``python -m partial4py.bench torch`` in-process with the options
given, and reports the JSON rows that rank 0 wrote."""
import json
import os

from mpi4py import MPI

from _worker import main, report
from partial4py.bench.__main__ import main as bench_main


def body(options):
    path = os.path.join(os.environ["P4P_RESULT_DIR"], "bench.json")
    bench_main(["torch", *options["argv"], "--json", path])
    MPI.COMM_WORLD.Barrier()
    with open(path) as f:
        rows = json.load(f)
    MPI.COMM_WORLD.Barrier()
    if MPI.COMM_WORLD.Get_rank() == 0:
        os.unlink(path)  # the harness's directory holds only rank results
    report(**rows)


main(body)
