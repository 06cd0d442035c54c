"""Sync rounds of a partial allreduce with one algorithm, checked exactly:
every rank's int64 input is rebuilt from (seed, rank, call), so each round's
result must equal the NumPy sum of all ranks' inputs for that call. Reports
the object's counters after the rounds and the flush."""
import numpy as np
from mpi4py import MPI

import partial4py
from _worker import communicator, digest, main, raised, rank_input, report


def run(comm, case):
    size, rank = comm.Get_size(), comm.Get_rank()
    count, calls, seed, dtype = case["count"], case["calls"], case["seed"], case.get("dtype", "int64")
    pa = partial4py.PartialAllreduce(count, dtype=dtype, comm=comm, mode="sync", timeout=120,
                                     algorithm=case.get("algorithm", "auto"))
    before = pa.stats()
    digests, exact = [], True
    recv = np.empty(count, dtype)
    for call in range(calls):
        send = rank_input(seed + call, rank, count, dtype)
        info = pa.allreduce(send, recv)
        assert info.contributions == size, info
        if np.dtype(dtype).kind == "i":
            expected = sum(rank_input(seed + call, r, count, dtype) for r in range(size))
            exact &= bool(np.array_equal(recv, expected))
        digests.append(digest(recv))
    pa.flush(recv)
    after = pa.stats()
    algorithm = pa.algorithm
    pa.close()
    return {"algorithm": algorithm, "exact": exact, "digests": digests, "before": before, "after": after}


def body(args):
    world = MPI.COMM_WORLD
    if args.get("create_only"):
        def create():
            partial4py.PartialAllreduce(16, comm=world, mode="sync", timeout=60).close()
        report(outcome=raised(create))
        return
    comm, color, _ = communicator(args)
    outcomes = [run(comm, case) for case in args["cases"]]
    report(outcomes=outcomes, size=comm.Get_size(), color=color)
    if comm is not world:
        comm.Free()


main(body)
