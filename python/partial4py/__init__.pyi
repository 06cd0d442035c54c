from . import errors as errors
from ._request import Request as Request, waitall as waitall, waitany as waitany
from .dense import allreduce as allreduce, iallreduce as iallreduce
from .errors import (ClosedError as ClosedError, DatatypeError as DatatypeError, Error as Error,
                     IndexOutOfRangeError as IndexOutOfRangeError, InternalError as InternalError,
                     InvalidArgumentError as InvalidArgumentError, MismatchError as MismatchError,
                     MPIError as MPIError, MPILibraryMismatchError as MPILibraryMismatchError,
                     OutOfMemoryError as OutOfMemoryError, TimeoutError as TimeoutError,
                     UnsupportedError as UnsupportedError)
from .mpi_cuda import cuda_aware as cuda_aware, cuda_support as cuda_support
from .partial import PartialAllreduce as PartialAllreduce, PartialInfo as PartialInfo
from .quantized import iquantized_allreduce as iquantized_allreduce, quantized_allreduce as quantized_allreduce
from .sparse import SparseResult as SparseResult, isparse_allreduce as isparse_allreduce, \
    sparse_allreduce as sparse_allreduce

__version__: str

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
