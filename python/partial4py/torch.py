"""PyTorch integration (``pip install partial4py[torch]``): an optimizer
wrapper that averages gradients across MPI ranks with a partial allreduce
(solo, majority, sync, or a quorum k), with top-k sparse allreduce, or with
QSGD-quantized allreduce. Each
bucket's round starts from gradient hooks during backward.

    model = ...; base = torch.optim.SGD(model.parameters(), lr=0.1)
    opt = partial4py.torch.DistributedOptimizer(base, mode="solo")  # an SGD too
    loss.backward(); opt.step(); opt.zero_grad()
    opt.flush()      # at the end of an epoch: applies what is still pending

The core package never imports torch; only this module does. Gradients on
a GPU stay there: buckets are flat CUDA tensors, which the collectives
take as GPU arrays (see docs/gpu.md; needs CuPy).
"""
import contextlib
import functools
import inspect
import weakref
import zlib

import numpy as np
import torch

from . import PartialAllreduce, isparse_allreduce
from ._arguments import INT64_MAX, integer
from ._comm import agree_on, agree_on_values, lib_comm
from ._keywords import keyword_only
from ._torch_broadcast import broadcast_object, broadcast_optimizer_state, broadcast_parameters
from ._torch_ddp import CommHookState, comm_hook, init_process_group
from .compress import QSGDCompressor, TopKCompressor
from .errors import DatatypeError, InvalidArgumentError

__all__ = ["DistributedOptimizer", "broadcast_parameters", "broadcast_optimizer_state", "broadcast_object",
           "init_process_group", "CommHookState", "comm_hook"]

_NUMPY_DTYPES = {torch.float32: np.float32, torch.float64: np.float64}


class _Bucket:
    """Parameters whose gradients travel together in one flat buffer: NumPy
    arrays for parameters on the CPU, CUDA tensors on their GPU."""

    def __init__(self, params, dtype):
        self.params = params
        self.dtype = dtype
        self.sizes = [p.numel() for p in params]
        self.count = sum(self.sizes)
        device = params[0].device
        if device.type == "cuda":
            self.send = torch.zeros(self.count, dtype=params[0].dtype, device=device)
            self.recv = torch.zeros_like(self.send)
            send_flat, recv_flat = self.send, self.recv
        else:
            self.send = np.zeros(self.count, dtype)
            self.recv = np.zeros(self.count, dtype)
            send_flat, recv_flat = torch.from_numpy(self.send), torch.from_numpy(self.recv)
        self.send_views = self._views(send_flat)
        self.recv_views = self._views(recv_flat)
        self.reset()

    def reset(self):
        """Forgets the round of the last step: no request, no gradient landed."""
        self.request = None
        self.passes_landed = [0] * len(self.params)
        self.params_complete = 0

    def gradient_landed(self, position, passes):
        """Counts a backward pass's gradient of params[position]; True once
        every parameter's gradient has landed passes times."""
        landed = self.passes_landed[position] = self.passes_landed[position] + 1
        if landed > passes:
            raise InvalidArgumentError(
                f"a gradient was computed {landed} times before step(), and backward_passes_per_step is {passes}: "
                "call step() (or synchronize()) after each backward pass, or raise backward_passes_per_step to "
                "accumulate gradients locally")
        if landed == passes:
            self.params_complete += 1
        return self.ready

    @property
    def ready(self):
        return self.params_complete == len(self.params)

    def _views(self, flat):
        views, offset = [], 0
        for p, size in zip(self.params, self.sizes):
            views.append(flat[offset:offset + size].view_as(p))
            offset += size
        return views

    def gather_gradients(self):
        for p, view in zip(self.params, self.send_views):
            if p.grad is None:
                view.zero_()
            else:
                view.copy_(p.grad)

    def store_sum(self, total):
        """Copies a summed bucket (NumPy, or CuPy for a GPU bucket) into recv."""
        if isinstance(self.recv, np.ndarray):
            self.recv[...] = total
        else:
            # DLPack orders torch's stream after CuPy's, which wrote total.
            self.recv.copy_(torch.from_dlpack(total))

    def scatter_average(self, scale):
        for p, view in zip(self.params, self.recv_views):
            if p.grad is None:
                p.grad = torch.empty_like(p)
            p.grad.copy_(view).mul_(scale)


