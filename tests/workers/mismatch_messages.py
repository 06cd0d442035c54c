"""One argument differs on some ranks: every rank must raise MismatchError
with a message that names the argument and shows two of the values, each
with the lowest rank that passed it. args["cases"]: [kind, {rank: value}]
(ranks not listed pass the kind's common value)."""
import numpy as np
from mpi4py import MPI

import partial4py
from _worker import main, raised, report

COMMON = {
    "dense_count": 8, "dense_dtype": "float32", "dense_op": "sum",
    "sparse_size": 10, "sparse_dtype": "float32", "sparse_index_dtype": "int64",
    "sparse_algorithm": "split_allgather", "sparse_density_threshold": 0.1,
    "partial_count": 16, "partial_dtype": "float32", "partial_mode": "majority", "partial_op": "sum",
    "partial_max_staleness": 8,
}


def call(kind, value):
    if kind.startswith("dense_"):
        options = {"count": 8, "dtype": "float32", "op": "sum"}
        options[kind[len("dense_"):]] = value
        return lambda: partial4py.allreduce(np.ones(options["count"], options["dtype"]), op=options["op"])
    if kind.startswith("sparse_"):
        options = {"size": 10, "dtype": "float32", "index_dtype": "int64", "algorithm": "split_allgather",
                   "density_threshold": 0.1}
        options[kind[len("sparse_"):]] = value
        indices = np.array([3, 1], options["index_dtype"])
        values = np.ones(2, options["dtype"])
        return lambda: partial4py.sparse_allreduce(indices, values, options["size"], algorithm=options["algorithm"],
                                                   density_threshold=options["density_threshold"])
    options = {"count": 16, "dtype": "float32", "mode": "majority", "op": "sum", "max_staleness": 8}
    options[kind[len("partial_"):]] = value

    def create():
        partial4py.PartialAllreduce(options["count"], dtype=options["dtype"], mode=options["mode"], op=options["op"],
                                    max_staleness=options["max_staleness"], timeout=30).close()
    return create


def body(args):
    rank = MPI.COMM_WORLD.Get_rank()
    outcomes = []
    for kind, values in args["cases"]:
        outcomes.append(raised(call(kind, values.get(str(rank), COMMON[kind]))))
    # Every rank is still in step: an agreed call works.
    healthy = partial4py.allreduce(np.ones(2, np.int64)).tolist() == [MPI.COMM_WORLD.Get_size()] * 2
    report(outcomes=outcomes, healthy=healthy)


main(body)
