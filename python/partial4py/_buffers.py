"""Checks on user buffers and their conversion to C pointers."""
import numpy as np

from ._binding import ffi, lib
from ._gpu import is_device_array
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


def supported_dtype(dtype, name="dtype", supported=DATATYPES):
    """np.dtype(dtype), if it is among supported (by default the ones the collectives reduce)."""
    try:
        dt = np.dtype(dtype)
    except Exception:  # TypeError for an unknown name, ValueError or others for odd specs
        raise DatatypeError(f"{name} {dtype!r} is not a NumPy dtype") from None
    if dt not in supported:
        raise DatatypeError(f"{name} {dt} is not supported; supported: {', '.join(str(d) for d in supported)}")
    return dt


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
    """A NumPy view of obj; TypeError for things that are not arrays.

    GPU arrays go through the collectives' device paths, which take their
    first buffer argument on the GPU; here one is a mix of host and GPU."""
    if isinstance(obj, np.ndarray):
        return obj
    if is_device_array(obj):
        raise DatatypeError(f"{name} is a GPU array but an earlier buffer argument is on the host; "
                            "pass all buffers of a call on the GPU or all on the host")
    try:
        view = memoryview(obj)
    except TypeError:
        raise DatatypeError(f"{name} must be a NumPy array or expose the buffer protocol, "
                            f"not {type(obj).__name__}") from None
    except (ValueError, BufferError) as exc:  # the object's buffer export failed
        raise DatatypeError(f"{name} ({type(obj).__name__}) did not give its buffer: {exc}") from None
    try:
        return np.asarray(view)
    except (TypeError, ValueError, NotImplementedError) as exc:
        raise DatatypeError(f"{name}'s buffer (format {view.format!r}) is not an array NumPy can read: "
                            f"{exc}") from None


def require_matching(recv, send, recv_name="recvbuf", send_name="sendbuf"):
    """The checks of an output array against its input (NumPy or CuPy)."""
    if recv.dtype != send.dtype:
        raise DatatypeError(f"{recv_name} has dtype {recv.dtype}, {send_name} {send.dtype}")
    if recv.size != send.size:
        raise InvalidArgumentError(f"{recv_name} has {recv.size} elements, {send_name} {send.size}")


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
