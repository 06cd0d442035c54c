"""A partial allreduce on each half of a split communicator, with the
user's own traffic on the parent communicator in between: the library's
messages never match the user's."""
import numpy as np
from mpi4py import MPI

import partial4py
from _worker import digest, main, report


def body(args):
    world = MPI.COMM_WORLD
    color = world.Get_rank() % 2
    comm = world.Split(color, world.Get_rank())
    rank = comm.Get_rank()
    calls = args["calls"]
    rounds, total = [], 0
    with partial4py.PartialAllreduce(1, dtype=np.int64, comm=comm, mode="majority", timeout=60) as pa:
        recv = np.empty(1, np.int64)
        for call in range(calls):
            # User messages with any tag on the parent, interleaved with rounds.
            token = world.sendrecv(call, dest=(world.Get_rank() + 1) % world.Get_size(),
                                   source=(world.Get_rank() - 1) % world.Get_size())
            assert token == call
            info = pa.allreduce(np.array([1000 * rank + call], np.int64), recv)
            total += int(recv[0])
            rounds.append([info.round, info.contributions, digest(recv)])
        total += int(pa.flush(recv).result[0])
    expected = sum(1000 * r + c for r in range(comm.Get_size()) for c in range(calls))
    report(color=color, rounds=rounds, conserved=total == expected)
    comm.Free()


main(body)
