"""size = 2**40 with a few nonzeros per rank: the sparse algorithms give the
exact sum; the dense ones cannot hold the dense form and say so."""
import numpy as np
from mpi4py import MPI

import partial4py
from _worker import main, raised, report

SIZE = 2**40


def rank_entries(rank):
    # Repeated and unsorted, near both ends of the range.
    indices = np.array([SIZE - 1 - rank, 12345, rank << 33, SIZE - 1 - rank], np.int64)
    values = np.array([1.5, 2.0, 0.25, 1.5], np.float64)
    return indices, values


def body(args):
    comm = MPI.COMM_WORLD
    nprocs = comm.Get_size()
    expected = {}
    for r in range(nprocs):
        for index, value in zip(*rank_entries(r)):
            expected[int(index)] = expected.get(int(index), 0.0) + float(value)
    indices, values = rank_entries(comm.Get_rank())
    for algorithm in args["sparse"]:
        result = partial4py.isparse_allreduce(indices, values, SIZE, algorithm=algorithm).wait()
        assert not result.is_dense, algorithm
        assert result.indices.tolist() == sorted(expected), (algorithm, result.indices)
        assert result.values.tolist() == [expected[i] for i in sorted(expected)], algorithm
    outcomes = [raised(lambda: partial4py.sparse_allreduce(indices, values, SIZE, algorithm=algorithm))
                for algorithm in args["dense"]]
    report(outcomes=outcomes)


main(body)
