"""Gradient compression with error feedback: top-k sparsification for
:func:`partial4py.sparse_allreduce`, and QSGD quantization for
:func:`partial4py.quantized_allreduce`.


Top-k: each step sends only the k entries of largest magnitude of
``residual + gradient``; what was not sent stays in the residual and is
added back at the next step, so no part of any gradient is ever dropped,
only delayed. The output feeds :func:`partial4py.sparse_allreduce`.

Works on NumPy arrays, and on GPU arrays (CuPy, or anything CuPy can
view: Numba device arrays, PyTorch CUDA tensors) where CuPy is installed:
selection and residual then stay on the GPU, and the output is CuPy
arrays on the gradient's device.
"""
import numpy as np

from ._arguments import INT64_MAX, integer, real
from ._buffers import HOST, acquire, supported_dtype
from ._comm import agree_on, lib_comm
from .quantized import _bit_width, _scale_code, iquantized_allreduce
from ._gpu import array_module
from .errors import DatatypeError, InvalidArgumentError

__all__ = ["TopKCompressor", "QSGDCompressor", "array_module"]


def _same_memory(a, b):
    """Whether two arrays are both on the host or both on one GPU."""
    module = array_module(a)
    return module is array_module(b) and (module is np or a.device.id == b.device.id)


class TopKCompressor:
    """Keeps the residual of one flat gradient of ``size`` elements.

    ``density`` (fraction of entries sent per step) or ``k`` chooses how many
    entries :meth:`compress` returns. Indices are sorted ascending, of
    ``index_dtype`` (int32 halves their bytes when size < 2**31).
    """

    def __init__(self, size, density=0.01, k=None, dtype=np.float32, index_dtype=np.int64):
        # Local: no rank's compressor depends on another's.
        size = integer(size, "size", 1, INT64_MAX)
        if k is None:
            density = real(density, "density")
            if not 0 < density <= 1:
                raise InvalidArgumentError(f"density must be in (0, 1], got {density}")
            k = max(1, int(round(size * density)))
        k = integer(k, "k", 1, size)
        self.index_dtype = supported_dtype(index_dtype, "index_dtype", (np.dtype(np.int32), np.dtype(np.int64)))
        if self.index_dtype == np.int32 and size > np.iinfo(np.int32).max:
            raise InvalidArgumentError(f"size {size} needs int64 indices")
        self.size, self.k, self.dtype = size, k, supported_dtype(dtype)
        self.residual = None  # allocated on the gradient's device at the first step

    def compress(self, gradient):
        """Returns (indices, values) to send for this step's gradient."""
        # A CuPy view orders its work after the producer's stream.
        gradient = acquire(gradient, "gradient").array
        if not gradient.flags.c_contiguous:
            # reshape(-1) would copy it silently, every step
            raise InvalidArgumentError("gradient is not C-contiguous; pass numpy.ascontiguousarray(gradient)")
        xp = array_module(gradient)
        flat = gradient.reshape(-1)
        if flat.size != self.size:
            raise InvalidArgumentError(f"gradient has {flat.size} elements, compressor {self.size}")
        if flat.dtype != self.dtype:
            raise DatatypeError(f"gradient has dtype {flat.dtype}, compressor {self.dtype}")
        if self.residual is None:
            self.residual = xp.zeros(self.size, self.dtype)
        elif not _same_memory(self.residual, flat):
            raise InvalidArgumentError("gradient is not in the memory the residual is in (the host, or which GPU); "
                                       "call reset() first to move the compressor")
        accumulated = self.residual
        accumulated += flat
        if self.k == self.size:
            indices = xp.arange(self.size, dtype=self.index_dtype)
        else:
            indices = xp.argpartition(xp.abs(accumulated), self.size - self.k)[self.size - self.k:]
            indices = xp.sort(indices).astype(self.index_dtype)
        values = accumulated[indices]
        accumulated[indices] = 0  # sent: no longer owed
        return indices, values

    def reset(self):
        """Forgets the residual (e.g. after loading a checkpoint)."""
        self.residual = None


class QSGDCompressor:
    """Sums one flat gradient of ``size`` elements over the ranks with
    :func:`partial4py.quantized_allreduce` (``bits``, ``bucket_size``,
    ``scale``, ``seed`` as there), keeping this rank's rounding error when
    ``error_feedback`` is true: it is added to the next step's gradient, so
    that no part of any gradient is lost, only delayed (the residuals of all
    ranks sum to what the result missed). Without it each result is an
    unbiased estimate of the exact sum. Error feedback suits 4 and 8 bits:
    at 2 bits (ternary) the rounding's variance can exceed the gradient's
    size, and fed back the residual grows. Host (NumPy) gradients; one call
    in flight at a time.
    """

    def __init__(self, size, bits=8, bucket_size=512, dtype=np.float32, scale="max", seed=0, error_feedback=False):
        self.size = integer(size, "size", 1, INT64_MAX)
        self.bits = _bit_width(bits)
        self.bucket_size = integer(bucket_size, "bucket_size", 1, INT64_MAX)
        _scale_code(scale)
        self.scale, self.seed = scale, integer(seed, "seed", 0, 2**64 - 1)
        self.dtype = supported_dtype(dtype, "dtype", (np.dtype(np.float32), np.dtype(np.float64)))
        self.error_feedback = bool(error_feedback)
        self.residual = np.zeros(self.size, self.dtype) if self.error_feedback else None
        self._send = np.empty(self.size, self.dtype) if self.error_feedback else None

    def _input(self, gradient):
        """What this step sends: the gradient, plus the residual with error feedback."""
        acquired = acquire(gradient, "gradient")
        if acquired.kind != HOST:
            raise DatatypeError("QSGDCompressor takes host (NumPy) gradients")
        flat = acquired.array
        if not flat.flags.c_contiguous:
            raise InvalidArgumentError("gradient is not C-contiguous; pass numpy.ascontiguousarray(gradient)")
        flat = flat.reshape(-1)
        if flat.size != self.size:
            raise InvalidArgumentError(f"gradient has {flat.size} elements, compressor {self.size}")
        if flat.dtype != self.dtype:
            raise DatatypeError(f"gradient has dtype {flat.dtype}, compressor {self.dtype}")
        if not self.error_feedback:
            return flat
        np.add(flat, self.residual, out=self._send)
        return self._send

    def iallreduce(self, gradient, recvbuf=None, *, comm=None):
        """Collective: starts the sum of every rank's gradient; returns a
        :class:`partial4py.Request` whose ``wait()`` returns it."""
        # The local checks are agreed, so that a bad gradient on one rank raises on every rank.
        send = agree_on(lib_comm(comm), lambda: self._input(gradient))
        return iquantized_allreduce(send, recvbuf, bits=self.bits, bucket_size=self.bucket_size, seed=self.seed,
                                    scale=self.scale, residual=self.residual, comm=comm)

    def allreduce(self, gradient, recvbuf=None, *, comm=None):
        """Collective: the sum of every rank's gradient (see iallreduce)."""
        return self.iallreduce(gradient, recvbuf, comm=comm).wait()

    def reset(self):
        """Forgets the residual (e.g. after loading a checkpoint)."""
        if self.residual is not None:
            self.residual[...] = 0
