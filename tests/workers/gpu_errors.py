"""Bad GPU input on one rank (the last) to allreduce, sparse_allreduce and
PartialAllreduce, and to the top-k compressor on every rank: every rank
must raise, and the communicator must still work afterwards."""
import cupy
import numpy as np
from mpi4py import MPI

import partial4py
from _gpu_worker import InterfaceOnly, use_own_gpu
from _worker import main, raised, report
from partial4py.compress import TopKCompressor

COUNT = 8


def on_another_gpu(array):
    with cupy.cuda.Device((cupy.cuda.runtime.getDevice() + 1) % cupy.cuda.runtime.getDeviceCount()):
        return cupy.asarray(cupy.asnumpy(array))


def bad_buffers(kind, send, recv):
    """(sendbuf, recvbuf) of the culprit's call, from good ones."""
    return {
        "noncontiguous": lambda: (cupy.repeat(send, 2)[::2], recv),
        "dtype": lambda: (send.astype(cupy.float16), recv),
        "readonly": lambda: (send, InterfaceOnly(recv, read_only=True)),
        "host_recv": lambda: (send, cupy.asnumpy(recv)),
        "recv_size": lambda: (send, recv[:COUNT // 2]),
        "other_gpu": lambda: (on_another_gpu(send), recv),
    }[kind]()


def bad_sparse(kind, indices, values):
    return {
        "out_of_range": lambda: (cupy.asarray([3, 10, 1]), values),
        "negative_index": lambda: (cupy.asarray([3, -1, 1]), values),
        "noncontiguous": lambda: (indices, cupy.repeat(values, 2)[::2]),
        "dtype": lambda: (indices, values.astype(cupy.float16)),
        "host_values": lambda: (indices, cupy.asnumpy(values)),
        "other_gpu": lambda: (on_another_gpu(indices), on_another_gpu(values)),
    }[kind]()


def dense_outcome(kind, culprit):
    send, recv = cupy.arange(COUNT, dtype=cupy.int64), cupy.empty(COUNT, cupy.int64)
    if culprit:
        send, recv = bad_buffers(kind, send, recv)
    return raised(lambda: partial4py.allreduce(send, recv))


def sparse_outcome(kind, culprit, algorithm):
    indices, values = cupy.asarray([3, 1, 3]), cupy.asarray([1.0, 2.0, 3.0], cupy.float32)
    if culprit:
        indices, values = bad_sparse(kind, indices, values)
    return raised(lambda: partial4py.sparse_allreduce(indices, values, 10, algorithm=algorithm).to_dense())


def partial_outcome(kind, culprit, comm):
    """The culprit's third call is bad; the others call until they raise."""
    pa = partial4py.PartialAllreduce(COUNT, dtype=np.int64, comm=comm, mode="sync", timeout=30)
    good = (cupy.ones(COUNT, cupy.int64), cupy.empty(COUNT, cupy.int64))

    def calls():
        for call in range(20):
            send, recv = bad_buffers(kind, *good) if culprit and call == 2 else good
            pa.allreduce(send, recv)
    outcome = raised(calls)
    pa.close()
    return outcome


def compress_outcome(kind):
    gradient = cupy.ones(COUNT, cupy.float32)
    gradient = on_another_gpu(gradient) if kind == "other_gpu" else cupy.repeat(gradient, 2)[::2]
    return raised(lambda: TopKCompressor(COUNT, k=2).compress(gradient))


def body(args):
    use_own_gpu()
    comm = MPI.COMM_WORLD
    culprit = comm.Get_rank() == comm.Get_size() - 1
    outcomes = {f"dense-{kind}": dense_outcome(kind, culprit) for kind in args["dense"]}
    outcomes.update({f"sparse-{kind}-{algorithm}": sparse_outcome(kind, culprit, algorithm)
                     for kind in args["sparse"] for algorithm in ("auto", "allgather")})
    outcomes.update({f"partial-{kind}": partial_outcome(kind, culprit, comm) for kind in args["partial"]})
    outcomes.update({f"compress-{kind}": compress_outcome(kind) for kind in args["compress"]})
    after = partial4py.allreduce(cupy.ones(3, cupy.int64))
    report(outcomes=outcomes, healthy=bool((after == comm.Get_size()).all()))


main(body)
