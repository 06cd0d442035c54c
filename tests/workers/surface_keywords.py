"""comm by keyword, and the deprecated positional spelling: every
collective called both ways on communicator(args) (the world, or with
args["split"] a half of it). Reports, per call, the DeprecationWarnings it
raised and whether its result equals the NumPy reference (exact: int64)."""
import warnings

import numpy as np

import partial4py
from _worker import communicator, main, rank_input, report

COUNT = 37
SIZE = 50  # of the sparse vectors


def sparse_input(seed, world_rank):
    rng = np.random.default_rng([seed, world_rank, 1])
    return rng.integers(0, SIZE, 9).astype(np.int64), rng.integers(-100, 100, 9).astype(np.int64)


def sparse_reference(seed, members):
    dense = np.zeros(SIZE, np.int64)
    for r in members:
        indices, values = sparse_input(seed, r)
        np.add.at(dense, indices, values)
    return dense


def recorded(call):
    """(call()'s result, the messages of the DeprecationWarnings it raised)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = call()
    return result, [str(w.message) for w in caught if issubclass(w.category, DeprecationWarning)]


def body(args):
    comm, color, members = communicator(args)
    seed, rank = args["seed"], comm.Get_rank()
    send = rank_input(seed, members[rank], COUNT, np.int64)
    dense_expected = sum(rank_input(seed, r, COUNT, np.int64) for r in members)
    indices, values = sparse_input(seed, members[rank])
    sparse_expected = sparse_reference(seed, members)

    def partial_sum(pa):
        # sync: every round sums every rank's call, so the result is exact.
        with pa:
            return pa.allreduce(send).result

    calls = {
        "allreduce": (lambda: partial4py.allreduce(send, None, "sum", comm),
                      lambda: partial4py.allreduce(send, None, "sum", comm=comm), dense_expected),
        "iallreduce": (lambda: partial4py.iallreduce(send, None, "sum", comm).wait(),
                       lambda: partial4py.iallreduce(send, comm=comm).wait(), dense_expected),
        "sparse_allreduce": (
            lambda: partial4py.sparse_allreduce(indices, values, SIZE, comm, "allgather", None).to_dense(),
            lambda: partial4py.sparse_allreduce(indices, values, SIZE, comm=comm, algorithm="allgather").to_dense(),
            sparse_expected),
        "isparse_allreduce": (
            lambda: partial4py.isparse_allreduce(indices, values, SIZE, comm).wait().to_dense(),
            lambda: partial4py.isparse_allreduce(indices, values, SIZE, comm=comm).wait().to_dense(),
            sparse_expected),
        "PartialAllreduce": (
            lambda: partial_sum(partial4py.PartialAllreduce(COUNT, np.int64, comm, "sync", None, 30.0)),
            lambda: partial_sum(partial4py.PartialAllreduce(COUNT, np.int64, comm=comm, mode="sync", timeout=30.0)),
            dense_expected),
    }
    outcome = {}
    for name, (positional, keyword, expected) in calls.items():
        old, old_warnings = recorded(positional)
        new, new_warnings = recorded(keyword)
        outcome[name] = {"positional_equal": bool(np.array_equal(old, expected)), "positional_warnings": old_warnings,
                         "keyword_equal": bool(np.array_equal(new, expected)), "keyword_warnings": new_warnings}
    report(calls=outcome, color=color, comm_size=comm.Get_size())


main(body)
