"""Device (GPU) buffers: recognising them, checking them, and the stream
their data is ready on.

A device array is anything with ``__cuda_array_interface__`` (CuPy, Numba,
PyTorch CUDA tensors) or whose ``__dlpack_device__()`` is a CUDA device.
The collectives work on a CuPy view of it, so CuPy is imported only once
such an array is passed: the package itself imports without CuPy.
"""
import sys

import numpy as np

from ._binding import ffi
from .errors import DatatypeError, InvalidArgumentError

DLPACK_CUDA = 2  # kDLCUDA in DLPack's DLDeviceType


def is_device_array(obj):
    """Whether obj is an array in GPU memory. Never imports CuPy."""
    if array_module(obj) is not np:
        return True  # a CuPy array, without building its interface dict
    try:
        if hasattr(obj, "__cuda_array_interface__"):
            return True
    except Exception:
        # PyTorch raises RuntimeError, not AttributeError, for a CUDA tensor
        # that requires grad: a device array all the same, which
        # device_view() then rejects with the reason.
        return True
    dlpack_device = getattr(obj, "__dlpack_device__", None)
    if dlpack_device is None:
        return False
    try:
        return dlpack_device()[0] == DLPACK_CUDA
    except Exception:
        return False


def array_module(array):
    """numpy, or cupy for a CuPy array (without importing CuPy otherwise)."""
    cupy = sys.modules.get("cupy")
    if cupy is not None and isinstance(array, cupy.ndarray):
        return cupy
    return np


def cupy_module(name):
    """CuPy, or the error that explains why a GPU array cannot be taken."""
    try:
        import cupy
    except ImportError as exc:
        raise DatatypeError(f"{name} is a GPU array, and GPU arrays need CuPy "
                            f"(pip install cupy-cuda12x or cupy-cuda13x): {exc}") from None
    return cupy


def device_view(obj, name, writable=False):
    """(a CuPy view of obj, the CuPy stream its data is ready on).

    Raises DatatypeError or InvalidArgumentError for what no collective can
    take: arrays CuPy cannot read, arrays on another GPU than the current
    one, non-contiguous arrays and, with writable, read-only ones. The
    dtype is the caller's to check (each collective has its own rules)."""
    cupy = cupy_module(name)
    if isinstance(obj, cupy.ndarray):
        array, stream, read_only = obj, cupy.cuda.get_current_stream(), False
    else:
        array, stream, read_only = _foreign_view(cupy, obj, name)
    _require_current_device(cupy, array.device.id, name)
    if not array.flags.c_contiguous:
        raise InvalidArgumentError(f"{name} is not C-contiguous; pass cupy.ascontiguousarray({name})")
    if writable and read_only:
        raise InvalidArgumentError(f"{name} is read-only")
    return array, stream


def _require_current_device(cupy, device_id, name):
    current = cupy.cuda.runtime.getDevice()
    if device_id != current:
        raise InvalidArgumentError(f"{name} is on GPU {device_id}, but the current device is GPU {current}; "
                                   f"make its device current (cupy.cuda.Device({device_id}).use()) "
                                   "or move the array")


def _foreign_view(cupy, obj, name):
    """(CuPy view, stream, read-only flag) of a non-CuPy device array."""
    try:
        interface = obj.__cuda_array_interface__
    except AttributeError:
        interface = None
    except Exception as exc:
        raise DatatypeError(f"{name} cannot be read as a GPU array: {exc}") from None
    if interface is None:
        _require_current_device(cupy, obj.__dlpack_device__()[1], name)
    try:
        if interface is None:
            # from_dlpack hands the producer CuPy's current stream to order its work before.
            return cupy.from_dlpack(obj), cupy.cuda.get_current_stream(), False
        array = cupy.asarray(obj)
    except Exception as exc:
        raise DatatypeError(f"{name} ({type(obj).__name__}) cannot be read as a CuPy array: {exc}") from None
    # CAI v3: the producer's stream (None or absent: no stream given).
    pointer = interface.get("stream")
    stream = cupy.cuda.get_current_stream() if pointer is None else external_stream(cupy, pointer)
    return array, stream, bool(interface["data"][1])


class _StreamHandle:
    """A raw cudaStream_t in the CUDA stream protocol, which CuPy 14's
    Stream.from_external takes (its ExternalStream is deprecated there)."""

    __slots__ = ("pointer",)

    def __init__(self, pointer):
        self.pointer = pointer

    def __cuda_stream__(self):
        return (0, self.pointer)


def external_stream(cupy, pointer):
    """A CuPy stream object for a raw stream pointer (1 and 2 are CUDA's
    legacy and per-thread default streams)."""
    from_external = getattr(cupy.cuda.Stream, "from_external", None)
    if from_external is not None:
        return from_external(_StreamHandle(pointer))
    return cupy.cuda.ExternalStream(pointer)


def synchronize(*streams):
    """Waits for every distinct stream once: what MPI reads or overwrites
    must no longer be in use by queued GPU work."""
    for stream in {stream.ptr: stream for stream in streams}.values():
        stream.synchronize()


def device_pointer(array):
    return ffi.cast("void *", array.data.ptr)


def mpi_takes_device_pointers():
    # Imported here: detection belongs to mpi_cuda, and a host-only program never asks.
    from .mpi_cuda import cuda_aware
    return cuda_aware()
