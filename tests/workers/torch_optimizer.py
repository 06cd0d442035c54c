"""The torch DistributedOptimizer under mpirun: sync averaging equals manual
averaging; solo training converges. On the CPU, or with args["device"] =
"cuda" on this rank's GPU."""
import numpy as np
import torch
from mpi4py import MPI

import partial4py.torch
from _worker import digest, main, report


def make_model(device):
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.Tanh(), torch.nn.Linear(5, 1)).to(device)


def local_gradients(model, rank, step, device):
    generator = torch.Generator().manual_seed(1000 * rank + step)
    x = torch.randn(16, 6, generator=generator).to(device)
    model.zero_grad()
    torch.nn.functional.mse_loss(model(x).squeeze(1), x.sum(1)).backward()
    return [p.grad.detach().cpu().numpy().copy() for p in model.parameters()]


def check_sync_average(comm, device):
    rank, size = comm.Get_rank(), comm.Get_size()
    model = make_model(device)
    # A tiny bucket size forces several buckets, each its own PartialAllreduce.
    optimizer = partial4py.torch.DistributedOptimizer(torch.optim.SGD(model.parameters(), lr=0.1),
                                                      model.parameters(), mode="sync", comm=comm,
                                                      bucket_bytes=64)
    worst = 0.0
    for step in range(5):
        mine = local_gradients(model, rank, step, device)
        everyone = comm.allgather(mine)  # the manual reference, outside the library
        expected = [np.mean([grads[i] for grads in everyone], axis=0) for i in range(len(mine))]
        optimizer.synchronize()
        for p, reference in zip(model.parameters(), expected):
            averaged = p.grad.cpu().numpy()
            np.testing.assert_allclose(averaged, reference, rtol=1e-5, atol=1e-6)
            worst = max(worst, float(np.abs(averaged - reference).max()))
        assert optimizer.last_contributions == [size] * len(optimizer.buckets)
        optimizer.optimizer.step()
    optimizer.close()
    return worst, len(optimizer.buckets)


def solo_training_loss(comm, mode, device, bits):
    rank = comm.Get_rank()
    model = make_model(device)
    generator = torch.Generator().manual_seed(rank)
    losses = []
    with partial4py.torch.DistributedOptimizer(torch.optim.SGD(model.parameters(), lr=0.05),
                                               model.parameters(), mode=mode, comm=comm, bits=bits) as optimizer:
        for epoch in range(4):
            for _ in range(30):
                x = torch.randn(32, 6, generator=generator).to(device)
                loss = torch.nn.functional.mse_loss(model(x).squeeze(1), x.sum(1))
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                losses.append(float(loss))
            optimizer.flush()
    parameters = torch.cat([p.detach().cpu().reshape(-1) for p in model.parameters()]).numpy()
    return float(np.mean(losses[:10])), float(np.mean(losses[-10:])), digest(parameters)


def body(args):
    comm = MPI.COMM_WORLD
    device = torch.device(args.get("device", "cpu"))
    if device.type == "cuda":
        torch.cuda.set_device(comm.Get_rank() % torch.cuda.device_count())
        device = torch.device("cuda", torch.cuda.current_device())
    worst, nbuckets = check_sync_average(comm, device)
    first, last, parameters = solo_training_loss(comm, args.get("mode", "solo"), device, args.get("bits", 8))
    report(worst_error=worst, buckets=nbuckets, first_loss=first, last_loss=last, parameters=parameters)


main(body)
