"""Dense allreduce of GPU arrays (see docs/gpu.md).

With a CUDA-aware MPI the device pointers go straight to MPI_Allreduce,
once the arrays' streams are synchronized; otherwise the data goes
through pinned host buffers and the result is copied back to the GPU.
"""
from ._buffers import datatype_of, op_code, require_matching
from ._gpu import array_module, device_pointer, mpi_takes_device_pointers, synchronize
from ._staging import StagedReduction


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


def prepare(send, recv, op, send_name="sendbuf", on_host=False):
    """dense._prepare() for a call whose buffers are on the GPU: send and
    recv (None: allocate the result) are _buffers.Acquired device views.
    on_host stages them through host memory whatever MPI can take.
    Returns (the input array, datatype, op code, reduction)."""
    datatype = datatype_of(send.array, send_name)
    if recv is None:
        recv_array, recv_stream = array_module(send.array).empty_like(send.array), send.stream
    else:
        recv_array, recv_stream = recv.array, recv.stream
        require_matching(recv_array, send.array, send_name=send_name)
    opcode = op_code(op)
    way = StagedReduction if on_host or not mpi_takes_device_pointers() else _DirectReduction
    return send.array, datatype, opcode, way(send.array, send.stream, recv_array, recv_stream)
