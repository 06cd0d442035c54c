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


def body(args):
    world = MPI.COMM_WORLD
    if args.get("create_only"):
        def create():
            partial4py.PartialAllreduce(16, comm=world, mode="sync", timeout=60,
                                        trigger=args.get("trigger", "auto")).close()
        report(outcome=raised(create))
        return
    report(outcomes=[run(world, case) for case in args["cases"]], size=world.Get_size())


main(body)
