"""partial4py.partial.release_all(): every object still open, one with a
round that only rank 0 started, is released on this rank alone. Reports
what the calls, the outstanding request and close() raise afterwards, the
thread count against the one before the objects, and the results of the
rounds before and of an object created afterwards, for the test to check
against the exact sums."""
import numpy as np
from mpi4py import MPI

import partial4py
from partial4py.partial import release_all
from _worker import main, raised, report, threads, threads_settled

COUNT = 8


def body(args):
    comm = MPI.COMM_WORLD
    rank = comm.Get_rank()
    threads_before = threads()
    contribution = np.full(COUNT, rank + 1, np.int64)
    solo = partial4py.PartialAllreduce(COUNT, dtype=np.int64, comm=comm, mode="solo", timeout=30)
    sync = partial4py.PartialAllreduce(COUNT, dtype=np.int64, comm=comm, mode="sync", timeout=30)
    before = sum(int(solo.allreduce(contribution).result[0]) for _ in range(args["rounds"]))
    before += int(solo.flush().result[0])
    request = sync.start(contribution) if rank == 0 and comm.Get_size() > 1 else None
    comm.Barrier()

    release_all()
    outcome = {
        "threads_before": threads_before,
        "threads_after": threads_settled(threads_before),
        "solo_call": raised(lambda: solo.allreduce(contribution)),
        "sync_call": raised(lambda: sync.allreduce(contribution)),
        "request": raised(request.wait) if request is not None else None,
        "again": raised(release_all),
        "closed": [raised(solo.close), raised(sync.close)],
    }
    with partial4py.PartialAllreduce(COUNT, dtype=np.int64, comm=comm, mode="sync", timeout=30) as after:
        outcome["after"] = after.allreduce(contribution).result.tolist()
    report(before=before, **outcome)


main(body)