def _buckets(params, bucket_bytes):
    """The buckets of params, filled from the last parameter to the first:
    the order in which backward produces gradients, so that the first
    bucket is ready first."""
    bucket_bytes = integer(bucket_bytes, "bucket_bytes", 1, INT64_MAX)
    buckets, current, current_bytes = [], [], 0
    params = [p for p in reversed(list(params)) if p.requires_grad]
    if not params:
        raise InvalidArgumentError("no parameters that require gradients")
    dtype, device = params[0].dtype, params[0].device
    for p in params:
        if p.dtype not in _NUMPY_DTYPES:
            raise DatatypeError(f"parameters of dtype {p.dtype} are not supported (float32, float64)")
        if p.dtype != dtype:
            raise DatatypeError("all parameters must have one dtype")
        if p.device != device:
            raise InvalidArgumentError(f"all parameters must be on one device, not {device} and {p.device}")
        if current and current_bytes + p.numel() * p.element_size() > bucket_bytes:
            buckets.append(current)
            current, current_bytes = [], 0
        current.append(p)
        current_bytes += p.numel() * p.element_size()
    buckets.append(current)
    return [_Bucket(b, _NUMPY_DTYPES[dtype]) for b in buckets]


_DISTRIBUTED_CLASSES = {}


def _distributed_class(base):
    """The subclass of DistributedOptimizer and base, one per optimizer
    class, so that ``isinstance(opt, torch.optim.SGD)`` holds for a wrapped
    SGD and LR schedulers and GradScaler accept it."""
    if base not in _DISTRIBUTED_CLASSES:
        _DISTRIBUTED_CLASSES[base] = type(f"Distributed{base.__name__}", (DistributedOptimizer, base),
                                          {"__module__": __name__, "__doc__": DistributedOptimizer.__doc__})
    return _DISTRIBUTED_CLASSES[base]


def _wrappable(optimizer):
    return isinstance(optimizer, torch.optim.Optimizer) and not isinstance(optimizer, DistributedOptimizer)


def _check_optimizer(optimizer):
    if _wrappable(optimizer):
        return
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise InvalidArgumentError(f"optimizer must be a torch.optim.Optimizer, not {type(optimizer).__name__}")
    raise InvalidArgumentError("optimizer is already a DistributedOptimizer")


