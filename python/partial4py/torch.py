"""PyTorch integration (``pip install partial4py[torch]``): an optimizer
wrapper that averages gradients across MPI ranks with a partial allreduce
(solo, majority, sync, or a quorum k) or with top-k sparse allreduce.

    model = ...; base = torch.optim.SGD(model.parameters(), lr=0.1)
    opt = partial4py.torch.DistributedOptimizer(base, model.parameters(), mode="solo")
    loss.backward(); opt.step(); opt.zero_grad()
    opt.flush()      # at the end of an epoch: applies what is still pending

The core package never imports torch; only this module does. Gradients on
a GPU stay there: buckets are flat CUDA tensors, which the collectives
take as GPU arrays (see docs/gpu.md; needs CuPy).
"""
import numpy as np
import torch

from . import PartialAllreduce, sparse_allreduce
from ._arguments import INT64_MAX, integer
from ._comm import agree_on, lib_comm
from ._keywords import keyword_only
from ._torch_broadcast import broadcast_object, broadcast_optimizer_state, broadcast_parameters
from ._torch_ddp import CommHookState, comm_hook, init_process_group
from .compress import TopKCompressor
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
    bucket_bytes = integer(bucket_bytes, "bucket_bytes", 1, INT64_MAX)
    buckets, current, current_bytes = [], [], 0
    params = [p for p in params if p.requires_grad]
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


class DistributedOptimizer:
    """Wraps a torch optimizer: ``step()`` first averages every gradient
    across the ranks of ``comm``, then steps the wrapped optimizer.

    mode: "solo", "majority", "sync" or an int quorum: one persistent
        :class:`partial4py.PartialAllreduce` per bucket, and the gradient is
        divided by the number of contributions that round summed;
        "topk": top-k sparsification with error feedback (``density``),
        summed with :func:`partial4py.sparse_allreduce`, divided by P.
    bucket_bytes: gradients are flattened into buckets of about this size.

    Construction is collective in the partial modes (bad arguments on one
    rank raise on every rank) and local in topk mode.
    """

    @keyword_only
    def __init__(self, optimizer, params, mode="solo", *, comm=None, bucket_bytes=25 * 2**20,
                 max_staleness=8, timeout=None, density=0.01):
        from mpi4py import MPI
        self.optimizer = optimizer
        self.comm = comm if comm is not None else MPI.COMM_WORLD
        self.mode = mode
        params = list(params)
        if mode == "topk":
            # Local: nothing collective happens before the first step.
            self.buckets = _buckets(params, bucket_bytes)
            self._compressors = [TopKCompressor(b.count, density=density, dtype=b.dtype)
                                 for b in self.buckets]
        else:
            # Collective, as the creation of the PartialAllreduce objects is:
            # bad parameters on one rank fail that creation on every rank.
            self.buckets = agree_on(lib_comm(self.comm), lambda: _buckets(params, bucket_bytes))
            self._partials = [PartialAllreduce(b.count, dtype=b.dtype, comm=self.comm, mode=mode,
                                               max_staleness=max_staleness, timeout=timeout)
                              for b in self.buckets]
        self.last_contributions = []

    @property
    def param_groups(self):
        return self.optimizer.param_groups

    def zero_grad(self, set_to_none=True):
        self.optimizer.zero_grad(set_to_none=set_to_none)

    def state_dict(self):
        return self.optimizer.state_dict()

    def load_state_dict(self, state):
        self.optimizer.load_state_dict(state)

    def synchronize(self):
        """Averages the gradients in place, without stepping."""
        for bucket in self.buckets:
            bucket.gather_gradients()
        if self.mode == "topk":
            size = self.comm.Get_size()
            for bucket, compressor in zip(self.buckets, self._compressors):
                indices, values = compressor.compress(bucket.send)
                bucket.store_sum(sparse_allreduce(indices, values, bucket.count, comm=self.comm).to_dense())
                bucket.scatter_average(1.0 / size)
            self.last_contributions = [size] * len(self.buckets)
            return
        # Every bucket's round is started before any is waited on.
        requests = [partial.start(b.send, b.recv) for partial, b in zip(self._partials, self.buckets)]
        self.last_contributions = []
        for bucket, request in zip(self.buckets, requests):
            info = request.wait()
            self.last_contributions.append(info.contributions)
            bucket.scatter_average(1.0 / info.contributions if info.contributions else 0.0)

    def step(self, closure=None):
        self.synchronize()
        return self.optimizer.step(closure)

    def flush(self):
        """Collective: drains every pending contribution (partial modes) and
        applies it as one more optimizer step. Call at the end of an epoch
        or before a checkpoint."""
        if self.mode == "topk":
            return
        applied = False
        for partial, bucket in zip(self._partials, self.buckets):
            info = partial.flush(bucket.recv)
            bucket.scatter_average(1.0 / info.contributions if info.contributions else 0.0)
            applied |= info.contributions > 0
        if applied:
            self.optimizer.step()

    def close(self):
        for partial in getattr(self, "_partials", []):
            partial.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
