"""Where CuPy is not installed: the last rank passes an object with a
__cuda_array_interface__ (as a GPU array from any library has) to each
collective; every rank must raise, and the communicator must still work."""
import numpy as np
from mpi4py import MPI

import partial4py
from _worker import main, raised, report
from partial4py.compress import TopKCompressor


class ForeignGPUArray:
    """The interface of a 4-element float32 GPU array (never dereferenced:
    without CuPy the library must refuse it before touching the pointer)."""

    __cuda_array_interface__ = {"shape": (4,), "typestr": "<f4", "data": (0, False), "version": 3, "strides": None}


def body(args):
    comm = MPI.COMM_WORLD
    culprit = comm.Get_rank() == comm.Get_size() - 1
    host = np.ones(4, np.float32)
    gpu = ForeignGPUArray() if culprit else host
    indices = np.arange(4)
    outcomes = {
        "allreduce": raised(lambda: partial4py.allreduce(gpu)),
        "allreduce_recvbuf": raised(lambda: partial4py.allreduce(host, gpu)),
        "iallreduce": raised(lambda: partial4py.iallreduce(gpu).wait()),
        "sparse_allreduce": raised(lambda: partial4py.sparse_allreduce(indices, gpu, 4)),
        "compress": raised(lambda: TopKCompressor(4, k=1).compress(ForeignGPUArray())),
    }
    with partial4py.PartialAllreduce(4, dtype=np.float32, mode="sync", timeout=30) as pa:
        outcomes["partial"] = raised(lambda: pa.allreduce(gpu))
    after = partial4py.allreduce(np.ones(3, np.int64))
    report(outcomes=outcomes, healthy=bool((after == comm.Get_size()).all()))


main(body)
