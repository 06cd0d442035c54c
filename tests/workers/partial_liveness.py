"""Liveness: all ranks but rank 0 stop calling. Rank 0's next call must
raise TimeoutError within the timeout (plus a margin the test allows)
instead of hanging; the object can still be closed collectively."""
import time

import numpy as np
from mpi4py import MPI

import partial4py
from _worker import main, report


def body(args):
    comm = MPI.COMM_WORLD
    rank = comm.Get_rank()
    outcome = {}
    pa = partial4py.PartialAllreduce(8, dtype=np.int64, comm=comm, mode=args["mode"],
                                     max_staleness=args["max_staleness"], timeout=args["timeout"])
    send, recv = np.ones(8, np.int64), np.empty(8, np.int64)
    for _ in range(3):
        pa.allreduce(send, recv)
    if rank == 0:
        started = time.monotonic()
        completed = 0
        try:
            for _ in range(args["max_staleness"] + 2):  # solo: runs ahead until the staleness bound
                pa.allreduce(send, recv)
                completed += 1
                started = time.monotonic()
        except partial4py.TimeoutError as exc:
            outcome = {"raised": "TimeoutError", "elapsed": time.monotonic() - started,
                       "is_error": isinstance(exc, partial4py.Error), "message": str(exc),
                       "completed": completed}
    comm.Barrier()  # the others have stopped calling until rank 0 is done
    pa.close()
    report(**outcome)


main(body)
