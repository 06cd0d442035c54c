"""Measures the constants of the sparse allreduce cost model on this machine.

    mpirun -n 2 python -m partial4py.calibrate -o sparse_cost.json
    export LP_SPARSE_COST_MODEL=$PWD/sparse_cost.json

alpha (seconds per message) and beta (seconds per byte) come from a
ping-pong between ranks 0 and 1; gamma (seconds per sparse entry merged)
and delta (seconds per dense byte touched) from timing the library's own
kernels. The library reads the file named by LP_SPARSE_COST_MODEL when the
first 'auto' call needs the model.
"""
import argparse
import json
import sys

import numpy as np
from mpi4py import MPI

from ._binding import check, ffi, lib

SMALL, LARGE = 8, 8 << 20


def ping_pong_seconds(comm, nbytes, iterations):
    """Half the mean round trip between ranks 0 and 1 for nbytes."""
    buffer = np.zeros(nbytes, np.uint8)
    rank = comm.Get_rank()
    best = float("inf")
    for _ in range(3):
        comm.Barrier()
        start = MPI.Wtime()
        for _ in range(iterations):
            if rank == 0:
                comm.Send(buffer, 1)
                comm.Recv(buffer, 1)
            elif rank == 1:
                comm.Recv(buffer, 0)
                comm.Send(buffer, 0)
        best = min(best, (MPI.Wtime() - start) / iterations / 2)
    return comm.bcast(best, root=0)


def measure(comm):
    constants = {}
    if comm.Get_size() >= 2:
        alpha = ping_pong_seconds(comm, SMALL, 2000)
        large = ping_pong_seconds(comm, LARGE, 20)
        constants["alpha"] = alpha
        constants["beta"] = max(large - alpha, 0.0) / LARGE
    per_entry, per_byte = ffi.new("double *"), ffi.new("double *")
    check(lib.lp_sparse_measure_local_costs(per_entry, per_byte))
    # The slowest rank sets the pace of a collective.
    constants["gamma"] = comm.allreduce(per_entry[0], op=MPI.MAX)
    constants["delta"] = comm.allreduce(per_byte[0], op=MPI.MAX)
    return constants


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-o", "--output", default="sparse_cost.json", help="JSON file to write")
    options = parser.parse_args(argv)
    comm = MPI.COMM_WORLD
    constants = measure(comm)
    if comm.Get_rank() == 0:
        if "alpha" not in constants:
            print("one rank only: alpha and beta keep their defaults (run with mpirun -n 2)", file=sys.stderr)
        record = dict(constants, nprocs=comm.Get_size(),
                      mpi=MPI.Get_library_version().rstrip("\x00").splitlines()[0].strip())
        with open(options.output, "w") as f:
            json.dump(record, f, indent=2)
        print(json.dumps(record, indent=2))
        print(f"export LP_SPARSE_COST_MODEL={options.output}")


if __name__ == "__main__":
    main()
