"""Top-k gradient sparsification with error feedback.

Each step sends only the k entries of largest magnitude of
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
from ._buffers import acquire, supported_dtype
from ._gpu import array_module
from .errors import DatatypeError, InvalidArgumentError

__all__ = ["TopKCompressor", "array_module"]


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
