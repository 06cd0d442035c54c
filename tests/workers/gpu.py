"""CuPy input through allreduce, iallreduce, sparse_allreduce,
TopKCompressor and quantized_allreduce, each checked on the rank against the same data through the
NumPy path: equal bit for bit where the arithmetic is exact (integer values,
or the same additions in the same order), else within rounding. Digests go
back to the launcher, which checks that every rank got the same bits."""
import cupy
import numpy as np

import partial4py
from _gpu_worker import DLPackOnly, InterfaceOnly, on_this_gpu, use_own_gpu
from _worker import digest, main, rank_input, run_cases
from partial4py._gpu import mpi_takes_device_pointers
from partial4py._staging import pinned_bytes
from partial4py.compress import TopKCompressor

SPARSE_ALGORITHMS = ["recursive_doubling", "split_allgather", "dsar", "allgather", "dense", "auto"]


def check_same(ours, reference, exact):
    """ours (from the GPU) against reference (from NumPy); returns the digest."""
    assert ours.dtype == reference.dtype and ours.shape == reference.shape, (ours.dtype, ours.shape)
    if exact:
        assert digest(ours) == digest(reference), "GPU result differs from the NumPy path's bits"
    else:
        # Within the rounding of values up to 1000 (the sparse worker's bounds).
        np.testing.assert_allclose(ours, reference, rtol=1e-5, atol=2e-2 if ours.dtype == np.float32 else 1e-9)
    return digest(ours)


def values_of(case, array):
    return array.round() if case["values"] == "integers" and array.dtype.kind == "f" else array


def device_allreduce(form, host, op, comm):
    """The GPU call of one form on host's data; returns the result array."""
    send = cupy.asarray(host)
    if form == "blocking":
        return partial4py.allreduce(send, op=op, comm=comm)
    if form == "in_place":
        assert partial4py.allreduce(send, send, op=op, comm=comm) is send
        return send
    if form == "nonblocking":
        request = partial4py.iallreduce(send, cupy.empty_like(send), op=op, comm=comm)
        while not request.test():
            pass
        return request.wait()
    if form == "interface":
        recv = cupy.empty_like(send)
        partial4py.allreduce(InterfaceOnly(send), InterfaceOnly(recv), op=op, comm=comm)
        return recv
    if form == "dlpack":
        return partial4py.iallreduce(DLPackOnly(send), op=op, comm=comm).wait()
    raise AssertionError(form)


def dense_case(case, comm):
    dtype, op = np.dtype(case["dtype"]), case["op"]
    low, high = (-3, 3) if op == "prod" else (-1000, 1000)
    host = values_of(case, rank_input(case["seed"], comm.Get_rank(), case["count"], dtype, low, high))
    reference = partial4py.allreduce(host, op=op, comm=comm)
    if case["form"] == "own_stream":
        # Written and reduced on a stream that does not wait for the default one.
        with cupy.cuda.Stream(non_blocking=True):
            send = cupy.asarray(host) * 1
            ours = on_this_gpu(partial4py.allreduce(send, op=op, comm=comm))
    else:
        ours = on_this_gpu(device_allreduce(case["form"], host, op, comm))
    # The same bytes through the same MPI call when staged; a CUDA-aware MPI
    # may reduce device memory in another order.
    exact = case["values"] == "integers" or dtype.kind == "i" or not mpi_takes_device_pointers()
    return [check_same(ours, reference, exact)]


def sparse_input(case, rank):
    """Unsorted, with repeats (some ranks may hold none)."""
    rng = np.random.default_rng([case["seed"], rank])
    nnz = int(case["density"] * case["size"] * rng.uniform(0.5, 1.5))
    indices = rng.integers(0, case["size"], nnz).astype(case["index_dtype"])
    values = values_of(case, rng.uniform(-1000, 1000, nnz)).astype(case["dtype"])
    return indices, values


