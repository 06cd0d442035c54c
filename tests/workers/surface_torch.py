"""CPU torch tensors through every collective on communicator(args), with
the evidence that none was copied: results land in the caller's tensor
(and the returned array is over that tensor's memory), and in-place calls
read their input from the tensor they write. Exact int64 references; the
DistributedOptimizer's deprecated positional comm too."""
import warnings

import numpy as np
import torch
from mpi4py import MPI

import partial4py
import partial4py.torch
from _worker import communicator, main, rank_input, report

COUNT = 48


def over(array, tensor):
    """Whether a returned NumPy array is the tensor's memory, not a copy of it."""
    return bool(array.ctypes.data == tensor.data_ptr() and array.size == tensor.numel())


def body(args):
    comm, color, members = communicator(args)
    seed, rank = args["seed"], comm.Get_rank()

    def mine(offset=0):
        return torch.from_numpy(rank_input(seed + offset, members[rank], COUNT, np.int64).copy())

    def expected(offset=0):
        return sum(rank_input(seed + offset, r, COUNT, np.int64) for r in members)

    def lands(result, tensor, offset=0):
        return bool(np.array_equal(tensor.numpy(), expected(offset)) and over(result, tensor))

    facts = {}
    recv = torch.zeros(COUNT, dtype=torch.int64)
    facts["allreduce"] = lands(partial4py.allreduce(mine(), recv, comm=comm), recv)
    buf = mine(1)
    facts["allreduce_in_place"] = lands(partial4py.allreduce(MPI.IN_PLACE, buf, comm=comm), buf, 1)
    buf = mine(2)
    facts["allreduce_same_tensor"] = lands(partial4py.allreduce(buf, buf, comm=comm), buf, 2)
    recv = torch.zeros(COUNT, dtype=torch.int64)
    facts["iallreduce"] = lands(partial4py.iallreduce(mine(3), recv, comm=comm).wait(), recv, 3)
    buf = mine(4)
    facts["iallreduce_in_place"] = lands(partial4py.iallreduce(MPI.IN_PLACE, buf, comm=comm).wait(), buf, 4)
    allocated = partial4py.allreduce(mine(5), comm=comm)
    facts["allreduce_allocates_numpy"] = bool(isinstance(allocated, np.ndarray)
                                              and np.array_equal(allocated, expected(5)))

    indices = torch.arange(rank, COUNT, max(1, comm.Get_size()), dtype=torch.int64)
    values = torch.full((indices.numel(),), rank + 1, dtype=torch.int64)
    sparse_expected = np.zeros(COUNT, np.int64)
    for r in range(comm.Get_size()):
        sparse_expected[r::max(1, comm.Get_size())] += r + 1
    result = partial4py.sparse_allreduce(indices, values, COUNT, comm=comm, algorithm="allgather")
    facts["sparse_allreduce"] = bool(np.array_equal(result.to_dense(), sparse_expected))
    result = partial4py.isparse_allreduce(indices.to(torch.int32), values, COUNT, comm=comm).wait()
    facts["isparse_allreduce"] = bool(np.array_equal(result.to_dense(), sparse_expected))

    with partial4py.PartialAllreduce(COUNT, np.int64, comm=comm, mode="sync", timeout=30.0) as pa:
        recv = torch.zeros(COUNT, dtype=torch.int64)
        facts["partial_allreduce"] = lands(pa.allreduce(mine(6), recv).result, recv, 6)
        recv = torch.zeros(COUNT, dtype=torch.int64)
        facts["partial_start"] = lands(pa.start(mine(7), recv).wait().result, recv, 7)
        buf = mine(8)
        facts["partial_in_place"] = lands(pa.allreduce(MPI.IN_PLACE, buf).result, buf, 8)
        recv = torch.full((COUNT,), 99, dtype=torch.int64)
        info = pa.flush(recv)  # nothing pending: the sum's identity, written into recv
        facts["partial_flush"] = bool(info.contributions == 0 and not recv.any() and over(info.result, recv))

    model = torch.nn.Linear(3, 2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        optimizer = partial4py.torch.DistributedOptimizer(torch.optim.SGD(model.parameters(), lr=0.1),
                                                          model.parameters(), "sync", comm)
    optimizer.close()
    facts["optimizer_warnings"] = [str(w.message) for w in caught if issubclass(w.category, DeprecationWarning)]
    facts["optimizer_comm"] = optimizer.comm is comm
    report(facts=facts, color=color)


main(body)
