"""Dense allreduce: MPI_Allreduce through the library's stack. It is the
fallback of the sparse algorithms and the baseline of every benchmark."""
import numpy as np

from . import _gpu_dense
from ._binding import check, ffi, lib
from ._buffers import (as_array, datatype_of, input_pointer, op_code, output_pointer, require_contiguous,
                       require_matching, require_writable)
from ._comm import agree_on, lib_comm
from ._gpu import is_device_array
from ._request import Request


def _prepare(sendbuf, recvbuf, op):
    send = as_array(sendbuf, "sendbuf")
    datatype = datatype_of(send, "sendbuf")
    require_contiguous(send, "sendbuf")
    if recvbuf is None:
        recv = np.empty_like(send)
    else:
        recv = as_array(recvbuf, "recvbuf")
        require_matching(recv, send)
        require_contiguous(recv, "recvbuf")
        require_writable(recv, "recvbuf")
    return send, recv, datatype, op_code(op)


def _pointers(send, recv):
    # Equal pointers mean in place: the C core then passes MPI_IN_PLACE.
    return input_pointer(send), output_pointer(recv)


def allreduce(sendbuf, recvbuf=None, op="sum", comm=None):
    """Reduces ``sendbuf`` over every rank of ``comm`` into ``recvbuf``.

    ``recvbuf=None`` allocates the result; passing ``sendbuf`` itself as
    ``recvbuf`` reduces in place. ``op`` is 'sum', 'prod', 'min' or 'max'.
    Returns the result array. CuPy (or other GPU) arrays give a CuPy
    result on their device; see docs/gpu.md.
    """
    handle = lib_comm(comm)
    if not isinstance(sendbuf, np.ndarray) and is_device_array(sendbuf):
        return _gpu_dense.allreduce(handle, sendbuf, recvbuf, op)
    send, recv, datatype, opcode = agree_on(handle, lambda: _prepare(sendbuf, recvbuf, op))
    src, dst = _pointers(send, recv)
    check(lib.lp_allreduce(src, dst, send.size, datatype, opcode, handle))
    return recv


def iallreduce(sendbuf, recvbuf=None, op="sum", comm=None):
    """Nonblocking :func:`allreduce`: returns a :class:`Request` whose
    ``wait()`` returns the result array."""
    handle = lib_comm(comm)
    if not isinstance(sendbuf, np.ndarray) and is_device_array(sendbuf):
        return _gpu_dense.iallreduce(handle, sendbuf, recvbuf, op)
    send, recv, datatype, opcode = agree_on(handle, lambda: _prepare(sendbuf, recvbuf, op))
    src, dst = _pointers(send, recv)
    out = ffi.new("lp_request_t *")
    check(lib.lp_iallreduce(src, dst, send.size, datatype, opcode, handle, out))
    return Request(out[0], lambda: recv, (send, recv))
