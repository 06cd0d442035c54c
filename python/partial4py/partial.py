"""Partial allreduce (eager-SGD): a persistent collective whose rounds fire
once a quorum of ranks has arrived, carrying late contributions into the
next round instead of dropping them. See docs/partial.md."""
import atexit
import math
import warnings

import numpy as np

from ._arguments import INT32_MAX, INT64_MAX, integer, real
from ._binding import check, ffi, lib
from ._buffers import (DATATYPES, DEVICE, HOST, Acquired, HostReduction, acquire, acquire_call, op_code,
                       require_contiguous, require_writable, supported_dtype)
from ._comm import agree_on, lib_comm
from ._gpu import array_module
from ._keywords import keyword_only
from ._request import Request
from ._staging import StagedReduction, run_or_release
from .errors import ClosedError, DatatypeError, InvalidArgumentError, code_of

MODES = {"solo": lib.LP_PARTIAL_SOLO, "majority": lib.LP_PARTIAL_MAJORITY, "sync": lib.LP_PARTIAL_SYNC}
MAX_STALENESS = 1000000  # the C core's bound (lp_partial_create)
ALGORITHMS = {ffi.string(lib.lp_partial_algorithm_name(code)).decode(): code
              for code in range(lib.LP_PARTIAL_NUM_ALGORITHMS)}
_ALGORITHM_NAMES = {code: name for name, code in ALGORITHMS.items()}
TRIGGERS = {ffi.string(lib.lp_partial_trigger_name(code)).decode(): code for code in range(lib.LP_PARTIAL_NUM_TRIGGERS)}
_TRIGGER_NAMES = {code: name for name, code in TRIGGERS.items()}
STATS_KEYS = ("rounds", "control_messages_sent", "control_messages_received", "rma_operations",
              "reduction_messages_sent", "reduction_steps_last_round")


class PartialInfo:
    """The metadata of one round, identical on every rank (except ``late``).

    ``round``: the round number. ``contributions``: how many calls' buffers
    were summed into the result (divide a summed gradient by this); it is 0
    when the round found nothing pending, which can happen with several
    ``start()`` calls outstanding or in rounds a flush forced, and the
    result is then the op's identity.
    ``fresh``: how many ranks' own call for this round is among them.
    ``quorum_met``: False only for rounds a flush forced. ``late``: this
    rank's call came after its round fired, so its buffer was carried into a
    later round. ``result``: the result array.
    """

    __slots__ = ("round", "contributions", "fresh", "quorum_met", "late", "result")

    def __init__(self, c_info, result):
        self.round = int(c_info.round)
        self.contributions = int(c_info.contributions)
        self.fresh = int(c_info.fresh)
        self.quorum_met = bool(c_info.quorum_met)
        self.late = bool(c_info.late)
        self.result = result

    def __repr__(self):
        return (f"PartialInfo(round={self.round}, contributions={self.contributions}, fresh={self.fresh}, "
                f"quorum_met={self.quorum_met}, late={self.late})")


def _mode_and_quorum(mode, nprocs):
    if isinstance(mode, (int, np.integer)) and not isinstance(mode, (bool, np.bool_)):
        if not 1 <= mode <= nprocs:
            raise InvalidArgumentError(f"mode {mode!r} is not a quorum 1..{nprocs} (the communicator's size)")
        return lib.LP_PARTIAL_QUORUM, int(mode)
    if isinstance(mode, str) and mode.lower() in MODES:
        return MODES[mode.lower()], 0
    raise InvalidArgumentError(f"mode {mode!r} is not 'solo', 'majority', 'sync' or a quorum 1..{nprocs}")


def _timeout_seconds(timeout):
    if timeout is None:
        return 0.0
    seconds = real(timeout, "timeout")
    if not seconds > 0 or math.isnan(seconds):
        raise InvalidArgumentError(f"timeout must be None or > 0 seconds, not {timeout!r}")
    return seconds


def _staleness(max_staleness):
    """The C core's max_staleness: -1 (its default) for None."""
    if max_staleness is None:
        return -1
    return integer(max_staleness, "max_staleness", 0, MAX_STALENESS)


