"""Sparse allreduce of GPU arrays (see docs/gpu.md).

The algorithms merge on the host, so the input is always staged, even
with a CUDA-aware MPI. Before it crosses PCIe it is checked and made
compact on the GPU: indices in range, sorted, each once with the sum of
its repeats, added in input order as the C core adds them, so the result
is the same, bit for bit, as for the same data in NumPy arrays. The result
comes back as CuPy arrays on the input's device.
"""
import functools

from ._staging import Staging
from .errors import IndexOutOfRangeError
from .sparse import check_arguments


@functools.cache
def _sum_runs():
    """A kernel: for each run [run_start, run_stop) of equal sorted indices,
    the sum of its values, left to right (one thread per run)."""
    import cupy
    return cupy.ElementwiseKernel(
        "raw T values, int64 run_start, int64 run_stop", "T total",
        "T running = values[run_start];"
        " for (long long j = run_start + 1; j < run_stop; ++j) running += values[j];"
        " total = running;",
        "partial4py_sum_runs")


def _require_in_range(cupy, indices, size):
    wide = indices.astype(cupy.int64, copy=False)
    outside = (wide < 0) | (wide >= size)
    if outside.any():
        position = int(cupy.flatnonzero(outside)[0])
        raise IndexOutOfRangeError(f"index {int(wide[position])} at position {position} is outside [0, {size})")


def _compact(cupy, indices, values):
    """(sorted unique indices, the sum of each one's values)."""
    if indices.size == 0:
        return indices, values
    order = cupy.argsort(indices)  # stable: repeats keep their input order
    indices, values = indices[order], values[order]
    starts_run = cupy.concatenate((cupy.ones(1, dtype=cupy.bool_), indices[1:] != indices[:-1]))
    run_start = cupy.flatnonzero(starts_run)
    run_stop = cupy.concatenate((run_start[1:], cupy.full(1, indices.size, dtype=run_start.dtype)))
    return indices[run_start], _sum_runs()(values, run_start, run_stop)


class DeviceInput:
    """A call's input, compacted on the GPU and staged in pinned memory;
    :meth:`place` moves its result to that GPU."""

    __slots__ = ("checked", "_staging", "_device", "_stream")

    def __init__(self, checked, staging, device, stream):
        self.checked = checked   # check_arguments()'s tuple, with the pinned host arrays
        self._staging, self._device, self._stream = staging, device, stream

    def release(self):
        """The C core has copied the input: the pinned buffers may go back."""
        self._staging.release()

    def place(self, result):
        """The SparseResult with its arrays copied to the input's GPU."""
        import cupy
        with self._device:
            result.values = _uploaded(cupy, result.values, self._stream)
            if result.indices is not None:
                result.indices = _uploaded(cupy, result.indices, self._stream)
        return result


def _uploaded(cupy, host, stream):
    array = cupy.empty(host.shape, host.dtype)
    if host.size:
        # From the C result's (pageable) memory the copy has read it by the
        # time it returns, so the result may be freed right after.
        array.set(host, stream=stream)
    return array


def prepare(indices, values, size, algorithm, density_threshold):
    """Checks, compacts and stages a call's GPU input (indices and values:
    _buffers.Acquired device views); returns a DeviceInput."""
    index_array, index_stream = indices.array, indices.stream
    value_array, stream = values.array, values.stream
    index_array, index_type, value_array, datatype, size, code, threshold = check_arguments(
        index_array, value_array, size, algorithm, density_threshold)
    import cupy
    if index_stream.ptr != stream.ptr:
        index_stream.synchronize()  # the work below runs on the values' stream only
    with stream:
        _require_in_range(cupy, index_array, size)
        index_array, value_array = _compact(cupy, index_array, value_array)
    staging = Staging()
    try:
        host_indices = staging.to_host(index_array, stream)
        host_values = staging.to_host(value_array, stream)
        stream.synchronize()
    except BaseException:
        staging.release()
        raise
    checked = (host_indices, index_type, host_values, datatype, size, code, threshold)
    return DeviceInput(checked, staging, value_array.device, stream)

