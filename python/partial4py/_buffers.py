"""Checks on user buffers and their conversion to C pointers."""
import numpy as np
from mpi4py import MPI

from ._binding import ffi, lib
from ._gpu import DLPACK_CUDA, device_view, is_device_array
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


HOST, DEVICE = "host", "device"
_DLPACK_CPU = 1  # kDLCPU in DLPack's DLDeviceType


class Acquired:
    """A user buffer as the collectives take it: ``kind`` HOST with
    ``array`` a NumPy view of its memory (``stream`` None), or DEVICE with
    ``array`` a CuPy view and ``stream`` the CuPy stream its data is ready
    on. Never a copy: results written to ``array`` land in the caller's
    object."""

    __slots__ = ("kind", "array", "stream")

    def __init__(self, kind, array, stream=None):
        self.kind, self.array, self.stream = kind, array, stream


def acquire(obj, name, writable=False):
    """Acquires obj, trying in order: the host buffer protocol (NumPy arrays,
    memoryview-able objects), DLPack (a CPU array becomes a NumPy view, a
    CUDA one a CuPy view), ``__cuda_array_interface__``.

    Raises DatatypeError for what is none of these, or what the one it
    claims cannot give. Device arrays are checked by _gpu.device_view (their
    GPU, contiguity and, with writable, that they are not read-only); host
    arrays' layout is the caller's to check (each collective has its own
    rules), as is every dtype."""
    if isinstance(obj, np.ndarray):  # the hot path
        return Acquired(HOST, obj)
    host = _buffer_protocol(obj, name)
    if host is not None:
        return Acquired(HOST, host)
    device_type = _dlpack_device_type(obj)
    if device_type == _DLPACK_CPU:
        return Acquired(HOST, _from_dlpack(obj, name))
    if device_type is not None and device_type != DLPACK_CUDA:
        raise DatatypeError(f"{name} ({type(obj).__name__}) is on DLPack device type {device_type}; "
                            "partial4py takes host (CPU) and CUDA arrays")
    if device_type == DLPACK_CUDA or is_device_array(obj):
        return Acquired(DEVICE, *device_view(obj, name, writable))
    raise DatatypeError(f"{name} must be a NumPy array, expose the buffer protocol, DLPack or "
                        f"__cuda_array_interface__, not {type(obj).__name__}")


def acquire_like(first, obj, name, writable=False):
    """acquire() of a later buffer of a call whose first buffer is first: a
    call takes all its buffers on the host or all on the GPU."""
    acquired = acquire(obj, name, writable)
    if acquired.kind != first.kind:
        where = "a GPU array" if acquired.kind == DEVICE else "not a GPU array"
        earlier = "on the host" if first.kind == HOST else "on the GPU"
        raise DatatypeError(f"{name} is {where}, but an earlier buffer argument is {earlier}; "
                            "pass all buffers of a call on the GPU or all on the host")
    return acquired


def acquire_call(sendbuf, recvbuf):
    """(send, recv or None, the name of the input) of a call taking
    ``sendbuf`` and an optional ``recvbuf``, as Acquired.

    ``sendbuf=MPI.IN_PLACE`` is MPI's in-place spelling: recvbuf holds the
    input and receives the result, so it is required, and send is recv."""
    if sendbuf is MPI.IN_PLACE:
        if recvbuf is None:
            raise InvalidArgumentError("sendbuf is MPI.IN_PLACE, which needs recvbuf: it holds this rank's input "
                                       "and receives the result")
        recv = acquire(recvbuf, "recvbuf", writable=True)
        return recv, recv, "recvbuf"
    send = acquire(sendbuf, "sendbuf")
    recv = None if recvbuf is None else acquire_like(send, recvbuf, "recvbuf", writable=True)
    return send, recv, "sendbuf"


class HostReduction:
    """The reduction interface of _staging.StagedReduction for host arrays,
    which the C core reads and writes where they are. ``send`` may be None
    (a flush)."""

    __slots__ = ("recv", "send_pointer", "recv_pointer")

    def __init__(self, send, recv):
        self.recv = recv
        # Equal pointers mean in place: the C core then passes MPI_IN_PLACE.
        self.send_pointer = None if send is None else input_pointer(send)
        self.recv_pointer = output_pointer(recv)

    def result(self):
        return self.recv

    def release(self):
        pass


def _buffer_protocol(obj, name):
    """A NumPy view through the buffer protocol; None for an object without it."""
    try:
        view = memoryview(obj)
    except TypeError:
        return None
    except (ValueError, BufferError) as exc:  # the object has the protocol, but its export failed
        raise DatatypeError(f"{name} ({type(obj).__name__}) did not give its buffer: {exc}") from None
    try:
        return np.asarray(view)
    except (TypeError, ValueError, NotImplementedError) as exc:
        raise DatatypeError(f"{name}'s buffer (format {view.format!r}) is not an array NumPy can read: "
                            f"{exc}") from None


def _dlpack_device_type(obj):
    dlpack_device = getattr(obj, "__dlpack_device__", None)
    if dlpack_device is None or not hasattr(obj, "__dlpack__"):
        return None
    try:
        return int(dlpack_device()[0])
    except Exception:
        return None


def _from_dlpack(obj, name):
    """A zero-copy NumPy view of a CPU DLPack array (a CPU torch tensor, say)."""
    try:
        return np.from_dlpack(obj)
    except Exception as exc:  # e.g. torch's RuntimeError for a tensor that requires grad
        raise DatatypeError(f"{name} ({type(obj).__name__}) did not give its DLPack buffer: {exc}") from None


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