def _algorithm_code(algorithm):
    if not isinstance(algorithm, str) or algorithm not in ALGORITHMS:
        raise InvalidArgumentError(f"algorithm {algorithm!r} is not one of {sorted(ALGORITHMS)}")
    return ALGORITHMS[algorithm]


def _trigger_code(trigger):
    if not isinstance(trigger, str) or trigger not in TRIGGERS:
        raise InvalidArgumentError(f"trigger {trigger!r} is not one of {sorted(TRIGGERS)}")
    return TRIGGERS[trigger]


@keyword_only
def select_trigger(*, comm=None):
    """Collective over ``comm``: the trigger that 'auto' resolves to there,
    'one_sided' where every rank shares memory, else 'point_to_point'
    (LP_PARTIAL_TRIGGER's name, if set, comes first)."""
    out = ffi.new("lp_partial_trigger_t *")
    check(lib.lp_partial_select_trigger(lib_comm(comm), out))
    return _TRIGGER_NAMES[out[0]]


def _model_arguments(count, nprocs, dtype):
    return (integer(count, "count", 0, INT64_MAX), DATATYPES[supported_dtype(dtype)],
            integer(nprocs, "nprocs", 1, INT32_MAX))


def predict_seconds(algorithm, count, nprocs, dtype="float32"):
    """The cost model's seconds for one round's reduction of count elements
    on nprocs ranks, with the sparse cost model's constants. Local.
    Raises InvalidArgumentError when LP_SPARSE_COST_MODEL's file is unusable."""
    code = _algorithm_code(algorithm)
    seconds = lib.lp_partial_predict_seconds(code, *_model_arguments(count, nprocs, dtype))
    if math.isnan(seconds):  # the model could not be read; the detail says why
        check(lib.LP_ERR_INVALID_ARGUMENT)
    return seconds


def select_algorithm(count, nprocs, dtype="float32"):
    """The reduction that 'auto' picks for these parameters on this rank
    (LP_PARTIAL_ALGORITHM aside). Local. Raises InvalidArgumentError when
    LP_SPARSE_COST_MODEL's file is unusable."""
    chosen = lib.lp_partial_select_algorithm(*_model_arguments(count, nprocs, dtype))
    if chosen == lib.LP_PARTIAL_ALGORITHM_AUTO:  # the model could not be read; the detail says why
        check(lib.LP_ERR_INVALID_ARGUMENT)
    return _ALGORITHM_NAMES[chosen]


class _PartialRequest(Request):
    """A partial allreduce request. Collected without a wait, it must not
    block (its round may never fire, e.g. at exit): it is detached from its
    round instead, so its buffer is never written."""

    __slots__ = ()

    def __del__(self):
        if not self._done and self._handle != ffi.NULL:
            warnings.warn("a partial allreduce request was never waited on; detaching it", ResourceWarning)
            lib.lp_partial_request_detach(self._handle)
            lib.lp_request_wait(self._handle)


