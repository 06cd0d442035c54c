"""The Python side of lp_request_t: keeps the buffers alive while MPI uses
them, and turns completion into a result object."""
import warnings

from ._binding import check, ffi, lib


class Request:
    """A nonblocking collective in flight.

    ``wait()`` blocks until it completes and returns its result; ``test()``
    advances it and returns True once it has completed.
    """

    __slots__ = ("_handle", "_finish", "_keepalive", "_result", "_done")

    def __init__(self, handle, finish, keepalive):
        self._handle = handle          # lp_request_t, NULL once released
        self._finish = finish          # builds the result after completion
        self._keepalive = keepalive    # buffers MPI reads or writes
        self._result = None
        self._done = False

    def test(self):
        if not self._done:
            flag = ffi.new("int *")
            result = lib.lp_request_test(self._handle, flag)
            if flag[0] or result != lib.LP_SUCCESS:
                self._complete()
        return self._done

    def wait(self):
        if not self._done:
            self._complete()
        return self._result

    def _complete(self):
        handle, self._handle = self._handle, ffi.NULL
        self._done = True
        check(lib.lp_request_wait(handle))
        self._result = self._finish()
        self._keepalive = None

    def __del__(self):
        if not self._done and self._handle != ffi.NULL:
            warnings.warn("a partial4py request was never waited on; waiting now", ResourceWarning)
            lib.lp_request_wait(self._handle)
