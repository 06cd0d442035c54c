"""The cost model as this process sees it (LP_SPARSE_COST_MODEL is read once
per process), and optionally the calibration command's output."""
import json

from mpi4py import MPI

import partial4py.calibrate
from partial4py.sparse import select_algorithm, predict_seconds
from _worker import main, report


def body(args):
    written = None
    if args.get("calibrate"):
        partial4py.calibrate.main(["-o", args["calibrate"]])
        MPI.COMM_WORLD.Barrier()  # rank 0 writes the file
        with open(args["calibrate"]) as f:
            written = json.load(f)
    picks = {f"{size}:{nnz}:{nprocs}": select_algorithm(size, nnz, nprocs)
             for size, nnz, nprocs in args["problems"]}
    seconds = {name: predict_seconds(name, *args["problems"][0])
               for name in ("recursive_doubling", "split_allgather", "dsar", "allgather", "dense")}
    report(picks=picks, seconds=seconds,
           written=written)


main(body)
