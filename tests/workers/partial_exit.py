"""A program that never closes its partial allreduce objects, one of them
with a round still outstanding on some ranks, and exits: MPI_Finalize must
release them (through the MPI_COMM_SELF hook) without hanging or crashing."""
import numpy as np
from mpi4py import MPI

import partial4py
from _worker import main, report


def body(args):
    comm = MPI.COMM_WORLD
    kept = []
    for mode in ("solo", "majority"):
        pa = partial4py.PartialAllreduce(32, dtype=np.float64, comm=comm, mode=mode, timeout=30)
        for _ in range(5):
            pa.allreduce(np.ones(32))
        kept.append(pa)
    # Rank 0 starts a sync round that the others never join.
    waiting = None
    sync = partial4py.PartialAllreduce(4, dtype=np.int32, comm=comm, mode="sync", timeout=30)
    if comm.Get_rank() == 0 and comm.Get_size() > 1:
        waiting = sync.start(np.ones(4, np.int32))
    kept.append(sync)
    comm.Barrier()
    report(done=True)
    # The outstanding request would warn when collected; it is kept alive on
    # purpose, and MPI finalizes with everything still open.
    globals()["_keep"] = (kept, waiting)


main(body)
