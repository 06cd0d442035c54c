"""The torch DistributedOptimizer under mpirun: sync averaging equals manual
averaging; solo training converges."""
import numpy as np
import torch
from mpi4py import MPI

import partial4py.torch
from _worker import main, report


def make_model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.Tanh(), torch.nn.Linear(5, 1))


def local_gradients(model, rank, step):
    generator = torch.Generator().manual_seed(1000 * rank + step)
    x = torch.randn(16, 6, generator=generator)
    model.zero_grad()
    torch.nn.functional.mse_loss(model(x).squeeze(1), x.sum(1)).backward()
    return [p.grad.detach().numpy().copy() for p in model.parameters()]


def check_sync_average(comm):
    rank, size = comm.Get_rank(), comm.Get_size()
    model = make_model()
    # A tiny bucket size forces several buckets, each its own PartialAllreduce.
    optimizer = partial4py.torch.DistributedOptimizer(torch.optim.SGD(model.parameters(), lr=0.1),
                                                      model.parameters(), mode="sync", comm=comm,
                                                      bucket_bytes=64)
    worst = 0.0
    for step in range(5):
        mine = local_gradients(model, rank, step)
        everyone = comm.allgather(mine)  # the manual reference, outside the library
        expected = [np.mean([grads[i] for grads in everyone], axis=0) for i in range(len(mine))]
        optimizer.synchronize()
        for p, reference in zip(model.parameters(), expected):
            np.testing.assert_allclose(p.grad.numpy(), reference, rtol=1e-5, atol=1e-6)
            worst = max(worst, float(np.abs(p.grad.numpy() - reference).max()))
        assert optimizer.last_contributions == [size] * len(optimizer.buckets)
        optimizer.optimizer.step()
    optimizer.close()
    return worst, len(optimizer.buckets)


def solo_training_loss(comm, mode):
    rank = comm.Get_rank()
    model = make_model()
    generator = torch.Generator().manual_seed(rank)
    losses = []
    with partial4py.torch.DistributedOptimizer(torch.optim.SGD(model.parameters(), lr=0.05),
                                               model.parameters(), mode=mode, comm=comm) as optimizer:
        for epoch in range(4):
            for _ in range(30):
                x = torch.randn(32, 6, generator=generator)
                loss = torch.nn.functional.mse_loss(model(x).squeeze(1), x.sum(1))
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                losses.append(float(loss))
            optimizer.flush()
    return float(np.mean(losses[:10])), float(np.mean(losses[-10:]))


def body(args):
    comm = MPI.COMM_WORLD
    worst, nbuckets = check_sync_average(comm)
    first, last = solo_training_loss(comm, args.get("mode", "solo"))
    report(worst_error=worst, buckets=nbuckets, first_loss=first, last_loss=last)


main(body)
