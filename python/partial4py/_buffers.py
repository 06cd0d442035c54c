"""Checks on user buffers and their conversion to C pointers."""
import numpy as np

from ._binding import ffi, lib
from .errors import DatatypeError, InvalidArgumentError

DATATYPES = {
    np.dtype(np.int32): lib.LP_INT32,
    np.dtype(np.int64): lib.LP_INT64,
    np.dtype(np.float32): lib.LP_FLOAT32,
    np.dtype(np.float64): lib.LP_FLOAT64,
}

OPS = {"sum": lib.LP_SUM, "prod": lib.LP_PROD, "min": lib.LP_MIN, "max": lib.LP_MAX}


def datatype_of(array, name="buffer"):
    try:
        return DATATYPES[array.dtype]
    except KeyError:
        supported = ", ".join(str(d) for d in DATATYPES)
        raise DatatypeError(f"{name} has dtype {array.dtype}; supported: {supported}") from None


def op_code(op):
    """Accepts 'sum', 'prod', 'min', 'max' or the matching mpi4py ``MPI.Op``."""
    if not isinstance(op, str):
        from mpi4py import MPI
        # MPI.Op is not hashable, so no dict lookup.
        named = [(MPI.SUM, "sum"), (MPI.PROD, "prod"), (MPI.MIN, "min"), (MPI.MAX, "max")]
        op = next((name for mpi_op, name in named if op == mpi_op), repr(op))
    try:
        return OPS[op.lower()]
    except KeyError:
        raise InvalidArgumentError(f"op {op!r} is not one of {sorted(OPS)}") from None


def as_array(obj, name):
    """A NumPy view of obj; TypeError for things that are not arrays."""
    if isinstance(obj, np.ndarray):
        return obj
    if hasattr(obj, "__cuda_array_interface__"):
        raise DatatypeError(f"{name} is a GPU array; GPU buffers are not supported by this build")
    try:
        return np.asarray(memoryview(obj))
    except TypeError:
        raise DatatypeError(f"{name} must be a NumPy array or expose the buffer protocol, "
                            f"not {type(obj).__name__}") from None


def require_contiguous(array, name):
    if not array.flags.c_contiguous:
        raise InvalidArgumentError(f"{name} is not C-contiguous; pass numpy.ascontiguousarray({name})")


def require_writable(array, name):
    if not array.flags.writeable:
        raise InvalidArgumentError(f"{name} is read-only")


def input_pointer(array):
    return ffi.from_buffer(array)


def output_pointer(array):
    return ffi.from_buffer(array, require_writable=True)
