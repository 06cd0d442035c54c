"""A timeout too large for the deadline arithmetic (1e19 s, 1e300 s) must
mean "very long": rounds, the staleness wait and flush work as without a
timeout. The last rank is slow, so that every other rank really waits."""
import time

import numpy as np
from mpi4py import MPI

import partial4py
from _worker import main, raised, report


def body(args):
    comm = MPI.COMM_WORLD
    rank, size = comm.Get_rank(), comm.Get_size()
    outcomes = {}
    for timeout in args["timeouts"]:
        for mode in ("sync", "solo"):
            def run():
                with partial4py.PartialAllreduce(4, dtype=np.int64, comm=comm, mode=mode, max_staleness=1,
                                                 timeout=float(timeout)) as pa:
                    total = np.zeros(4, np.int64)
                    for _ in range(args["rounds"]):
                        if rank == size - 1:
                            time.sleep(0.05)
                        total += pa.allreduce(np.full(4, rank + 1, np.int64)).result
                    total += pa.flush().result
                    assert total.tolist() == [args["rounds"] * size * (size + 1) // 2] * 4, total
            outcomes[f"{timeout}-{mode}"] = raised(run)
    report(outcomes=outcomes)


main(body)
