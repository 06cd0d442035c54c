"""auto when the ranks' cost models may differ or fail to load. Each rank
points LP_SPARSE_COST_MODEL at args["models"][rank] (None: unset) before
partial4py is imported (the library reads it once per process), and may
set constants with the Python setter (args["set"]: {rank: constants}).
Then every rank runs auto twice and an explicit algorithm once, each
compared against NumPy."""
import os

import numpy as np
from mpi4py import MPI

from _worker import args, main, raised, report

OPTIONS = args()
RANK = MPI.COMM_WORLD.Get_rank()
MODEL = OPTIONS["models"][RANK % len(OPTIONS["models"])]
if MODEL is None:
    os.environ.pop("LP_SPARSE_COST_MODEL", None)
else:
    os.environ["LP_SPARSE_COST_MODEL"] = MODEL

import partial4py  # noqa: E402  (after the environment is set)
import partial4py.calibrate  # noqa: E402
from partial4py.sparse import select_algorithm  # noqa: E402


def rank_input(rank, size, nnz):
    rng = np.random.default_rng([7, rank])
    return rng.integers(0, size, nnz), rng.integers(-100, 100, nnz).astype(np.int64)


def body(options):
    comm = MPI.COMM_WORLD
    size, nnz = options["size"], options["nnz"]
    constants = options.get("set", {}).get(str(RANK))
    if constants is not None:
        partial4py.calibrate.set_cost_model(constants)
    expected = np.zeros(size, np.int64)
    for r in range(comm.Get_size()):
        np.add.at(expected, *rank_input(r, size, nnz))
    indices, values = rank_input(RANK, size, nnz)
    outcomes, algorithms = [], []

    def run(algorithm):
        result = partial4py.sparse_allreduce(indices, values, size, algorithm=algorithm)
        assert np.array_equal(result.to_dense(), expected), algorithm
        algorithms.append(result.algorithm)

    for algorithm in ("auto", "allgather", "auto"):
        outcomes.append(raised(lambda: run(algorithm)))
    own_choice = raised(lambda: select_algorithm(size, nnz, comm.Get_size(), "int64"))
    if own_choice["raised"] is None:
        own_choice["algorithm"] = select_algorithm(size, nnz, comm.Get_size(), "int64")
    report(outcomes=outcomes, algorithms=algorithms, own_choice=own_choice,
           get_model=raised(partial4py.calibrate.cost_model))


main(body)
