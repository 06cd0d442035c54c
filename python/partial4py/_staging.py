"""Staging of device arrays through pinned (page-locked) host buffers, for
an MPI that cannot take device pointers and for the collectives that
compute on the host.

Pinned memory is what lets copies run asynchronously on a stream, and it
is slow to allocate, so buffers come from a pool and are reused between
calls. The pool keeps one free list per power-of-two size class: a call
takes buffers out and hands them back when the GPU is done with them, so a
buffer still in flight (an iallreduce not yet waited on) is never handed
to another call. The pool grows to the most buffers of a class in use at
once and keeps them until the process exits (see :func:`pinned_bytes`);
the buffers of a request that is never waited on go with the request.
"""
import threading

import numpy as np

from ._binding import check, ffi

_SMALLEST_CLASS = 4096  # bytes; smaller requests share one page-sized class


def _size_class(nbytes):
    return max(_SMALLEST_CLASS, 1 << (max(nbytes, 1) - 1).bit_length())


class _PinnedBuffer:
    __slots__ = ("memory", "size_class", "copied")

    def __init__(self, memory, size_class):
        self.memory = memory        # cupy.cuda.PinnedMemoryPointer
        self.size_class = size_class
        self.copied = None          # event recorded after the last copy from or into it

    def view(self, dtype, count):
        return np.frombuffer(self.memory, dtype, count)


class _PinnedPool:
    def __init__(self):
        self._free = {}  # size class -> [_PinnedBuffer]
        self._lock = threading.Lock()

    def take(self, nbytes):
        size_class = _size_class(nbytes)
        with self._lock:
            free = self._free.get(size_class)
            buffer = free.pop() if free else None
        if buffer is None:
            import cupy
            buffer = _PinnedBuffer(cupy.cuda.alloc_pinned_memory(size_class), size_class)
        elif buffer.copied is not None:
            buffer.copied.synchronize()  # its last copy may still be running
            buffer.copied = None
        return buffer

    def give_back(self, buffer):
        with self._lock:
            self._free.setdefault(buffer.size_class, []).append(buffer)

    def idle_bytes(self):
        with self._lock:
            return sum(size_class * len(free) for size_class, free in self._free.items())


_POOL = _PinnedPool()


def pinned_bytes():
    """Bytes of pinned host memory the pool keeps for later calls (buffers
    of calls in flight are not counted)."""
    return _POOL.idle_bytes()


class Staging:
    """The pinned buffers of one call. Copies run asynchronously on the
    stream given; :meth:`release` hands the buffers back to the pool, which
    waits for their last copy before lending them again."""

    __slots__ = ("_buffers",)

    def __init__(self):
        self._buffers = []

    def empty(self, dtype, count):
        """A pinned host array of count elements."""
        dtype = np.dtype(dtype)
        buffer = _POOL.take(count * dtype.itemsize)
        self._buffers.append(buffer)
        return buffer.view(dtype, count)

    def to_host(self, array, stream):
        """A pinned host copy of a contiguous device array, valid once the
        stream has been synchronized."""
        host = self.empty(array.dtype, array.size)
        array.reshape(-1).get(stream=stream, out=host, blocking=False)
        self._buffers[-1].copied = stream.record()
        return host

    def to_device(self, host, array, stream):
        """Queues the copy of a pinned host array (from :meth:`empty` or
        :meth:`to_host`) into a contiguous device array."""
        array.reshape(-1).set(host, stream=stream)
        event = stream.record()
        for buffer in self._buffers:
            if buffer.memory.ptr == host.ctypes.data:
                buffer.copied = event

    def release(self):
        buffers, self._buffers = self._buffers, []
        for buffer in buffers:
            _POOL.give_back(buffer)


class StagedReduction:
    """A reduction of device arrays computed through the host: ``send`` is
    copied into a pinned buffer, the result is written into another (the
    same one when ``send`` and ``recv`` are one array, so that the C core
    sees an in-place call, as on the host path) and copied back into
    ``recv`` by :meth:`result`. ``send`` may be None (a flush).

    The pinned buffers stay out of the pool until :meth:`result` or
    :meth:`release`, so the C core may keep using them until it returns
    or its request completes."""

    __slots__ = ("recv", "send_pointer", "recv_pointer", "_recv_stream", "_staging", "_host_recv")

    def __init__(self, send, send_stream, recv, recv_stream):
        self.recv, self._recv_stream = recv, recv_stream
        self._staging = staging = Staging()
        try:
            host_send = None
            if send is not None:
                host_send = staging.to_host(send, send_stream)
                send_stream.synchronize()  # the copy, after the work that wrote send
            in_place = host_send is not None and send.data.ptr == recv.data.ptr
            self._host_recv = host_send if in_place else staging.empty(recv.dtype, recv.size)
        except BaseException:
            staging.release()
            raise
        self.send_pointer = None if host_send is None else ffi.from_buffer(host_send)
        self.recv_pointer = ffi.from_buffer(self._host_recv, require_writable=True)

    def result(self):
        """``recv``, with the result the C core wrote to the host copied back
        (asynchronously, on ``recv``'s stream)."""
        with self.recv.device:
            self._staging.to_device(self._host_recv, self.recv, self._recv_stream)
        self._staging.release()
        return self.recv

    def release(self):
        """Hands the buffers back without copying (the call failed)."""
        self._staging.release()


def run_or_release(reduction, c_function, *args):
    """Calls the C function; if it fails, the reduction's buffers go back
    (no result will come to copy)."""
    try:
        check(c_function(*args))
    except BaseException:
        reduction.release()
        raise
