"""Sparse allreduce (SparCML style): the sum over ranks of sparse vectors
given as (indices, values), exact and bit-identical on every rank."""
import math

import numpy as np

from ._arguments import INT32_MAX, INT64_MAX, integer, real
from ._binding import check, ffi, lib
from ._buffers import (DATATYPES, DEVICE, acquire, acquire_like, datatype_of, input_pointer, require_contiguous,
                       supported_dtype)
from ._comm import agree_on, lib_comm
from ._gpu import array_module
from ._keywords import keyword_only
from ._request import Request
from .errors import DatatypeError, InvalidArgumentError

INDEX_DATATYPES = {np.dtype(np.int32): lib.LP_INT32, np.dtype(np.int64): lib.LP_INT64}
ALGORITHMS = {ffi.string(lib.lp_sparse_algorithm_name(code)).decode(): code
              for code in range(lib.LP_SPARSE_NUM_ALGORITHMS)}
_ALGORITHM_NAMES = {code: name for name, code in ALGORITHMS.items()}


class SparseResult:
    """The sum: sorted unique ``indices`` with their ``values``, or, when it
    has filled in, a dense ``values`` array of ``size`` elements (then
    ``is_dense`` is True and ``indices`` is None). ``algorithm`` names the
    algorithm that computed it. The arrays are NumPy arrays, or CuPy arrays
    on the input's device for GPU input."""

    __slots__ = ("indices", "values", "is_dense", "size", "algorithm")

    def __init__(self, handle, index_dtype):
        datatype = lib.lp_sparse_result_datatype(handle)
        dtype = next(d for d, code in DATATYPES.items() if code == datatype)
        self.size = lib.lp_sparse_result_size(handle)
        self.is_dense = bool(lib.lp_sparse_result_is_dense(handle))
        self.algorithm = _ALGORITHM_NAMES[lib.lp_sparse_result_algorithm(handle)]
        count = lib.lp_sparse_result_nnz(handle)
        self.values = _view(handle, lib.lp_sparse_result_values(handle), count, dtype)
        if self.is_dense:
            self.indices = None
        else:
            wide = _view(handle, lib.lp_sparse_result_indices(handle), count, np.int64)
            self.indices = wide if index_dtype == np.int64 else wide.astype(index_dtype)

    def to_dense(self):
        """The sum as a dense array of ``size`` elements (``values`` itself
        when the result is dense), on the device of ``values``."""
        if self.is_dense:
            return self.values
        dense = array_module(self.values).zeros(self.size, self.values.dtype)
        dense[self.indices] = self.values
        return dense

    def __repr__(self):
        form = "dense" if self.is_dense else f"{self.values.size} nonzeros"
        return f"<SparseResult size={self.size} {form} dtype={self.values.dtype} algorithm={self.algorithm}>"


def _view(handle, pointer, count, dtype):
    """A NumPy array over memory that the C result owns, without a copy.

    The array's buffer holds a cdata whose (no-op) destructor closes over
    the result handle, so the C result is freed only when the last array
    that uses it is gone."""
    dtype = np.dtype(dtype)
    if count == 0:
        return np.empty(0, dtype)
    owner = ffi.gc(ffi.cast("char *", pointer), lambda _, keep=handle: None)
    return np.frombuffer(ffi.buffer(owner, count * dtype.itemsize), dtype)


class _HostInput:
    """The host path's counterpart of _gpu_sparse.DeviceInput: the checked
    arguments of a call on NumPy arrays, whose result stays on the host."""

    __slots__ = ("checked",)

    def __init__(self, checked):
        self.checked = checked

    def release(self):
        pass

    def place(self, result):
        return result


def _prepare(indices, values, size, algorithm, density_threshold):
    """The checked input of a call: a _HostInput, or for GPU arrays a
    _gpu_sparse.DeviceInput."""
    index_buffer = acquire(indices, "indices")
    value_buffer = acquire_like(index_buffer, values, "values")
    if index_buffer.kind == DEVICE:
        from . import _gpu_sparse  # here, not at the top: it builds on this module
        return _gpu_sparse.prepare(index_buffer, value_buffer, size, algorithm, density_threshold)
    index_array, value_array = index_buffer.array, value_buffer.array
    checked = check_arguments(index_array, value_array, size, algorithm, density_threshold)
    require_contiguous(index_array, "indices")
    require_contiguous(value_array, "values")
    return _HostInput(checked)


def check_arguments(index_array, value_array, size, algorithm, density_threshold):
    """The checks of a call on its arrays (NumPy or CuPy), but contiguity.
    Returns (index_array, index datatype, value_array, datatype, size,
    algorithm code, threshold)."""
    if index_array.dtype not in INDEX_DATATYPES:
        raise DatatypeError(f"indices have dtype {index_array.dtype}; supported: int32, int64")
    datatype = datatype_of(value_array, "values")
    if index_array.ndim != 1 or value_array.ndim != 1:
        raise InvalidArgumentError("indices and values must be one-dimensional")
    if index_array.size != value_array.size:
        raise InvalidArgumentError(f"indices has {index_array.size} elements, values {value_array.size}")
    size = integer(size, "size", 0, INT64_MAX)
    return (index_array, INDEX_DATATYPES[index_array.dtype], value_array, datatype, size,
            _algorithm_code(algorithm), _threshold(density_threshold))


