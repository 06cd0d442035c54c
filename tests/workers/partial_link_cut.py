"""Partial allreduce across the test bed while the test cuts a link.

The ranks make a few calls, then tell the test they are ready (a file per
rank in args["signal_dir"]) and wait for it to cut the link. Then each
keeps calling until a call raises, closes, reports what the failing call
and close() raised and how long they took, and waits for the test to
restore the link before it finalizes: MPI's own shutdown needs the network."""
import os
import time

import numpy as np
from mpi4py import MPI

import partial4py
from _worker import main, report, timed

CALLS_BEFORE_CUT = 4
MAX_CALLS = 2000  # bounded: a rank that never fails stops here


def signal(args, name):
    open(os.path.join(args["signal_dir"], name), "w").close()


def wait_for(args, name, seconds):
    path, deadline = os.path.join(args["signal_dir"], name), time.monotonic() + seconds
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the test did not signal {name!r} within {seconds} s")
        time.sleep(0.02)


def body(args):
    comm = MPI.COMM_WORLD
    rank = comm.Get_rank()
    pa = partial4py.PartialAllreduce(1024, dtype=np.int64, comm=comm, mode=args["mode"], max_staleness=2,
                                     timeout=args["timeout"])
    send, recv = np.full(1024, rank + 1, np.int64), np.empty(1024, np.int64)
    for _ in range(CALLS_BEFORE_CUT):
        pa.allreduce(send, recv)
    comm.Barrier()
    signal(args, f"ready-{rank}")
    wait_for(args, "cut", 60)
    completed, call = 0, None
    while completed < MAX_CALLS:
        call = timed(lambda: pa.allreduce(send, recv))
        if call["raised"]:
            break
        completed += 1
    close = timed(pa.close)
    report(call=call, close=close, completed=completed)
    signal(args, f"reported-{rank}")
    wait_for(args, "restored", 120)


main(body)
