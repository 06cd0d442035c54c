"""Asynchronous progress: in solo mode one rank stops calling the library
(time.sleep, or a busy Python loop) while the others keep calling. Their
rounds need the sleeping rank's part of every reduction, which only its
progress thread can do. Every rank records when each of its calls
completed; the sleeper records its pause."""
import time

import numpy as np
from mpi4py import MPI

import partial4py
from _worker import main, report


def body(args):
    comm = MPI.COMM_WORLD
    rank, sleeper = comm.Get_rank(), comm.Get_size() - 1
    staleness, calls, pause = args["max_staleness"], args["calls"], args["pause"]
    completed, window = [], None
    with partial4py.PartialAllreduce(4096, dtype=np.float64, comm=comm, mode="solo",
                                     max_staleness=staleness, timeout=60) as pa:
        send, recv = np.ones(4096), np.empty(4096)
        for _ in range(2):
            pa.allreduce(send, recv)
        # Taken before the barrier, so no other rank's round after it can
        # complete before the window opens.
        before_barrier = time.time()
        comm.Barrier()
        if rank == sleeper:
            start = time.time()
            if args["how"] == "sleep":
                time.sleep(pause)
            else:
                while time.time() - start < pause:  # busy, holding the GIL
                    pass
            window = [before_barrier, time.time()]
        for _ in range(calls):
            pa.allreduce(send, recv)
            completed.append(time.time())
        pa.flush(recv)
    report(completed=completed, window=window)


main(body)
