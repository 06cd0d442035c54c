"""Bad sparse input on one rank (the last): every rank must raise, and the
communicator must still work afterwards."""
import numpy as np
from mpi4py import MPI

import partial4py
from _worker import main, raised, report


def bad_call(kind, culprit, algorithm):
    indices = np.array([3, 1, 3], np.int64)
    values = np.array([1.0, 2.0, 3.0], np.float32)
    size = 10
    if culprit:
        if kind == "out_of_range":
            indices = np.array([3, 10, 1], np.int64)
        elif kind == "negative_index":
            indices = np.array([3, -1, 1], np.int64)
        elif kind == "size_mismatch":
            size = 11
        elif kind == "dtype_mismatch":
            values = values.astype(np.float64)
        elif kind == "index_dtype_mismatch":
            indices = indices.astype(np.int32)
        elif kind == "length_mismatch":
            values = values[:2].copy()
        elif kind == "algorithm_mismatch":
            algorithm = "allgather" if algorithm != "allgather" else "dense"
        elif kind == "unknown_algorithm":
            algorithm = "bogus"
        elif kind == "index_dtype":
            indices = indices.astype(np.float64)
    return lambda: partial4py.sparse_allreduce(indices, values, size, algorithm=algorithm).to_dense()


def body(args):
    comm = MPI.COMM_WORLD
    culprit = comm.Get_rank() == comm.Get_size() - 1
    outcomes = [[raised(bad_call(kind, culprit, algorithm)) for algorithm in args["algorithms"]]
                for kind in args["kinds"]]
    after = partial4py.sparse_allreduce(np.array([comm.Get_rank()]), np.ones(1, np.int64), comm.Get_size())
    report(outcomes=outcomes, healthy=bool((after.to_dense() == 1).all()))


main(body)
