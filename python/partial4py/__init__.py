"""partial4py: partial and sparse allreduce for mpi4py programs.

Every collective takes an mpi4py intracommunicator (``comm=None`` means
``MPI.COMM_WORLD``) and NumPy arrays, or GPU arrays (CuPy, or anything with
``__cuda_array_interface__`` or DLPack; see docs/gpu.md), whose results come
back on their GPU. Errors are :class:`Error` subclasses, raised on every
rank of the communicator.
"""
from .dense import allreduce, iallreduce
from .errors import (ClosedError, DatatypeError, Error, IndexOutOfRangeError, InternalError,
                     InvalidArgumentError, MismatchError, MPIError, MPILibraryMismatchError,
                     OutOfMemoryError, TimeoutError, UnsupportedError)
from ._request import Request, waitall, waitany
from .sparse import SparseResult, isparse_allreduce, sparse_allreduce
from .partial import PartialAllreduce, PartialInfo
from .quantized import iquantized_allreduce, quantized_allreduce
from .mpi_cuda import cuda_aware, cuda_support

from ._binding import ffi as _ffi, lib as _lib


def _library_version():
    """The loaded C library's version: the build writes one number into the
    library, its header and this distribution's metadata alike."""
    parts = _ffi.new("int[3]")
    _lib.lp_get_version(parts, parts + 1, parts + 2)
    return f"{parts[0]}.{parts[1]}.{parts[2]}"


__version__ = _library_version()

__all__ = [
    "allreduce", "iallreduce", "Request", "waitall", "waitany",
    "sparse_allreduce", "isparse_allreduce", "SparseResult",
    "PartialAllreduce", "PartialInfo",
    "quantized_allreduce", "iquantized_allreduce",
    "cuda_aware", "cuda_support",
    "Error", "InvalidArgumentError", "DatatypeError", "MismatchError", "IndexOutOfRangeError",
    "OutOfMemoryError", "TimeoutError", "ClosedError", "MPIError", "UnsupportedError",
    "InternalError", "MPILibraryMismatchError",
]
