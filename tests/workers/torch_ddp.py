"""partial4py.torch's DDP support under mpirun: init_process_group
rendezvouses without MASTER_ADDR/MASTER_PORT; a DDP model with comm_hook in
sync mode follows the same parameters as one on gloo's own allreduce (same
seed, same per-rank data); topk and qsgd modes train and keep the ranks identical;
a partial mode is refused."""
import os

import numpy as np
import torch
import torch.distributed as dist
from mpi4py import MPI

import partial4py.torch as pt
from _worker import digest, main, raised, report

STEPS = 6


def make_model():
    torch.manual_seed(1234)
    return torch.nn.Sequential(torch.nn.Linear(10, 32), torch.nn.Tanh(), torch.nn.Linear(32, 1))


def batches(rank):
    generator = torch.Generator().manual_seed(100 + rank)
    inputs = torch.randn(STEPS, 16, 10, generator=generator)
    return inputs, inputs.sum(dim=2, keepdim=True) * 0.3


def evaluate(ddp, rank):
    inputs, targets = batches(rank)
    with torch.no_grad():
        return float(torch.nn.functional.mse_loss(ddp.module(inputs), targets))


def train(ddp, rank, lr=0.05, steps=STEPS):
    """The loss on all of this rank's data before and after the steps."""
    optimizer = torch.optim.SGD(ddp.parameters(), lr=lr)
    inputs, targets = batches(rank)
    before = evaluate(ddp, rank)
    for step in range(steps):
        optimizer.zero_grad()
        torch.nn.functional.mse_loss(ddp(inputs[step % STEPS]), targets[step % STEPS]).backward()
        optimizer.step()
    return [before, evaluate(ddp, rank)]


def flat_parameters(module):
    return torch.cat([p.detach().reshape(-1) for p in module.parameters()]).numpy()


def body(args):
    comm = MPI.COMM_WORLD
    rank = comm.Get_rank()
    had_master = "MASTER_ADDR" in os.environ or "MASTER_PORT" in os.environ
    pt.init_process_group("gloo")
    # Small buckets, so that a model this size has several.
    reference = torch.nn.parallel.DistributedDataParallel(make_model(), bucket_cap_mb=0.001)
    train(reference, rank)
    hooked = torch.nn.parallel.DistributedDataParallel(make_model(), bucket_cap_mb=0.001)
    hooked.register_comm_hook(pt.CommHookState("sync"), pt.comm_hook)
    train(hooked, rank)
    sparse = torch.nn.parallel.DistributedDataParallel(make_model(), bucket_cap_mb=0.001)
    sparse.register_comm_hook(pt.CommHookState("topk", density=0.3), pt.comm_hook)
    topk_losses = train(sparse, rank, lr=0.05, steps=5 * STEPS)
    quantized = torch.nn.parallel.DistributedDataParallel(make_model(), bucket_cap_mb=0.001)
    quantized.register_comm_hook(pt.CommHookState("qsgd", bits=4), pt.comm_hook)
    qsgd_losses = train(quantized, rank, lr=0.05, steps=5 * STEPS)
    refused = raised(lambda: pt.CommHookState("solo"))
    bad_bits = raised(lambda: pt.CommHookState("qsgd", bits=3))
    report(had_master=had_master, group=[dist.get_rank(), dist.get_world_size()],
           backend=dist.get_backend(),
           reference=flat_parameters(reference).tolist(), hooked=flat_parameters(hooked).tolist(),
           topk=digest(flat_parameters(sparse)), topk_losses=topk_losses, refused=refused,
           qsgd=digest(flat_parameters(quantized)), qsgd_losses=qsgd_losses, bad_bits=bad_bits)
    dist.destroy_process_group()


main(body)
