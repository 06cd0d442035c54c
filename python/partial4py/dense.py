"""Dense allreduce: MPI_Allreduce through the library's stack. It is the
fallback of the sparse algorithms and the baseline of every benchmark."""
import numpy as np

from . import _gpu_dense
from ._binding import ffi, lib
from ._buffers import (DEVICE, HostReduction, acquire_call, datatype_of, op_code, require_contiguous,
                       require_matching, require_writable)
from ._comm import agree_on, lib_comm
from ._keywords import keyword_only
from ._request import Request
from ._staging import run_or_release


def _prepare(sendbuf, recvbuf, op, on_host=False):
    """(the input array, datatype, op code, reduction) of a call taking
    sendbuf and an optional recvbuf. on_host: the C core computes on the
    data itself, so GPU arrays are staged through host memory even where MPI
    could take device pointers."""
    send, recv, send_name = acquire_call(sendbuf, recvbuf)
    if send.kind == DEVICE:
        return _gpu_dense.prepare(send, recv, op, send_name, on_host)
    datatype = datatype_of(send.array, send_name)
    require_contiguous(send.array, send_name)
    if recv is None:
        recv_array = np.empty_like(send.array)
    else:
        recv_array = recv.array
        require_matching(recv_array, send.array, send_name=send_name)
        require_contiguous(recv_array, "recvbuf")
        require_writable(recv_array, "recvbuf")
    return send.array, datatype, op_code(op), HostReduction(send.array, recv_array)


def _start(comm, sendbuf, recvbuf, op, c_function, *request):
    handle = lib_comm(comm)
    send, datatype, opcode, reduction = agree_on(handle, lambda: _prepare(sendbuf, recvbuf, op))
    run_or_release(reduction, c_function, reduction.send_pointer, reduction.recv_pointer, send.size, datatype,
                   opcode, handle, *request)
    return send, reduction


@keyword_only
def allreduce(sendbuf, recvbuf=None, op="sum", *, comm=None):
    """Reduces ``sendbuf`` over every rank of ``comm`` into ``recvbuf``.

    ``recvbuf=None`` allocates the result. ``sendbuf=MPI.IN_PLACE`` (or
    ``sendbuf`` itself as ``recvbuf``) reduces in place: ``recvbuf`` holds
    the input and receives the result. ``op`` is 'sum', 'prod', 'min' or
    'max'. Returns the result array (a NumPy view of ``recvbuf``'s memory
    for host buffers). CuPy (or other GPU) arrays give a CuPy result on
    their device; see docs/gpu.md.
    """
    _, reduction = _start(comm, sendbuf, recvbuf, op, lib.lp_allreduce)
    return reduction.result()


@keyword_only
def iallreduce(sendbuf, recvbuf=None, op="sum", *, comm=None):
    """Nonblocking :func:`allreduce`: returns a :class:`Request` whose
    ``wait()`` returns the result array."""
    out = ffi.new("lp_request_t *")
    send, reduction = _start(comm, sendbuf, recvbuf, op, lib.lp_iallreduce, out)
    # A staged GPU result is copied back in wait(), once MPI has written it.
    return Request(out[0], reduction.result, (send, reduction))
