"""Rounds that consume nothing: each rank starts all its calls at once, so
one round's snapshot takes several calls of a rank and a later round that
fires can find nothing pending anywhere. Reports, per round, the metadata
and whether the result is the sum's identity, plus the flush."""
import numpy as np
from mpi4py import MPI

import partial4py
from _worker import digest, main, report


def body(args):
    comm = MPI.COMM_WORLD
    rank = comm.Get_rank()
    calls, count = args["calls"], 16
    with partial4py.PartialAllreduce(count, dtype=np.int64, comm=comm, mode="solo",
                                     max_staleness=args["max_staleness"], timeout=60) as pa:
        requests = [pa.start(np.full(count, 1 + rank * calls + call, np.int64)) for call in range(calls)]
        infos = [request.wait() for request in requests]
        flushed = pa.flush()
    rounds = [{"round": i.round, "contributions": i.contributions, "fresh": i.fresh,
               "quorum_met": i.quorum_met, "zero": not i.result.any(), "digest": digest(i.result)}
              for i in infos]
    total = sum(i.result for i in infos) + flushed.result
    report(rounds=rounds, total=total.tolist(), flush_contributions=flushed.contributions)


main(body)
