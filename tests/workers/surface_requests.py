"""Request.done(), Request as a context manager, partial4py.waitall and
waitany on communicator(args), each result against the NumPy reference.

With args["errors"] (P >= 2), the failure paths: rank 0 starts a sync
PartialAllreduce round that no other rank joins, so its request raises
TimeoutError, inside waitall (between two good requests), waitany and a
with block whose body raises as well. A barrier then lets the other ranks
flush that round away."""
import numpy as np
from mpi4py import MPI

import partial4py
from _worker import communicator, main, raised, rank_input, report

COUNT = 64
TIMEOUT = 1.5  # seconds the request no other rank joins takes to fail


def body(args):
    comm, color, members = communicator(args)
    seed, rank = args["seed"], comm.Get_rank()

    def mine(offset):
        return rank_input(seed + offset, members[rank], COUNT, np.int64)

    def expected(offset):
        return sum(rank_input(seed + offset, r, COUNT, np.int64) for r in members)

    if args.get("errors"):
        report(**failures(comm, rank, mine, expected), color=color)
        return
    facts = {}
    request = partial4py.iallreduce(mine(0), comm=comm)
    polls = 0
    while not request.done():
        polls += 1
    facts["done_then_equal"] = bool(request.done() and np.array_equal(request.wait(), expected(0)))

    with partial4py.iallreduce(mine(1), comm=comm) as request:
        pass
    facts["with_waits"] = bool(request.done() and np.array_equal(request.wait(), expected(1)))
    try:
        with partial4py.iallreduce(mine(2), comm=comm) as request:
            raise KeyError("from the body")
    except KeyError as exc:
        facts["with_keeps_body_error"] = exc.args == ("from the body",)
    facts["with_waits_after_body_error"] = bool(request.done() and np.array_equal(request.wait(), expected(2)))

    sparse = partial4py.isparse_allreduce(np.arange(COUNT), mine(3), COUNT, comm=comm)
    requests = [partial4py.iallreduce(mine(k), comm=comm) for k in range(4, 7)]
    results = partial4py.waitall([requests[0], sparse, *requests[1:]])
    facts["waitall_in_order"] = bool(
        np.array_equal(results[0], expected(4)) and np.array_equal(results[1].to_dense(), expected(3))
        and all(np.array_equal(results[2 + k], expected(5 + k)) for k in range(2)))
    facts["waitall_again"] = bool(all(np.array_equal(a, b) for a, b in zip(partial4py.waitall(requests), results[::2])))
    facts["waitall_empty"] = partial4py.waitall([]) == []

    requests = [partial4py.iallreduce(mine(k), comm=comm) for k in range(7, 10)]
    seen = {}
    while True:
        index, result = partial4py.waitany(requests)
        if index == MPI.UNDEFINED:
            facts["waitany_undefined_result"] = result
            break
        seen[index] = bool(np.array_equal(result, expected(7 + index)))
    facts["waitany_each_once"] = seen == {0: True, 1: True, 2: True}
    facts["waitany_empty"] = list(partial4py.waitany([])) == [MPI.UNDEFINED, None]
    facts["undefined"] = MPI.UNDEFINED
    report(facts=facts, color=color)


def failures(comm, rank, mine, expected):
    facts = {}
    with partial4py.PartialAllreduce(COUNT, np.int64, comm=comm, mode="sync", timeout=TIMEOUT) as pa:
        def abandoned():
            return pa.start(mine(0))  # rank 0 only: its round never fills

        good = [partial4py.iallreduce(mine(1), comm=comm), partial4py.iallreduce(mine(2), comm=comm)]
        requests = [good[0], abandoned(), good[1]] if rank == 0 else good
        facts["waitall"] = raised(lambda: partial4py.waitall(requests))
        facts["waitall_waited_the_rest"] = bool(
            all(r.done() for r in good) and np.array_equal(good[0].wait(), expected(1))
            and np.array_equal(good[1].wait(), expected(2)))
        if rank == 0:
            facts["failed_request_raises_again"] = raised(requests[1].wait)
        settle(comm, pa)

        if rank == 0:
            facts["waitany"] = raised(lambda: partial4py.waitany([abandoned()]))
        settle(comm, pa)

        if rank == 0:
            try:
                with abandoned():
                    raise KeyError("from the body")
            except KeyError as exc:
                facts["with_body_error"] = {"kept": exc.args == ("from the body",),
                                            "notes": getattr(exc, "__notes__", [])}
        settle(comm, pa)
    return facts


def settle(comm, pa):
    """Once rank 0's request has failed, drains its round on every rank."""
    comm.Barrier()
    pa.flush()


main(body)
