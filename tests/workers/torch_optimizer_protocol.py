"""DistributedOptimizer as a torch.optim.Optimizer, in sync mode at float64:
an instance of the wrapped class, driven by an LR scheduler, saved and
loaded with state_dict, grown with add_param_group, cleared with zero_grad,
stepped with a closure and through GradScaler. Every rank also trains a
reference copy with the plain optimizer on the mean of all ranks' gradients,
each computed here (no library involved), and reports the largest
difference; parameter digests let the test check that ranks agree."""
import numpy as np
import torch
from mpi4py import MPI

import partial4py.torch
from _worker import digest, main, report

torch.set_default_dtype(torch.float64)


def make_model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh(), torch.nn.Linear(3, 1))


def batch(rank, step):
    generator = torch.Generator().manual_seed(1000 * rank + step)
    return torch.randn(8, 4, generator=generator)


def loss_of(model, x, extra=None):
    loss = torch.nn.functional.mse_loss(model(x).squeeze(1), x.sum(1))
    return loss if extra is None else loss + (extra * x.mean()).sum()


def set_mean_gradient(reference, params, size, step, extra=None):
    """Gives the reference parameters the mean of every rank's gradient."""
    total = [torch.zeros_like(p) for p in params]
    for rank in range(size):
        for p in params:
            p.grad = None
        loss_of(reference, batch(rank, step), extra).backward()
        for t, p in zip(total, params):
            t += p.grad
    for t, p in zip(total, params):
        p.grad = t / size


def difference(model, reference):
    return max(float((a - b).abs().max()) for a, b in zip(model.parameters(), reference.parameters()))


def flat(model):
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()]).numpy()


def scheduler_and_state(comm):
    """SGD with momentum under StepLR, saved after 3 steps and loaded into a
    new wrapper of a new SGD that goes on for 3 more."""
    rank, size = comm.Get_rank(), comm.Get_size()
    model, reference = make_model(), make_model()
    opt = partial4py.torch.DistributedOptimizer(torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9),
                                                mode="sync", comm=comm, bucket_bytes=64)
    ref_opt = torch.optim.SGD(reference.parameters(), lr=0.1, momentum=0.9)
    schedule = torch.optim.lr_scheduler.StepLR(opt, 1, gamma=0.5)
    ref_schedule = torch.optim.lr_scheduler.StepLR(ref_opt, 1, gamma=0.5)
    worst, rates = 0.0, []
    for step in range(6):
        if step == 3:
            saved, saved_schedule = opt.state_dict(), schedule.state_dict()
            opt.close()
            opt = partial4py.torch.DistributedOptimizer(torch.optim.SGD(model.parameters(), lr=1.0, momentum=0.0),
                                                        mode="sync", comm=comm, bucket_bytes=64)
            opt.load_state_dict(saved)
            schedule = torch.optim.lr_scheduler.StepLR(opt, 1, gamma=0.5)
            schedule.load_state_dict(saved_schedule)
        opt.zero_grad()
        loss_of(model, batch(rank, step)).backward()
        opt.step()
        schedule.step()
        set_mean_gradient(reference, list(reference.parameters()), size, step)
        ref_opt.step()
        ref_schedule.step()
        rates.append((opt.param_groups[0]["lr"], ref_opt.param_groups[0]["lr"]))
        worst = max(worst, difference(model, reference))
    momentum_kept = all("momentum_buffer" in opt.state[p] for p in model.parameters())
    opt.close()
    return {"worst": worst, "rates": rates, "momentum_kept": momentum_kept, "digest": digest(flat(model))}


