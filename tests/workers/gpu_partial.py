"""PartialAllreduce with CuPy buffers: allreduce into a GPU recvbuf, start,
in-place and foreign (CUDA Array Interface) calls, a flush into a GPU
recvbuf. Results must be CuPy arrays on this GPU and exact: in sync mode
each round is the sum of every rank's call, and in every mode the rounds
and the flush add up to every contribution. Round metadata and digests go
back to the launcher, which checks that every rank saw the same rounds."""
import cupy
import numpy as np

import partial4py
from _gpu_worker import InterfaceOnly, on_this_gpu, use_own_gpu
from _worker import digest, main, run_cases


def contribution(rank, call, count, dtype):
    """Small integers: every sum is exact in float32 too."""
    return ((np.arange(count) + 7 * rank + call) % 11).astype(dtype)


def one_call(pa, call, send, recv):
    kind = call % 4
    if kind == 0:
        info = pa.allreduce(send, recv)
        assert info.result is recv
    elif kind == 1:
        info = pa.start(send).wait()
    elif kind == 2:
        info = pa.allreduce(send, send)
        assert info.result is send
    else:
        info = pa.allreduce(InterfaceOnly(send))
    return info


def run(spec, comm):
    rank, size = comm.Get_rank(), comm.Get_size()
    mode, calls, count, dtype = spec["mode"], spec["calls"], spec["count"], np.dtype(spec["dtype"])
    rounds, total = [], np.zeros(count)
    recv = cupy.empty(count, dtype)
    with partial4py.PartialAllreduce(count, dtype=dtype, comm=comm, mode=mode, timeout=60) as pa:
        for call in range(calls):
            send = cupy.asarray(contribution(rank, call, count, dtype))
            info = one_call(pa, call, send, recv)
            result = on_this_gpu(info.result)
            if mode == "sync":
                expected = sum(contribution(r, call, count, dtype) for r in range(size))
                assert digest(result) == digest(expected.astype(dtype)), (call, result, expected)
            total += result
            rounds.append([info.round, info.contributions, info.fresh, digest(result)])
        flushed = cupy.empty(count, dtype)
        info = pa.flush(flushed)
        assert info.result is flushed
        total += on_this_gpu(flushed)
        rounds.append([info.round, info.contributions, info.fresh, digest(on_this_gpu(flushed))])
    everything = sum(contribution(r, c, count, dtype) for r in range(size) for c in range(calls))
    np.testing.assert_array_equal(total, everything)  # nothing lost, nothing counted twice
    return rounds


def body(args):
    use_own_gpu()
    run_cases(args, run)  # each case's "digests": its rounds


main(body)