class PartialAllreduce:
    """A persistent partial allreduce over ``comm`` (collective creation).

    ``mode``: 'solo' (quorum 1), 'majority' (ceil(P/2)), 'sync' (P) or an
    integer quorum k in 1..P. ``max_staleness``: how many rounds a rank may
    run ahead of the slowest, 0..1000000 (None: the default, 8). ``timeout``: seconds
    every blocking wait may take before raising :class:`TimeoutError`
    (None: wait forever). ``algorithm``: how each round is reduced, 'ring',
    'halving_doubling' or 'auto' (the environment's LP_PARTIAL_ALGORITHM,
    else the cheaper in the cost model, see :func:`select_algorithm`); the
    one chosen is ``self.algorithm``. ``trigger``: how arrivals are
    counted, 'one_sided' (MPI-3 atomics), 'point_to_point' (messages) or
    'auto' (LP_PARTIAL_TRIGGER, else :func:`select_trigger`); the one chosen
    is ``self.trigger``. count, dtype, op, mode, max_staleness and the
    algorithm and trigger chosen must match on every rank.
    """

    @keyword_only
    def __init__(self, count, dtype=np.float32, *, comm=None, mode="solo", max_staleness=None, timeout=None,
                 op="sum", algorithm="auto", trigger="auto"):
        self._handle = ffi.NULL
        handle = lib_comm(comm)

        def prepare():
            # Every value is checked to fit its C parameter here, inside the agreement.
            nprocs = ffi.new("int *")
            check(lib.lp_comm_size(handle, nprocs))
            return (integer(count, "count", 0, INT64_MAX), supported_dtype(dtype), *_mode_and_quorum(mode, nprocs[0]),
                    _staleness(max_staleness), _timeout_seconds(timeout), op_code(op), _algorithm_code(algorithm),
                    _trigger_code(trigger))

        n, dt, mode_code, quorum, staleness, seconds, opcode, algorithm_code, trigger_code = agree_on(handle, prepare)
        config = ffi.new("lp_partial_config_t *", {"size": ffi.sizeof("lp_partial_config_t"),
                                                   "algorithm": algorithm_code, "trigger": trigger_code})
        out = ffi.new("lp_partial_t *")
        check(lib.lp_partial_create_config(n, DATATYPES[dt], opcode, mode_code, quorum, staleness, seconds, handle,
                                           config, out))
        self._handle = out[0]
        counts = self.stats()
        self.algorithm, self.trigger = counts["algorithm_last_round"], counts["trigger"]
        self.count, self.dtype, self.mode, self.timeout = n, dt, mode, timeout
        quorum_out = ffi.new("int *")
        check(lib.lp_partial_quorum(self._handle, quorum_out))
        self.quorum = quorum_out[0]

    # -- calls ---------------------------------------------------------------

    def _live_handle(self):
        if self._handle == ffi.NULL:
            raise ClosedError("the PartialAllreduce was closed")
        return self._handle

    def _check_layout(self, array, name):
        if array.dtype != self.dtype:
            raise DatatypeError(f"{name} has dtype {array.dtype}; this PartialAllreduce reduces {self.dtype}")
        if array.size != self.count:
            raise InvalidArgumentError(f"{name} has {array.size} elements; this PartialAllreduce has count "
                                       f"{self.count}")

    def _checked(self, check_buffers):
        """(handle, check_buffers()); a bad buffer fails the object on every
        rank, through the protocol, before the exception is raised here."""
        handle = self._live_handle()
        try:
            return handle, check_buffers()
        except Exception as exc:
            lib.lp_partial_report_error(handle, code_of(exc))
            raise

    def _prepare(self, send, recv, send_name="sendbuf"):
        """The reduction of a call's Acquired buffers (send None: a flush;
        recv None: allocate the result, on send's side). GPU buffers are
        staged through pinned host memory: the progress thread reduces on
        the host, so device pointers would not do even with a CUDA-aware MPI."""
        send_array = None if send is None else send.array
        if send_array is not None:
            self._check_layout(send_array, send_name)
        if recv is not None:
            self._check_layout(recv.array, "recvbuf")
        if (send or recv).kind == DEVICE:
            if recv is None:
                return StagedReduction(send_array, send.stream, array_module(send_array).empty(self.count, self.dtype),
                                       send.stream)
            return StagedReduction(send_array, None if send is None else send.stream, recv.array, recv.stream)
        if send_array is not None:
            require_contiguous(send_array, send_name)
        if recv is None:
            return HostReduction(send_array, np.empty(self.count, self.dtype))
        require_contiguous(recv.array, "recvbuf")
        require_writable(recv.array, "recvbuf")
        return HostReduction(send_array, recv.array)

    def _call(self, sendbuf, recvbuf):
        """(handle, reduction) of an allreduce() or start()."""
        return self._checked(lambda: self._prepare(*acquire_call(sendbuf, recvbuf)))

    def allreduce(self, sendbuf, recvbuf=None):
        """Contributes ``sendbuf`` to this rank's next round and returns that
        round's :class:`PartialInfo` once it has fired and been reduced; the
        result is written to ``recvbuf`` (allocated if None) and is
        ``info.result``. ``sendbuf=MPI.IN_PLACE`` takes the input from
        ``recvbuf``. GPU buffers are staged through the host (see
        docs/gpu.md)."""
        info = ffi.new("lp_partial_info_t *")
        # Staged buffers are lent to the progress thread until the call returns.
        handle, reduction = self._call(sendbuf, recvbuf)
        run_or_release(reduction, lib.lp_partial_allreduce, handle, reduction.send_pointer, reduction.recv_pointer,
                       info)
        return PartialInfo(info, reduction.result())

    def start(self, sendbuf, recvbuf=None):
        """Nonblocking :meth:`allreduce`: ``sendbuf`` is consumed before this
        returns; the request's ``wait()`` returns the :class:`PartialInfo`."""
        info = ffi.new("lp_partial_info_t *")
        out = ffi.new("lp_request_t *")
        handle, reduction = self._call(sendbuf, recvbuf)
        run_or_release(reduction, lib.lp_partial_start, handle, reduction.send_pointer, reduction.recv_pointer,
                       info, out)
        # A staged result reaches the GPU in wait(); its pinned buffers stay with the request till then.
        # The request keeps this object alive: close() must not free it under the request.
        return _PartialRequest(out[0], lambda: PartialInfo(info, reduction.result()), (reduction, info, self))

    def flush(self, recvbuf=None):
        """Collective: fires every round some rank has arrived at, then a
        synchronous round that drains every pending contribution into
        ``recvbuf``. After it, every rank's next call is the same round.
        With ``recvbuf=None`` the result is a new NumPy array; pass a GPU
        array to have it on the GPU."""
        info = ffi.new("lp_partial_info_t *")

        def prepare():
            # Without a buffer to follow, the result is a new host array.
            if recvbuf is None:
                return self._prepare(None, Acquired(HOST, np.empty(self.count, self.dtype)))
            return self._prepare(None, acquire(recvbuf, "recvbuf", writable=True))

        handle, reduction = self._checked(prepare)
        run_or_release(reduction, lib.lp_partial_flush, handle, reduction.recv_pointer, info)
        return PartialInfo(info, reduction.result())

    def stats(self):
        """This rank's counts since creation, a dict: ``rounds`` reduced,
        ``control_messages_sent`` and ``_received`` (the protocol),
        ``rma_operations`` (one-sided; the point-to-point protocol issues
        none), ``reduction_messages_sent``, ``reduction_steps_last_round``
        (the dependent steps of the last reduction),
        ``algorithm_last_round`` (its name) and ``trigger`` (the object's)."""
        stats = ffi.new("lp_partial_stats_t *")
        check(lib.lp_partial_stats(self._live_handle(), stats))
        counts = {key: int(getattr(stats, key)) for key in STATS_KEYS}
        counts["algorithm_last_round"] = _ALGORITHM_NAMES[stats.algorithm_last_round]
        counts["trigger"] = _TRIGGER_NAMES[stats.trigger]
        return counts

    def close(self):
        """Collective: stops the progress thread and frees the object.
        Contributions not flushed are dropped. Calling it twice is harmless."""
        handle, self._handle = self._handle, ffi.NULL
        if handle != ffi.NULL:
            check(lib.lp_partial_destroy(handle))

    @property
    def closed(self):
        return self._handle == ffi.NULL

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    # No __del__: closing is collective, so a finalizer could hang. An object
    # never closed is released locally at exit, by release_all.


# mpi4py finalizes MPI from Py_AtExit, which runs after every atexit handler,
# so this releases the objects never closed while MPI is still thread-safe.
@atexit.register
def release_all():
    """Local: releases every PartialAllreduce not yet closed, without the
    collective close: its progress thread stops and its MPI resources are
    freed; its calls then raise ClosedError, and close() only frees memory.
    Runs by itself at exit. A program that calls MPI.Finalize() itself with
    objects still open calls this first: MPICH switches its thread safety
    off when MPI_Finalize begins, so a progress thread still running then
    can crash the process."""
    check(lib.lp_partial_release_all())