def _algorithm_code(algorithm):
    if not isinstance(algorithm, str) or algorithm not in ALGORITHMS:
        raise InvalidArgumentError(f"algorithm {algorithm!r} is not one of {sorted(ALGORITHMS)}")
    return ALGORITHMS[algorithm]


def _threshold(density_threshold):
    """The C core's density_threshold: 0.0 (its default) for None."""
    if density_threshold is None:
        return 0.0
    threshold = real(density_threshold, "density_threshold")
    if not 0.0 <= threshold < float("inf"):
        raise InvalidArgumentError(f"density_threshold {density_threshold!r} must be a finite number >= 0")
    return threshold


def _arguments(comm, indices, values, size, algorithm, density_threshold):
    """(the C call's arguments, the index dtype of the result, the call's input)."""
    handle = lib_comm(comm)
    call_input = agree_on(handle, lambda: _prepare(indices, values, size, algorithm, density_threshold))
    index_array, index_type, value_array, datatype, size, code, threshold = call_input.checked
    return (input_pointer(index_array), index_type, input_pointer(value_array), datatype, value_array.size, size,
            code, threshold, handle), index_array.dtype, call_input


@keyword_only
def sparse_allreduce(indices, values, size, *, comm=None, algorithm="auto", density_threshold=None):
    """Sums the sparse vectors ``(indices, values)`` of every rank of ``comm``.

    ``indices`` (int32 or int64) may be unsorted and repeat (repeats are
    summed); each must lie in ``[0, size)``. ``values`` are float32, float64,
    int32 or int64. ``algorithm`` is 'auto', 'recursive_doubling',
    'split_allgather', 'dsar', 'allgather' or 'dense'. ``density_threshold``
    (a fraction; None for the default) is where dsar's ranges and dense's
    result stay dense. Returns a :class:`SparseResult`, identical bit for bit
    on every rank; with CuPy (GPU) input its arrays are CuPy arrays on the
    input's device (see docs/gpu.md).
    """
    arguments, index_dtype, call_input = _arguments(comm, indices, values, size, algorithm, density_threshold)
    out = ffi.new("lp_sparse_result_t *")
    try:
        check(lib.lp_sparse_allreduce(*arguments, out))
    finally:
        call_input.release()
    handle = ffi.gc(out[0], lib.lp_sparse_result_free)
    return call_input.place(SparseResult(handle, index_dtype))


@keyword_only
def isparse_allreduce(indices, values, size, *, comm=None, algorithm="auto", density_threshold=None):
    """Nonblocking :func:`sparse_allreduce`: returns a :class:`Request` whose
    ``wait()`` returns the :class:`SparseResult`. The input arrays may be
    reused as soon as this returns (they are copied when the call starts)."""
    arguments, index_dtype, call_input = _arguments(comm, indices, values, size, algorithm, density_threshold)
    out, request = ffi.new("lp_sparse_result_t *"), ffi.new("lp_request_t *")
    try:
        check(lib.lp_isparse_allreduce(*arguments, out, request))
    finally:
        call_input.release()  # the C core copied the input when the call started
    handle = ffi.gc(out[0], lib.lp_sparse_result_free)
    return Request(request[0], lambda: call_input.place(SparseResult(handle, index_dtype)), (handle,))


def _model_arguments(size, nnz, nprocs, dtype, density_threshold):
    """The cost model's checked (size, nnz, nprocs, datatype, threshold)."""
    return (integer(size, "size", 0, INT64_MAX), integer(nnz, "nnz", 0, INT64_MAX),
            integer(nprocs, "nprocs", 1, INT32_MAX), DATATYPES[supported_dtype(dtype)], _threshold(density_threshold))


def predict_seconds(algorithm, size, nnz, nprocs, dtype="float32", density_threshold=None):
    """The cost model's prediction for one call (nnz: the densest rank's count). Local.
    Raises InvalidArgumentError when LP_SPARSE_COST_MODEL's file is unusable."""
    code = _algorithm_code(algorithm)
    seconds = lib.lp_sparse_predict_seconds(code, *_model_arguments(size, nnz, nprocs, dtype, density_threshold))
    if math.isnan(seconds):  # the model could not be read; the detail says why
        check(lib.LP_ERR_INVALID_ARGUMENT)
    return seconds


def select_algorithm(size, nnz, nprocs, dtype="float32", density_threshold=None):
    """The algorithm that 'auto' picks for these parameters on this rank. Local.
    Raises InvalidArgumentError when LP_SPARSE_COST_MODEL's file is unusable."""
    chosen = lib.lp_sparse_select_algorithm(*_model_arguments(size, nnz, nprocs, dtype, density_threshold))
    if chosen == lib.LP_SPARSE_AUTO:  # the model could not be read; the detail says why
        check(lib.LP_ERR_INVALID_ARGUMENT)
    return _ALGORITHM_NAMES[chosen]