def param_group_and_closure(comm):
    """A second parameter group added later, with its own learning rate,
    and steps taken with a closure."""
    rank, size = comm.Get_rank(), comm.Get_size()
    model, reference = make_model(), make_model()
    extra, ref_extra = torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(2))
    opt = partial4py.torch.DistributedOptimizer(torch.optim.SGD(model.parameters(), lr=0.1), mode="sync", comm=comm)
    ref_opt = torch.optim.SGD(reference.parameters(), lr=0.1)
    buckets_before = len(opt.buckets)
    opt.add_param_group({"params": extra, "lr": 0.5})
    ref_opt.add_param_group({"params": ref_extra, "lr": 0.5})
    worst, losses, returned = 0.0, [], []
    for step in range(4):
        def closure():
            opt.zero_grad()
            loss = loss_of(model, batch(rank, step), extra)
            loss.backward()
            losses.append(loss)
            return loss
        returned.append(opt.step(closure) is losses[-1])
        set_mean_gradient(reference, list(reference.parameters()) + [ref_extra], size, step, ref_extra)
        ref_opt.step()
        worst = max(worst, difference(model, reference), float((extra - ref_extra).abs().max()))
    opt.zero_grad(set_to_none=False)
    zeroed = all(p.grad is not None and not p.grad.any() for p in list(model.parameters()) + [extra])
    opt.zero_grad()
    cleared = all(p.grad is None for p in list(model.parameters()) + [extra])
    result = {"worst": worst, "extra_moved": bool(extra.detach().abs().sum() > 0), "zeroed": zeroed,
              "cleared": cleared, "step_returned_the_closure_loss": all(returned) and len(losses) == 4, "buckets_added": len(opt.buckets) - buckets_before,
              "digest": digest(np.concatenate([flat(model), extra.detach().numpy()]))}
    opt.close()
    return result


def grad_scaler(comm):
    """GradScaler with an inf in the last rank's gradient at step 1: after
    synchronize every rank sees it, so every rank skips that step and halves
    its scale; the other steps match the reference."""
    rank, size = comm.Get_rank(), comm.Get_size()
    model, reference = make_model(), make_model()
    opt = partial4py.torch.DistributedOptimizer(torch.optim.SGD(model.parameters(), lr=0.1), mode="sync", comm=comm)
    ref_opt = torch.optim.SGD(reference.parameters(), lr=0.1)
    scaler = torch.amp.GradScaler("cpu", init_scale=1024.0)
    worst, scales = 0.0, []
    for step in range(4):
        opt.zero_grad()
        x = batch(rank, step)
        if step == 1 and rank == size - 1:
            x[0, 0] = float("inf")
        scaler.scale(loss_of(model, x)).backward()
        opt.synchronize()
        scaler.unscale_(opt)
        with opt.skip_synchronize():
            scaler.step(opt)
        scaler.update()
        scales.append(scaler.get_scale())
        if step != 1:
            set_mean_gradient(reference, list(reference.parameters()), size, step)
            ref_opt.step()
        worst = max(worst, difference(model, reference))
    opt.close()
    return {"worst": worst, "scales": scales, "digest": digest(flat(model))}


def body(args):
    comm = MPI.COMM_WORLD
    model = make_model()
    opt = partial4py.torch.DistributedOptimizer(torch.optim.Adam(model.parameters()), mode="sync", comm=comm)
    kinds = {"class": type(opt).__name__, "is_adam": isinstance(opt, torch.optim.Adam),
             "is_optimizer": isinstance(opt, torch.optim.Optimizer),
             "is_distributed": isinstance(opt, partial4py.torch.DistributedOptimizer),
             "shares_groups": opt.param_groups is opt.optimizer.param_groups}
    opt.close()
    # A scheduler made for the optimizer before it is wrapped patches that
    # optimizer's own step; the wrapper's step must still average.
    base = torch.optim.SGD(model.parameters(), lr=0.1)
    torch.optim.lr_scheduler.StepLR(base, 1)
    with partial4py.torch.DistributedOptimizer(base, mode="sync", comm=comm) as opt:
        loss_of(model, batch(comm.Get_rank(), 0)).backward()
        opt.step()
        kinds["averaged_after_base_scheduler"] = opt.last_contributions == [comm.Get_size()]
    report(kinds=kinds, scheduler=scheduler_and_state(comm), groups=param_group_and_closure(comm),
           scaler=grad_scaler(comm))


main(body)
