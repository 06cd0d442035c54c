"""The Python side of lp_request_t: keeps the buffers alive while MPI uses
them, and turns completion into a result object."""
import time
import warnings

from mpi4py import MPI

from ._binding import check, ffi, lib

_LONGEST_POLL_PAUSE = 1e-3  # seconds; waitany's pause between rounds of test() grows to this


class Request:
    """A nonblocking collective in flight.

    ``wait()`` blocks until it completes and returns its result; ``test()``
    (or ``done()``) advances it and returns True once it has completed. As a
    context manager it is waited on when the block exits.
    """

    __slots__ = ("_handle", "_finish", "_keepalive", "_result", "_done", "_error")

    def __init__(self, handle, finish, keepalive):
        self._handle = handle          # lp_request_t, NULL once released
        self._finish = finish          # builds the result after completion
        self._keepalive = keepalive    # buffers MPI reads or writes
        self._result = None
        self._done = False
        self._error = None             # what completion raised, raised again by every wait()

    def test(self):
        if not self._done:
            flag = ffi.new("int *")
            result = lib.lp_request_test(self._handle, flag)
            if flag[0] or result != lib.LP_SUCCESS:
                self._complete()
        return self._done

    def done(self):
        """Whether the request has completed (never blocks; advances it as
        :meth:`test` does). A request that failed is done; ``wait()`` then
        raises its error."""
        try:
            return self.test()
        except Exception:
            return True  # the error is kept: wait() raises it

    def wait(self):
        if not self._done:
            self._complete()
        if self._error is not None:
            raise self._error
        return self._result

    def _complete(self):
        handle, self._handle = self._handle, ffi.NULL
        self._done = True
        try:
            check(lib.lp_request_wait(handle))
            self._result = self._finish()
        except Exception as exc:
            self._error = exc  # the buffers stay with the request, as they did while it ran
            raise
        self._keepalive = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        if exc_value is None:
            self.wait()
            return
        # The block raised: the request is still waited on (MPI may be
        # writing its buffers), but the block's exception is the one that
        # propagates; a failure of the request is noted on it.
        try:
            self.wait()
        except Exception as wait_error:
            if hasattr(exc_value, "add_note"):  # Python 3.11+
                exc_value.add_note(f"waiting on the request on exit raised too: {wait_error!r}")

    def __del__(self):
        if not self._done and self._handle != ffi.NULL:
            warnings.warn("a partial4py request was never waited on; waiting now", ResourceWarning)
            lib.lp_request_wait(self._handle)


def waitall(requests):
    """Waits for every request; returns their results, in order.

    Every request is waited on even if an earlier one raises (MPI may still
    be writing the later ones' buffers); then the first error, in list
    order, is raised. Requests already completed give their result again
    (or raise their error again); an empty list gives []."""
    results, first_error = [], None
    for request in requests:
        try:
            results.append(request.wait())
        except Exception as exc:
            results.append(None)
            if first_error is None:
                first_error = exc
    if first_error is not None:
        raise first_error
    return results


def waitany(requests):
    """Waits until one of the requests completes; returns ``(index, result)``.

    Requests that had already completed before the call (by ``wait()``, a
    ``test()`` or ``done()`` that returned True, or an earlier ``waitany``)
    are inactive and skipped, as MPI_Waitany skips MPI_REQUEST_NULL; when
    none is active, including for an empty list, it returns
    ``(MPI.UNDEFINED, None)`` at once, so ``while True: i, r =
    waitany(reqs)`` ends on ``i == MPI.UNDEFINED``. A request that completes
    with an error raises it here. Over several active requests it polls
    them with ``test()``, so a PartialAllreduce's ``timeout`` (which bounds
    blocking waits) does not end it; over one it waits on it."""
    requests = list(requests)
    active = [index for index, request in enumerate(requests) if not request._done]
    if len(active) == 1:
        # Blocking, so that a PartialAllreduce's timeout applies (test() never times out).
        return active[0], requests[active[0]].wait()
    pause = 0.0
    while active:
        for index in active:
            try:
                completed = requests[index].test()
            except Exception:
                completed = True  # failed: wait() below raises its error
            if completed:
                return index, requests[index].wait()
        # Polling, not blocking: let the other ranks (and threads) run between rounds.
        time.sleep(pause)
        pause = min(_LONGEST_POLL_PAUSE, pause * 2 or 1e-6)
    return MPI.UNDEFINED, None