class DistributedOptimizer(torch.optim.Optimizer):
    """Wraps a torch optimizer: ``step()`` first averages every gradient
    across the ranks of ``comm``, then runs the wrapped optimizer's step.

    The result is an instance of the wrapped optimizer's class (a subclass
    named ``Distributed<Class>``) that shares its parameter groups, state
    and hooks, so LR schedulers, ``torch.amp.GradScaler``,
    ``state_dict``/``load_state_dict``, ``add_param_group`` and
    ``zero_grad`` work as on the optimizer itself.

    params: the parameters whose gradients are averaged, in an order that
        is the same on every rank; by default those of the optimizer's
        parameter groups.
    mode: "solo", "majority", "sync" or an int quorum: one persistent
        :class:`partial4py.PartialAllreduce` per bucket, and the gradient is
        divided by the number of contributions that round summed;
        "topk": top-k sparsification with error feedback (``density``),
        summed with :func:`partial4py.isparse_allreduce`, divided by P;
        "qsgd": QSGD quantization to ``bits`` bits (2, 4 or 8), summed
        with :func:`partial4py.iquantized_allreduce` (unbiased, the same
        bits on every rank), divided by P (CPU parameters).
    bucket_bytes: gradients are flattened into buckets of about this size,
        filled from the last parameter to the first.
    backward_passes_per_step: how many backward passes accumulate into the
        gradients before they are averaged (the sum is averaged, as in
        Horovod); one more before ``step()`` raises.
    overlap: start each bucket's round from gradient hooks during backward,
        as soon as its gradients have landed and the buckets before it have
        started (the same order on every rank); ``step()`` waits for the
        rounds. With False, every round starts in ``step()``.

    Construction and ``add_param_group`` are collective: bad arguments on
    one rank raise on every rank, and so do buckets or modes that differ.
    A closure given to ``step`` is evaluated once, before the averaging.
    """

    def __new__(cls, optimizer, *args, **kwargs):
        # A bad optimizer still gets an instance: __init__ reports it on
        # every rank, as construction is collective.
        return super().__new__(_distributed_class(type(optimizer)) if _wrappable(optimizer) else cls)

    @keyword_only
    def __init__(self, optimizer, params=None, mode="solo", *, comm=None, bucket_bytes=25 * 2**20,
                 max_staleness=8, timeout=None, density=0.01, backward_passes_per_step=1, overlap=True, bits=8):
        from mpi4py import MPI
        self.comm = comm if comm is not None else MPI.COMM_WORLD
        self.mode = mode
        self._bucket_bytes = bucket_bytes
        self._max_staleness = max_staleness
        self._timeout = timeout
        self._density = density
        self._bits = bits
        self._overlap = overlap
        self._synchronize_in_step = True
        self.buckets, self._partials, self._compressors, self._hooks = [], [], [], []
        self._next_to_start = 0  # buckets start in index order, from hooks or in synchronize()
        self.last_contributions = []

        def prepare():
            _check_optimizer(optimizer)
            self._passes = integer(backward_passes_per_step, "backward_passes_per_step", 1, INT64_MAX)
            chosen = list(params) if params is not None else [p for g in optimizer.param_groups for p in g["params"]]
            return _buckets(chosen, bucket_bytes)

        self._add_buckets(prepare)
        # Shares, not copies: the wrapped optimizer and this one see the
        # same parameter groups, state, defaults and hooks. A method patched
        # onto the optimizer itself (an LR scheduler made for it wraps its
        # step) stays its own: here it would bypass the averaging.
        self.__dict__.update({name: value for name, value in optimizer.__dict__.items()
                              if name not in self.__dict__ and not callable(getattr(type(self), name, None))})
        self.optimizer = optimizer

    def _add_buckets(self, prepare):
        """Makes buckets (and their PartialAllreduce objects or top-k
        compressors) of what prepare returns. Collective in every mode: bad
        arguments on one rank raise on every rank, and so does a layout that
        differs (a rank with a bucket more would wait for the others)."""
        handle = lib_comm(self.comm)

        def buckets_and_compressors():
            buckets = prepare()
            if self.mode == "topk":
                return buckets, [TopKCompressor(b.count, density=self._density, dtype=b.dtype) for b in buckets]
            if self.mode == "qsgd":
                if not isinstance(buckets[0].send, np.ndarray):
                    raise DatatypeError('mode="qsgd" takes parameters on the CPU')
                # Without error feedback: with 2 bits the rounding's variance
                # exceeds the gradient's size, and fed back it grows.
                return buckets, [QSGDCompressor(b.count, bits=self._bits, dtype=b.dtype) for b in buckets]
            return buckets, []

        buckets, compressors = agree_on(handle, buckets_and_compressors)
        counts = np.array([b.count for b in buckets], np.int64)
        compression = {"topk": 1, "qsgd": 2}.get(self.mode, 0) if isinstance(self.mode, str) else 0
        agree_on_values(handle, [("compression (0 none, 1 topk, 2 qsgd)", compression),
                                 ("the number of buckets", len(buckets)),
                                 ("the number of gradient elements", counts.sum()),
                                 ("the buckets' sizes (a CRC-32)", zlib.crc32(counts.tobytes()))])
        self._compressors += compressors
        if not compressors:
            # The PartialAllreduce creations agree on mode, dtype and count.
            self._partials += [PartialAllreduce(b.count, dtype=b.dtype, comm=self.comm, mode=self.mode,
                                                max_staleness=self._max_staleness, timeout=self._timeout)
                               for b in buckets]
        if self._overlap:
            # Weak: the model's parameters must not keep a dropped optimizer alive.
            landed = functools.partial(_gradient_landed, weakref.ref(self))
            self._hooks += [p.register_post_accumulate_grad_hook(functools.partial(landed, index, position))
                            for index, bucket in enumerate(buckets, len(self.buckets))
                            for position, p in enumerate(bucket.params)]
        self.buckets += buckets

    def add_param_group(self, param_group):
        """Adds a parameter group to the optimizer, and its parameters'
        gradients to the averaging (new buckets; collective)."""
        def prepare():
            params = param_group["params"]
            param_group["params"] = [params] if isinstance(params, torch.Tensor) else list(params)
            buckets = _buckets(param_group["params"], self._bucket_bytes)
            super(DistributedOptimizer, self).add_param_group(param_group)
            return buckets

        self._add_buckets(prepare)

    def _start_ready_buckets(self):
        while self._next_to_start < len(self.buckets) and self.buckets[self._next_to_start].ready:
            self._start_next()

    def _start_next(self):
        index = self._next_to_start
        bucket = self.buckets[index]
        bucket.gather_gradients()
        if self.mode == "topk":
            indices, values = self._compressors[index].compress(bucket.send)
            bucket.request = isparse_allreduce(indices, values, bucket.count, comm=self.comm)
        elif self.mode == "qsgd":
            bucket.request = self._compressors[index].iallreduce(bucket.send, bucket.recv, comm=self.comm)
        else:
            bucket.request = self._partials[index].start(bucket.send, bucket.recv)
        self._next_to_start += 1

    def _finish(self, bucket):
        """Waits for a bucket's round and writes the averaged gradients;
        returns the number of contributions the round summed."""
        if self.mode == "topk":
            bucket.store_sum(bucket.request.wait().to_dense())
            contributions = self.comm.Get_size()
        elif self.mode == "qsgd":
            bucket.request.wait()  # into recv
            contributions = self.comm.Get_size()
        else:
            contributions = bucket.request.wait().contributions
        bucket.scatter_average(1.0 / contributions if contributions else 0.0)
        return contributions

    def synchronize(self):
        """Averages the gradients in place, without stepping: starts the
        rounds no gradient hook has started (gradients set by hand, unused
        parameters, ``overlap=False``), then waits for every round."""
        try:
            while self._next_to_start < len(self.buckets):
                self._start_next()
        finally:
            # Every round started is waited for, also after a failure: MPI may be writing its buffers.
            contributions, failure = [], None
            for bucket in self.buckets[:self._next_to_start]:
                try:
                    contributions.append(self._finish(bucket))
                except Exception as exc:
                    failure = failure or exc
            for bucket in self.buckets:
                bucket.reset()
            self._next_to_start = 0
        if failure is not None:
            raise failure
        self.last_contributions = contributions

    @contextlib.contextmanager
    def skip_synchronize(self):
        """Within it, ``step()`` does not average: for a step after an
        explicit ``synchronize()``, as with GradScaler, whose ``unscale_``
        must see the averaged gradients so that every rank skips the same
        steps::

            scaler.scale(loss).backward()
            optimizer.synchronize()
            scaler.unscale_(optimizer)
            with optimizer.skip_synchronize():
                scaler.step(optimizer)
            scaler.update()
        """
        self._synchronize_in_step = False
        try:
            yield
        finally:
            self._synchronize_in_step = True

    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        if self._synchronize_in_step:
            self.synchronize()
        result = super().step()
        return loss if closure is not None else result

    def flush(self):
        """Collective: drains every pending contribution (partial modes) and
        applies it as one more optimizer step. Call at the end of an epoch
        or before a checkpoint."""
        if self._next_to_start:
            raise InvalidArgumentError("a backward pass's rounds are in flight: call step() or synchronize() "
                                       "before flush()")
        if self._compressors:
            return  # topk and qsgd keep nothing pending (topk's residual goes into the next steps)
        applied = False
        for partial, bucket in zip(self._partials, self.buckets):
            info = partial.flush(bucket.recv)
            bucket.scatter_average(1.0 / info.contributions if info.contributions else 0.0)
            applied |= info.contributions > 0
        if applied:
            super().step()

    def close(self):
        for hook in self._hooks:
            hook.remove()
        self._hooks = []
        for partial in self._partials:
            partial.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _gradient_landed(optimizer_ref, index, position, _param):
    """The post-accumulate-grad hook of a parameter: counts its gradient and
    starts every bucket that is ready, in order."""
    optimizer = optimizer_ref()
    if optimizer is not None and optimizer.buckets[index].gradient_landed(position, optimizer._passes):
        optimizer._start_ready_buckets()


# __new__ only picks the class: help() and inspect show __init__'s parameters.
_init_parameters = list(inspect.signature(DistributedOptimizer.__init__).parameters.values())[1:]
DistributedOptimizer.__signature__ = inspect.Signature(_init_parameters)
