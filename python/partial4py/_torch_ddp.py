"""torch.distributed for MPI jobs (re-exported by partial4py.torch): a
rendezvous over mpi4py, so that a job launched by mpirun or srun needs no
MASTER_ADDR or MASTER_PORT, and a DistributedDataParallel communication
hook that averages each gradient bucket with partial4py's dense (sync),
top-k sparse (topk) or QSGD-quantized (qsgd) allreduce instead of the
process group's.

The partial modes (solo, majority, a quorum) are not offered here: DDP
resolves every bucket's future with this step's average on every rank in
lockstep, which a partial round does not give; they stay with
DistributedOptimizer (docs/torch.md)."""
import os
import socket

import torch
import torch.distributed as dist
from mpi4py import MPI

from . import allreduce, quantized_allreduce, sparse_allreduce
from .compress import QSGDCompressor, TopKCompressor
from .errors import Error, InvalidArgumentError

HOOK_MODES = ("sync", "topk", "qsgd")


def _rendezvous_address(comm):
    """(address, port, error) picked on rank 0 and broadcast: loopback when
    every rank runs on rank 0's host, else the address rank 0's host name
    resolves to; a port the system hands out as free there."""
    hosts = comm.allgather(MPI.Get_processor_name())
    picked = (None, None, None)
    if comm.Get_rank() == 0:
        try:
            address = "127.0.0.1" if len(set(hosts)) == 1 else socket.gethostbyname(hosts[0])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                probe.bind((address, 0))
                picked = (address, probe.getsockname()[1], None)
        except OSError as exc:
            picked = (None, None, f"rank 0 cannot open a rendezvous port on {hosts[0]}: {exc}")
    return comm.bcast(picked, root=0), len(set(hosts)) == 1


def init_process_group(backend="gloo", *, comm=None, **options):
    """Collective over ``comm`` (default ``MPI.COMM_WORLD``): initializes
    torch.distributed's default process group with the MPI ranks and size,
    rendezvousing at a TCP port that rank 0 picks and mpi4py broadcasts.
    On one host it uses loopback and, unless ``GLOO_SOCKET_IFNAME`` is set,
    pins gloo's traffic to ``lo``. ``options`` go to
    ``torch.distributed.init_process_group`` (``timeout``, say). Raises
    Error on every rank when rank 0 cannot open the port."""
    comm = MPI.COMM_WORLD if comm is None else comm
    (address, port, error), one_host = _rendezvous_address(comm)
    if error is not None:
        raise Error(error)
    if one_host and backend == "gloo":
        os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    dist.init_process_group(backend, init_method=f"tcp://{address}:{port}", rank=comm.Get_rank(),
                            world_size=comm.Get_size(), **options)


class CommHookState:
    """The state of :func:`comm_hook`: the communicator (default
    ``MPI.COMM_WORLD``, whose ranks must be the process group's), the mode,
    'sync' (dense average), 'topk' (top-k sparse allreduce with error
    feedback per bucket, ``density`` of each bucket's entries per step) or
    'qsgd' (quantized allreduce at ``bits`` bits, the same bits on every
    rank)."""

    def __init__(self, mode="sync", *, comm=None, density=0.01, bits=8):
        if mode not in HOOK_MODES:
            raise InvalidArgumentError(f"comm_hook mode {mode!r} is not one of {HOOK_MODES}; the partial modes "
                                       "need DistributedOptimizer")
        self.mode, self.density, self.bits = mode, density, bits
        self.comm = MPI.COMM_WORLD if comm is None else comm
        self._compressors = {}
        # A bad density or bit width raises here, not inside backward.
        if mode == "topk":
            TopKCompressor(1, density=density)
        if mode == "qsgd":
            QSGDCompressor(1, bits=bits)

    def compressor(self, index, tensor):
        """Bucket index's compressor; a new one when DDP rebuilt its buckets
        (after the first step), whose residual then starts from zero."""
        compressor, dtype = self._compressors.get(index), _numpy_dtype(tensor)
        if compressor is None or compressor.size != tensor.numel() or compressor.dtype != dtype:
            compressor = TopKCompressor(tensor.numel(), density=self.density, dtype=dtype)
            self._compressors[index] = compressor
        return compressor


def _numpy_dtype(tensor):
    return torch.empty(0, dtype=tensor.dtype).numpy().dtype


def comm_hook(state, bucket):
    """A ``DistributedDataParallel.register_comm_hook`` hook: averages the
    bucket over ``state.comm`` and returns a completed future of it."""
    tensor = bucket.buffer()
    size = state.comm.Get_size()
    if state.mode == "sync":
        allreduce(MPI.IN_PLACE, tensor, comm=state.comm)
    elif state.mode == "qsgd":
        quantized_allreduce(MPI.IN_PLACE, tensor, bits=state.bits, comm=state.comm)
    else:
        flat = tensor.detach().cpu().numpy()
        indices, values = state.compressor(bucket.index(), tensor).compress(flat)
        total = sparse_allreduce(indices, values, flat.size, comm=state.comm).to_dense()
        tensor.copy_(torch.from_numpy(total).to(tensor.device))
    tensor.div_(size)
    future = torch.futures.Future()
    future.set_result(tensor)
    return future
