"""Typed use of the public API, as the docs show it: `make typecheck` runs
mypy --strict on this file so that the stubs are exercised. It is checked,
never run (it would need mpirun)."""
import numpy as np
import numpy.typing as npt
from mpi4py import MPI

import partial4py
from partial4py.compress import TopKCompressor
from partial4py.sparse import predict_seconds, select_algorithm


def dense(comm: MPI.Intracomm) -> float:
    x = np.ones(8, np.float32)
    total: npt.NDArray[np.float32] = partial4py.allreduce(x, op="sum", comm=comm)
    partial4py.allreduce(x, x, op=MPI.MAX)  # in place
    request: partial4py.Request[npt.NDArray[np.float32]] = partial4py.iallreduce(x)
    while not request.test():
        pass
    return float(total[0] + request.wait()[0])


def in_place(comm: MPI.Intracomm) -> int:
    buf = np.arange(8, dtype=np.int64)
    total: npt.NDArray[np.int64] = partial4py.allreduce(MPI.IN_PLACE, buf, comm=comm)
    later: partial4py.Request[npt.NDArray[np.int64]] = partial4py.iallreduce(MPI.IN_PLACE, buf, op="max")
    with partial4py.PartialAllreduce(8, dtype=np.int64, comm=comm, mode="sync") as pa:
        pa.allreduce(MPI.IN_PLACE, buf)
        pa.start(MPI.IN_PLACE, buf).wait()
    return int(total[0] + later.wait()[0])


def requests(comm: MPI.Intracomm) -> list[object]:
    x = np.ones(4, np.float64)
    with partial4py.iallreduce(x, comm=comm) as request:
        finished: bool = request.done()
    results: list[object] = partial4py.waitall([partial4py.iallreduce(x, comm=comm),
                                                partial4py.isparse_allreduce(np.arange(4), x, 4, comm=comm)])
    pending = [partial4py.iallreduce(x, comm=comm) for _ in range(3)]
    while True:
        index, result = partial4py.waitany(pending)
        if index == MPI.UNDEFINED:
            break
        results.append(result)
    results.append(finished)
    return results


def sparse() -> int:
    indices = np.array([3, 1, 3], np.int64)
    values = np.array([1.0, 2.0, 3.0], np.float64)
    result: partial4py.SparseResult = partial4py.sparse_allreduce(indices, values, 10, algorithm="auto")
    later = partial4py.isparse_allreduce(indices, values, 10, density_threshold=0.5).wait()
    dense_sum = result.to_dense()
    name: str = result.algorithm
    seconds: float = predict_seconds("dsar", 1 << 20, 1000, 4, dtype="float64")
    chosen: str = select_algorithm(1 << 20, 1000, 4)
    print(dense_sum, name, seconds, chosen, later.is_dense)
    return result.size


def partial() -> list[int]:
    counts = []
    with partial4py.PartialAllreduce(4, dtype=np.float64, mode="majority", timeout=30.0) as pa:
        info: partial4py.PartialInfo = pa.allreduce(np.ones(4))
        counts.append(info.contributions)
        request = pa.start(np.ones(4))
        counts.append(request.wait().round)
        flushed = pa.flush()
        counts.append(int(flushed.quorum_met) + int(flushed.late) + flushed.fresh)
    assert pa.closed
    with partial4py.PartialAllreduce(4, mode=2, max_staleness=1, op="max") as quorum_of_two:
        counts.append(quorum_of_two.quorum)
    return counts


def compress() -> None:
    compressor = TopKCompressor(1000, density=0.05, index_dtype=np.int32)
    indices, values = compressor.compress(np.zeros(1000, np.float32))
    partial4py.sparse_allreduce(indices, values, compressor.size)
    compressor.reset()


def errors() -> str:
    try:
        partial4py.allreduce(np.zeros(3, np.uint8))
    except partial4py.DatatypeError as exc:
        return f"{exc} (code {exc.code})"
    except partial4py.Error as exc:
        return type(exc).__name__
    support = partial4py.cuda_support()
    return support["source"] if partial4py.cuda_aware() else "host only"


def torch_wrapper() -> None:
    import torch

    from partial4py.torch import DistributedOptimizer

    model = torch.nn.Linear(4, 1)
    base = torch.optim.SGD(model.parameters(), lr=0.1)
    with DistributedOptimizer(base, model.parameters(), mode="topk", density=0.1) as opt:
        model(torch.ones(4)).sum().backward()
        opt.step()
        opt.zero_grad()
        opt.flush()
        print(opt.last_contributions)


def quantized_usage(comm: MPI.Intracomm) -> None:
    x = np.ones(100, np.float32)
    y: npt.NDArray[np.float32] = partial4py.quantized_allreduce(x, bits=4, bucket_size=64, seed=1, comm=comm)
    z: npt.NDArray[np.float32] = partial4py.iquantized_allreduce(y, scale="l2").wait()
    partial4py.quantized_allreduce(MPI.IN_PLACE, z)
