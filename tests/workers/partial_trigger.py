"""Rounds of a partial allreduce with one trigger, for its counters: every
rank contributes ones for each call, so the rounds' results, flush
included, must add up to P x calls on every rank. Ranks sleep a random
few hundred microseconds between calls, so different ranks complete the
quorum from round to round. Reports the counters before and after."""
import time

import numpy as np
from mpi4py import MPI

import partial4py
from _worker import main, raised, report


def run(comm, case):
    rank = comm.Get_rank()
    rng = np.random.default_rng([case["seed"], rank])
    pa = partial4py.PartialAllreduce(4, dtype="int64", comm=comm, mode=case["mode"], timeout=120,
                                     trigger=case.get("trigger", "auto"))
    before = pa.stats()
    total = 0
    ones = np.ones(4, np.int64)
    for _ in range(case["calls"]):
        time.sleep(rng.uniform(0, case.get("sleep", 0.0005)))
        total += int(pa.allreduce(ones).result[0])
    total += int(pa.flush().result[0])
    after = pa.stats()
    trigger = pa.trigger
    pa.close()
    return {"trigger": trigger, "total": total, "before": before, "after": after}


def flush_meets_close(comm, trigger):
    """Rank 0 flushes while the others close: the one agreement of both."""
    pa = partial4py.PartialAllreduce(4, dtype="int64", comm=comm, mode="solo", timeout=30, trigger=trigger)
    for _ in range(2 + comm.Get_rank()):
        pa.allreduce(np.ones(4, np.int64))
    flushed = raised(pa.flush) if comm.Get_rank() == 0 else None
    return {"flushed": flushed, "closed": raised(pa.close)}


def body(args):
    world = MPI.COMM_WORLD
    if "flush_meets_close" in args:
        report(outcome=flush_meets_close(world, args["flush_meets_close"]))
        return
    if args.get("create_only"):
        def create():
            partial4py.PartialAllreduce(16, comm=world, mode="sync", timeout=60,
                                        trigger=args.get("trigger", "auto")).close()
        report(outcome=raised(create))
        return
    report(outcomes=[run(world, case) for case in args["cases"]], size=world.Get_size())


main(body)
