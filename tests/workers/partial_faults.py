"""A peer lost in the middle of a run of partial allreduce rounds.

The victim rank makes a few calls, then leaves without closing: it kills
itself with SIGKILL (``kill``), calls release_all() and MPI.Finalize() and
exits (``finalize``), or simply returns, leaving MPI to finalize at exit
(``exit``). Every other
rank keeps calling until a call raises, then closes. Each survivor reports
how long the failing call and close() took, what they raised, and whether
its progress thread is still alive or using CPU once close() has returned.
"""
import os
import signal
import sys
import time

import numpy as np
from mpi4py import MPI

import partial4py
from _worker import main, report, threads, threads_settled, timed

CALLS_BEFORE_FAULT = 4
MAX_CALLS = 2000  # bounded: a survivor that never fails stops here


def cpu_seconds_while_sleeping(seconds):
    """CPU time this process uses while its own thread sleeps: what any
    thread left behind (a spinning progress thread) burns."""
    start = time.process_time()
    time.sleep(seconds)
    return time.process_time() - start


def leave(fault):
    sys.stdout.flush()
    if fault == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if fault == "finalize":
        # As a program that finalizes MPI itself must, with objects open.
        partial4py.partial.release_all()
        MPI.Finalize()
        sys.exit(0)
    # "exit": the program ends with the object open; mpi4py finalizes MPI.


def body(args):
    comm = MPI.COMM_WORLD
    rank = comm.Get_rank()
    victim = args["victim"]
    threads_before = threads()
    pa = partial4py.PartialAllreduce(64, dtype=np.int64, comm=comm, mode=args["mode"],
                                     max_staleness=2, timeout=args["timeout"])
    send, recv = np.full(64, rank + 1, np.int64), np.empty(64, np.int64)
    for _ in range(CALLS_BEFORE_FAULT):
        pa.allreduce(send, recv)
    if rank == victim:
        leave(args["fault"])
        return
    completed = 0
    failing = None
    deadline = time.monotonic() + 10 * args["timeout"] + 30
    while failing is None and completed < MAX_CALLS and time.monotonic() < deadline:
        failing = timed(lambda: pa.allreduce(send, recv))
        if failing["raised"] is None:
            failing = None
            completed += 1
    close = timed(pa.close)
    report(call=failing, close=close, completed=completed, threads_before=threads_before,
           threads_after=threads_settled(threads_before), idle_cpu=cpu_seconds_while_sleeping(1.0))
    if args["fault"] == "kill":
        # After a killed rank, MPI's state is undefined (MPI-4.1 without the
        # fault-tolerance extensions), and Open MPI 4.1's MPI_Finalize can
        # hang in its exit barrier with nothing of ours left (docs/partial.md,
        # "Open MPI: MPI_Finalize after a killed rank"). The job ends as a
        # job that lost a rank should: each survivor leaves without it.
        sys.stdout.flush()
        os._exit(0)


main(body)
