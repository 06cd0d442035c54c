"""PyTorch integration (``pip install partial4py[torch]``): an optimizer
wrapper that averages gradients across MPI ranks with a partial allreduce
(solo, majority, sync, or a quorum k) or with top-k sparse allreduce.

    model = ...; base = torch.optim.SGD(model.parameters(), lr=0.1)
    opt = partial4py.torch.DistributedOptimizer(base, model.parameters(), mode="solo")
    loss.backward(); opt.step(); opt.zero_grad()
    opt.flush()      # at the end of an epoch: applies what is still pending

The core package never imports torch; only this module does. Gradients on
a GPU are staged through host memory.
"""
import numpy as np
import torch

from . import PartialAllreduce, sparse_allreduce
from .compress import TopKCompressor
from .errors import DatatypeError, InvalidArgumentError

_NUMPY_DTYPES = {torch.float32: np.float32, torch.float64: np.float64}


class _Bucket:
    """Parameters whose gradients travel together in one flat buffer."""

    def __init__(self, params, dtype):
        self.params = params
        self.dtype = dtype
        self.sizes = [p.numel() for p in params]
        count = sum(self.sizes)
        self.send = np.zeros(count, dtype)
        self.recv = np.zeros(count, dtype)
        self.send_views = self._views(self.send)
        self.recv_views = self._views(self.recv)

    def _views(self, flat):
        views, offset = [], 0
        tensor = torch.from_numpy(flat)
        for p, size in zip(self.params, self.sizes):
            views.append(tensor[offset:offset + size].view_as(p))
            offset += size
        return views

    def gather_gradients(self):
        for p, view in zip(self.params, self.send_views):
            if p.grad is None:
                view.zero_()
            else:
                view.copy_(p.grad)

    def scatter_average(self, scale):
        for p, view in zip(self.params, self.recv_views):
            if p.grad is None:
                p.grad = torch.empty_like(p)
            p.grad.copy_(view).mul_(scale)


def _buckets(params, bucket_bytes):
    buckets, current, current_bytes = [], [], 0
    params = [p for p in params if p.requires_grad]
    if not params:
        raise InvalidArgumentError("no parameters that require gradients")
    dtype = params[0].dtype
    for p in params:
        if p.dtype not in _NUMPY_DTYPES:
            raise DatatypeError(f"parameters of dtype {p.dtype} are not supported (float32, float64)")
        if p.dtype != dtype:
            raise DatatypeError("all parameters must have one dtype")
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
    """

    def __init__(self, optimizer, params, mode="solo", comm=None, bucket_bytes=25 * 2**20,
                 max_staleness=8, timeout=None, density=0.01):
        from mpi4py import MPI
        self.optimizer = optimizer
        self.comm = comm if comm is not None else MPI.COMM_WORLD
        self.mode = mode
        self.buckets = _buckets(list(params), bucket_bytes)
        if mode == "topk":
            self._compressors = [TopKCompressor(b.send.size, density=density, dtype=b.dtype)
                                 for b in self.buckets]
        else:
            self._partials = [PartialAllreduce(b.send.size, dtype=b.dtype, comm=self.comm, mode=mode,
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
                bucket.recv[...] = sparse_allreduce(indices, values, bucket.send.size, comm=self.comm).to_dense()
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
