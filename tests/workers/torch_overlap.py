"""DistributedOptimizer's rounds start from gradient hooks during backward,
one bucket per parameter (bucket_bytes=64, float64), in sync and topk mode.
A probe on the first layer's output, whose gradient backward computes
before that layer's own, records how many rounds had started by then. Every
rank also trains a reference with the plain optimizer on the mean of every
rank's gradient, computed here (no library involved)."""
import numpy as np
import torch
from mpi4py import MPI

import partial4py
import partial4py.torch
from _worker import digest, main, raised, report

torch.set_default_dtype(torch.float64)
STEPS = 3


def make_model():
    torch.manual_seed(0)
    layers = [torch.nn.Linear(4, 6), torch.nn.Tanh(), torch.nn.Linear(6, 6), torch.nn.Tanh(),
              torch.nn.Linear(6, 6), torch.nn.Tanh(), torch.nn.Linear(6, 1)]
    return torch.nn.Sequential(*layers)


def batch(rank, step, part=0):
    generator = torch.Generator().manual_seed(10000 * rank + 100 * step + part)
    return torch.randn(8, 4, generator=generator)


def loss_of(model, x):
    return torch.nn.functional.mse_loss(model(x).squeeze(1), x.sum(1))


def set_mean_gradient(reference, size, step, parts):
    """The reference's gradient: the mean over ranks of each rank's gradient
    summed over its parts (backward passes)."""
    params = list(reference.parameters())
    total = [torch.zeros_like(p) for p in params]
    for rank in range(size):
        for part in range(parts):
            for p in params:
                p.grad = None
            loss_of(reference, batch(rank, step, part)).backward()
            for t, p in zip(total, params):
                t += p.grad
    for t, p in zip(total, params):
        p.grad = t / size


def difference(model, reference):
    return max(float((a - b).detach().abs().max()) for a, b in zip(model.parameters(), reference.parameters()))


def flat(model):
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()]).numpy()


def train(comm, mode="sync", overlap=True, parts=1, density=0.01):
    """STEPS steps of SGD; returns the model, the worst difference from the
    reference, and what the probe saw at each step."""
    rank, size = comm.Get_rank(), comm.Get_size()
    model, reference = make_model(), make_model()
    opt = partial4py.torch.DistributedOptimizer(torch.optim.SGD(model.parameters(), lr=0.1), mode=mode, comm=comm,
                                                bucket_bytes=64, overlap=overlap, density=density,
                                                backward_passes_per_step=parts)
    ref_opt = torch.optim.SGD(reference.parameters(), lr=0.1)
    first_weight = model[0].weight
    seen = []

    def probe(grad):
        started = opt._next_to_start
        first_started = any(first_weight is p for b in opt.buckets[:started] for p in b.params)
        seen.append({"started": started, "first_layer_started": first_started})

    def watch(module, inputs, output):
        output.register_hook(probe)

    model[0].register_forward_hook(watch)
    worst, after_backward = 0.0, []
    for step in range(STEPS):
        opt.zero_grad()
        for part in range(parts):
            loss_of(model, batch(rank, step, part)).backward()
            after_backward.append(opt._next_to_start)
        opt.step()
        set_mean_gradient(reference, size, step, parts)
        ref_opt.step()
        worst = max(worst, difference(model, reference))
    result = {"worst": worst, "probe": seen, "after_backward": after_backward, "buckets": len(opt.buckets),
              "contributions": opt.last_contributions, "digest": digest(flat(model))}
    opt.close()
    return result


def too_many_passes(comm):
    """A second backward pass before step() with backward_passes_per_step=1."""
    rank = comm.Get_rank()
    model = make_model()
    opt = partial4py.torch.DistributedOptimizer(torch.optim.SGD(model.parameters(), lr=0.1), mode="sync", comm=comm,
                                                bucket_bytes=64)
    loss_of(model, batch(rank, 0)).backward()
    outcome = raised(lambda: loss_of(model, batch(rank, 1)).backward())
    opt.synchronize()  # waits for the rounds the first pass started
    opt.close()
    return outcome


def flush_in_flight_and_unused(comm):
    """Solo mode: flush() while a backward pass's rounds are in flight
    raises; a parameter that gets no gradient (listed first, so in the last
    bucket) holds its bucket back until step(), which still averages it."""
    rank = comm.Get_rank()
    model = make_model()
    unused = torch.nn.Parameter(torch.ones(3))
    opt = partial4py.torch.DistributedOptimizer(torch.optim.SGD([unused] + list(model.parameters()), lr=0.1),
                                                mode="solo", comm=comm, bucket_bytes=64)
    loss_of(model, batch(rank, 0)).backward()
    flush_outcome = raised(opt.flush)
    opt.step()
    opt.zero_grad()
    loss_of(model, batch(rank, 1)).backward()
    started_with_unused = opt._next_to_start
    opt.step()
    opt.flush()
    result = {"flush": flush_outcome, "started_with_unused": started_with_unused, "buckets": len(opt.buckets),
              "unused_grad_zero": unused.grad is not None and not unused.grad.any(),
              "unused_unchanged": bool((unused.detach() == 1).all())}
    opt.close()
    return result


def body(args):
    comm = MPI.COMM_WORLD
    report(overlap=train(comm), no_overlap=train(comm, overlap=False), accumulation=train(comm, parts=2),
           topk_exact=train(comm, mode="topk", density=1.0), topk=train(comm, mode="topk", density=0.3),
           topk_no_overlap=train(comm, mode="topk", overlap=False, density=0.3),
           too_many_passes=too_many_passes(comm), solo=flush_in_flight_and_unused(comm))


main(body)
