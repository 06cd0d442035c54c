"""Train a small torch model with solo partial allreduce across MPI ranks.
Run: mpirun -n 4 python examples/torch_solo.py   (needs partial4py[torch])"""
import torch
from mpi4py import MPI

import partial4py.torch

comm = MPI.COMM_WORLD
rank = comm.Get_rank()
torch.manual_seed(0)  # identical initial replicas on every rank
model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
true_w = torch.arange(8, dtype=torch.float32) / 8
generator = torch.Generator().manual_seed(rank)  # each rank sees its own data

with partial4py.torch.DistributedOptimizer(torch.optim.SGD(model.parameters(), lr=0.05),
                                           model.parameters(), mode="solo") as optimizer:
    for epoch in range(5):
        for step in range(40):
            x = torch.randn(32, 8, generator=generator)
            loss = torch.nn.functional.mse_loss(model(x).squeeze(1), x @ true_w)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        optimizer.flush()  # nothing pending is lost at the epoch boundary
        losses = comm.gather(float(loss), root=0)
        if rank == 0:
            print(f"epoch {epoch}: mean loss over ranks {sum(losses) / len(losses):.4f}")
