"""Dense allreduce of GPU arrays (see docs/gpu.md).

With a CUDA-aware MPI the device pointers go straight to MPI_Allreduce,
once the arrays' streams are synchronized; otherwise the data goes
through pinned host buffers and the result is copied back to the GPU.
"""
from ._binding import ffi, lib
from ._buffers import datatype_of, op_code, require_matching
from ._comm import agree_on
from ._gpu import array_module, device_output, device_pointer, device_view, mpi_takes_device_pointers, synchronize
from ._request import Request
from ._staging import StagedReduction, run_or_release


class _DirectReduction:
    """The StagedReduction interface for device pointers that MPI reads and
    writes itself."""

    __slots__ = ("recv", "send_pointer", "recv_pointer")

    def __init__(self, send, send_stream, recv, recv_stream):
        synchronize(send_stream, recv_stream)
        self.recv = recv
        self.send_pointer, self.recv_pointer = device_pointer(send), device_pointer(recv)

    def result(self):
        return self.recv

    def release(self):
        pass


def _prepare(sendbuf, recvbuf, op):
    send, send_stream = device_view(sendbuf, "sendbuf")
    datatype = datatype_of(send, "sendbuf")
    if recvbuf is None:
        recv, recv_stream = array_module(send).empty_like(send), send_stream
    else:
        recv, recv_stream = device_output(recvbuf)
        require_matching(recv, send)
    opcode = op_code(op)
    way = _DirectReduction if mpi_takes_device_pointers() else StagedReduction
    return send, datatype, opcode, way(send, send_stream, recv, recv_stream)


def _start(handle, sendbuf, recvbuf, op, c_function, *request):
    send, datatype, opcode, reduction = agree_on(handle, lambda: _prepare(sendbuf, recvbuf, op))
    run_or_release(reduction, c_function, reduction.send_pointer, reduction.recv_pointer, send.size, datatype,
                   opcode, handle, *request)
    return send, reduction


def allreduce(handle, sendbuf, recvbuf, op):
    _, reduction = _start(handle, sendbuf, recvbuf, op, lib.lp_allreduce)
    return reduction.result()


def iallreduce(handle, sendbuf, recvbuf, op):
    out = ffi.new("lp_request_t *")
    send, reduction = _start(handle, sendbuf, recvbuf, op, lib.lp_iallreduce, out)
    # The copy back to the GPU happens in wait(), once MPI has written the result.
    return Request(out[0], reduction.result, (send, reduction))