def sparse_case(case, comm):
    indices, values = sparse_input(case, comm.Get_rank())
    digests = []
    for algorithm in SPARSE_ALGORITHMS:
        reference = partial4py.sparse_allreduce(indices, values, case["size"], comm=comm, algorithm=algorithm)
        call = partial4py.isparse_allreduce if case["nonblocking"] else partial4py.sparse_allreduce
        ours = call(cupy.asarray(indices), cupy.asarray(values), case["size"], comm=comm, algorithm=algorithm)
        ours = ours.wait() if case["nonblocking"] else ours
        # auto chooses from the entry count, which the GPU's compaction lowers,
        # so it may choose another algorithm, which rounds differently.
        exact = case["values"] == "integers" or algorithm != "auto"
        if algorithm != "auto":
            assert (ours.algorithm, ours.is_dense) == (reference.algorithm, reference.is_dense)
            if not ours.is_dense:
                check_same(on_this_gpu(ours.indices), reference.indices, True)
        on_this_gpu(ours.values)
        digests.append(check_same(on_this_gpu(ours.to_dense()), reference.to_dense(), exact))
    return digests


def topk_case(case, comm):
    """Compression on the GPU selects and keeps what it does on the host."""
    rng = np.random.default_rng([case["seed"], comm.Get_rank()])
    size, dtype = case["size"], np.dtype(case["dtype"])
    on_host = TopKCompressor(size, density=case["density"], dtype=dtype, index_dtype=case["index_dtype"])
    on_gpu = TopKCompressor(size, density=case["density"], dtype=dtype, index_dtype=case["index_dtype"])
    digests = []
    for step in range(case["steps"]):
        gradient = rng.standard_normal(size).astype(dtype)
        reference = on_host.compress(gradient)
        given = cupy.asarray(gradient)
        ours = on_gpu.compress(InterfaceOnly(given) if step % 2 else given)
        for mine, theirs in zip(ours, reference):
            check_same(on_this_gpu(mine), theirs, True)
        check_same(on_this_gpu(on_gpu.residual), on_host.residual, True)
        summed = partial4py.sparse_allreduce(*ours, size, comm=comm, algorithm="allgather").to_dense()
        expected = partial4py.sparse_allreduce(*reference, size, comm=comm, algorithm="allgather").to_dense()
        digests.append(check_same(on_this_gpu(summed), expected, True))
    return digests


def quantized_case(case, comm):
    """The quantized allreduce of a CuPy array (staged through the host) gives
    the NumPy path's bits. Each runs as the first call on a fresh duplicate
    of comm, so both draw the same random numbers."""
    host = rank_input(case["seed"], comm.Get_rank(), case["count"], case["dtype"])
    options = {"bits": case["bits"], "bucket_size": case["bucket_size"], "seed": case["seed"]}
    digests = []
    for nonblocking in (False, True):
        on_host, on_gpu = comm.Dup(), comm.Dup()
        try:
            reference = partial4py.quantized_allreduce(host, comm=on_host, **options)
            send = cupy.asarray(host)
            if nonblocking:
                ours = partial4py.iquantized_allreduce(send, comm=on_gpu, **options).wait()
            else:
                ours = partial4py.quantized_allreduce(send, comm=on_gpu, **options)
            assert isinstance(ours, cupy.ndarray)
            digests.append(check_same(on_this_gpu(ours), reference, True))
        finally:
            on_host.Free()
            on_gpu.Free()
    return digests


CASES = {"dense": dense_case, "sparse": sparse_case, "topk": topk_case, "quantized": quantized_case}


def body(args):
    use_own_gpu()
    pinned = {}

    def run_case(case, comm):
        digests = CASES[case["family"]](case, comm)
        pinned[case["family"]] = pinned_bytes()  # the pool after this family's cases so far
        return digests
    run_cases(args, run_case, pinned=pinned, cuda_aware=mpi_takes_device_pointers())


main(body)
