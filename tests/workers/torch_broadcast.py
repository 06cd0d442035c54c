"""partial4py.torch's broadcast helpers under mpirun. Every rank builds its
model, optimizer state and object from its own seed; after the broadcast
each reports digests of what it holds, and the root also what it held
before, so the test can check that every rank now holds the root's bits.
Bad arguments on one rank are checked to raise on every rank."""
import numpy as np
import torch
from mpi4py import MPI

import partial4py.torch as pt
from _worker import communicator, digest, main, raised, report


def make_model(seed, wide=7):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(5, wide), torch.nn.ReLU(), torch.nn.Linear(wide, 3))
    # Dtypes without a NumPy twin, and a buffer that is not contiguous.
    model.register_buffer("brain_float", torch.randn(4, dtype=torch.bfloat16))
    model.register_buffer("strided", torch.randn(6, 4).t())
    return model


def tensors_digest(tensors):
    return digest(np.concatenate([t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy()
                                  for t in tensors]))


def optimizer_digest(optimizer):
    state = optimizer.state_dict()
    tensors = [v for slot in state["state"].values() for v in slot.values() if isinstance(v, torch.Tensor)]
    return {"tensors": tensors_digest(tensors) if tensors else None, "entries": len(state["state"]),
            "lr": [g["lr"] for g in state["param_groups"]]}


def body(args):
    comm, color, _ = communicator(args)
    rank, size = comm.Get_rank(), comm.Get_size()
    root = size - 1
    model = make_model(seed=100 + rank)
    pointers = [t.data_ptr() for t in model.state_dict().values()]
    before = tensors_digest(model.state_dict().values())
    pt.broadcast_parameters(model.state_dict(), root_rank=root, comm=comm)
    in_place = pointers == [t.data_ptr() for t in model.state_dict().values()]
    params = {"before": before, "after": tensors_digest(model.state_dict().values()), "in_place": in_place}

    optimizer = torch.optim.Adam(model.parameters(), lr=0.001 * (rank + 1))
    if rank % 2 == 0 or rank == root:  # the other ranks have no state yet
        torch.manual_seed(rank)
        model(torch.randn(8, 5)).square().sum().backward()
        optimizer.step()
    optimizer_before = optimizer_digest(optimizer)
    pt.broadcast_optimizer_state(optimizer, root_rank=root, comm=comm)
    optim = {"before": optimizer_before, "after": optimizer_digest(optimizer)}

    obj = pt.broadcast_object({"rank": rank, "values": list(range(rank + 3))}, root_rank=root, comm=comm)

    last = rank == size - 1
    errors = {
        "shape": raised(lambda: pt.broadcast_parameters(make_model(1, wide=8 if last else 7).state_dict(),
                                                        root_rank=0, comm=comm)),
        "root_out_of_range": raised(lambda: pt.broadcast_object(1, root_rank=size if last else 0, comm=comm)),
        "different_roots": raised(lambda: pt.broadcast_object(1, root_rank=root if last else 0, comm=comm)),
        "not_tensors": raised(lambda: pt.broadcast_parameters([1, 2] if last else [torch.ones(2)] * 2,
                                                              root_rank=0, comm=comm)),
        "not_optimizer": raised(lambda: pt.broadcast_optimizer_state(object() if last else optimizer,
                                                                     root_rank=0, comm=comm)),
    }
    healthy = pt.broadcast_object(rank, root_rank=0, comm=comm) == 0
    report(color=color, params=params, optim=optim, obj=obj, errors=errors, healthy=healthy)
    if comm is not MPI.COMM_WORLD:
        comm.Free()


main(body)
