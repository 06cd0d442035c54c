"""Quantized allreduce (QSGD): the sum of float32 or float64 vectors sent
as 2, 4 or 8 bits per element plus a float32 scale per bucket, with
stochastic rounding, so that the result is unbiased. Every rank gets the
same bits, and the same seed and sequence of calls give the same bits run
after run. See docs/quantized.md."""
import numpy as np

from ._arguments import INT64_MAX, integer
from ._binding import ffi, lib
from ._buffers import DEVICE, acquire, output_pointer, require_contiguous, require_matching, require_writable
from ._comm import agree_on, lib_comm
from .dense import _prepare as prepare_call
from .errors import DatatypeError, InvalidArgumentError
from ._request import Request
from ._staging import run_or_release

SCALES = {"max": lib.LP_QUANTIZED_SCALE_MAX, "l2": lib.LP_QUANTIZED_SCALE_L2}
BITS = (2, 4, 8)


def _bit_width(bits):
    """bits as an int, checked to be one of BITS."""
    bits = integer(bits, "bits", 0, 64)
    if bits not in BITS:
        raise InvalidArgumentError(f"bits is {bits}; it must be 2, 4 or 8")
    return bits


def _scale_code(scale):
    try:
        return SCALES[scale]
    except (KeyError, TypeError):
        raise InvalidArgumentError(f"scale must be one of {', '.join(map(repr, SCALES))}, not {scale!r}") from None


def _residual_of(residual, send, reduction):
    """The residual buffer as a host array the C core may write."""
    if residual is None:
        return None
    acquired = acquire(residual, "residual", writable=True)
    if acquired.kind == DEVICE or not isinstance(reduction.recv, np.ndarray):
        raise DatatypeError("residual takes host buffers only, with a host sendbuf")
    array = acquired.array
    require_matching(array, send, recv_name="residual")
    require_contiguous(array, "residual")
    require_writable(array, "residual")
    if np.shares_memory(array, send) or np.shares_memory(array, reduction.recv):
        raise InvalidArgumentError("residual must be a buffer of its own, not sendbuf's or recvbuf's memory")
    return array


def _prepare(sendbuf, recvbuf, residual, bits, bucket_size, seed, scale):
    settings = (_bit_width(bits), integer(bucket_size, "bucket_size", 1, INT64_MAX), integer(seed, "seed", 0, 2**64 - 1),
                _scale_code(scale))
    send, datatype, _, reduction = prepare_call(sendbuf, recvbuf, "sum", on_host=True)
    try:
        residual = _residual_of(residual, send, reduction)
    except BaseException:
        reduction.release()
        raise
    return send, datatype, settings, reduction, residual


def _start(comm, sendbuf, recvbuf, residual, bits, bucket_size, seed, scale, c_function, *request):
    handle = lib_comm(comm)
    send, datatype, (bits, bucket_size, seed, scale), reduction, residual = agree_on(
        handle, lambda: _prepare(sendbuf, recvbuf, residual, bits, bucket_size, seed, scale))
    residual_pointer = ffi.NULL if residual is None else output_pointer(residual)
    run_or_release(reduction, c_function, reduction.send_pointer, reduction.recv_pointer, send.size, datatype,
                   bits, bucket_size, scale, seed, residual_pointer, handle, *request)
    return (send, residual), reduction


def quantized_allreduce(sendbuf, recvbuf=None, *, bits=8, bucket_size=512, seed=0, scale="max", residual=None,
                        comm=None):
    """Sums ``sendbuf`` over every rank of ``comm``, quantized on the wire.

    Each rank sends ``bits`` (2, 4 or 8) bits per element and one float32
    scale per bucket of ``bucket_size`` elements: ``scale='max'`` (the
    bucket's max |x|) or ``'l2'`` (its L2 norm, as in QSGD). Rounding is
    stochastic, so the expected result is the exact sum; the random numbers
    come from ``seed``, the rank, the number of sparse and quantized
    allreduces called on ``comm`` before this one, and the bucket. Every
    rank gets the same bits. A bucket holding a NaN or an infinity on any
    rank is NaN in the result. One rank sends nothing and returns its input.

    ``recvbuf=None`` allocates the result; ``sendbuf=MPI.IN_PLACE`` (or
    ``sendbuf`` itself as ``recvbuf``) reduces in place. float32 and
    float64 only. GPU arrays are staged through host memory and the result
    comes back on their device. Returns the result array.

    ``residual`` (host buffers only; None: not kept), a writable buffer of
    the input's dtype and size, receives this rank's rounding error, for
    error feedback: added to the next call's input, nothing is lost, since
    over the ranks the residuals sum to the inputs' sum minus the result.
    :class:`partial4py.compress.QSGDCompressor` keeps one.
    """
    _, reduction = _start(comm, sendbuf, recvbuf, residual, bits, bucket_size, seed, scale,
                          lib.lp_quantized_allreduce)
    return reduction.result()


def iquantized_allreduce(sendbuf, recvbuf=None, *, bits=8, bucket_size=512, seed=0, scale="max", residual=None,
                         comm=None):
    """Nonblocking :func:`quantized_allreduce`: returns a :class:`Request`
    whose ``wait()`` returns the result array. ``sendbuf`` must not change,
    and ``residual`` is not written in full, until then."""
    out = ffi.new("lp_request_t *")
    buffers, reduction = _start(comm, sendbuf, recvbuf, residual, bits, bucket_size, seed, scale,
                                lib.lp_quantized_iallreduce, out)
    return Request(out[0], reduction.result, (buffers, reduction))


def wire_bytes(count, bits=8, bucket_size=512):
    """Bytes of one quantized copy of ``count`` elements (scales and packed
    codes). Each rank sends about 2 (P-1)/P times this per call, where a
    float32 ring allreduce sends 2 (P-1)/P * 4 * count."""
    return lib.lp_quantized_wire_bytes(integer(count, "count", 0, INT64_MAX), _bit_width(bits),
                                       integer(bucket_size, "bucket_size", 1, INT64_MAX))
