"""Eager-SGD under load imbalance: sync vs solo vs majority allreduce.

Every rank trains the same MLP on its shard of the digits data. Each step,
``--stragglers`` ranks, drawn from a seed all ranks share, sleep an extra
``--extra-ms`` on top of the ``--compute-ms`` that every rank spends (the
eager-SGD paper's way of injecting imbalance). Gradients are averaged with

* sync:     partial4py.allreduce (MPI_Allreduce), divided by P;
* solo:     PartialAllreduce(mode="solo"), divided by info.contributions;
* majority: PartialAllreduce(mode="majority"), likewise.

Partial modes flush at the end of each epoch, so that no gradient is lost.
Every rank receives the same round results, so the replicas stay identical.
"""
import hashlib
import time

import numpy as np
from mpi4py import MPI

import partial4py

from ._model import MLP, batches, load_shards

MODES = ("sync", "solo", "majority")


def add_options(parser):
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated subset of sync,solo,majority")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--batch", type=int, default=16, help="minibatch per rank")
    parser.add_argument("--lr", type=float, default=0.2)
    parser.add_argument("--compute-ms", type=float, default=10.0, help="emulated compute per step, every rank")
    parser.add_argument("--extra-ms", type=float, default=40.0, help="extra sleep of a straggler")
    parser.add_argument("--stragglers", type=int, default=1, help="random stragglers per step")
    parser.add_argument("--max-staleness", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", default="eager_sgd_accuracy.png", help="PNG of accuracy vs wall time ('' for none)")


class _Averager:
    """Averages one flat gradient per step with the mode's collective."""

    def __init__(self, mode, count, comm, max_staleness):
        self.mode, self.comm = mode, comm
        self.partial = None if mode == "sync" else partial4py.PartialAllreduce(
            count, dtype=np.float32, comm=comm, mode=mode, max_staleness=max_staleness, timeout=120)
        self.out = np.empty(count, np.float32)
        self.computed_at, self.returned_at = [], []  # per step, on this machine's monotonic clock

    def average(self, gradient, computed_at):
        self.computed_at.append(computed_at)
        if self.partial is None:
            partial4py.allreduce(gradient, self.out, comm=self.comm)
            update = self.out / self.comm.Get_size()
        else:
            info = self.partial.allreduce(gradient, self.out)
            update = self.out / info.contributions if info.contributions else None
        self.returned_at.append(time.monotonic())
        return update

    def mean_staleness(self):
        """How many updates behind the freshest model each gradient was computed.

        Round r fired when its result first reached any rank. A gradient of
        step k, computed when F rounds had fired, was computed on a model
        that had applied k of them: it is F - k updates stale."""
        returned = np.array(self.comm.allgather(self.returned_at))
        fired_at = np.sort(returned.min(axis=0))
        computed = np.array(self.computed_at)
        lag = np.searchsorted(fired_at, computed, side="right") - np.arange(len(computed))
        lag = np.clip(lag, 0, None)
        return self.comm.allreduce(float(lag.sum())) / self.comm.allreduce(len(lag))

    def drain(self):
        """End of epoch: the partial modes flush what is still pending."""
        if self.partial is None:
            return None
        info = self.partial.flush(self.out)
        return self.out / info.contributions if info.contributions else None

    def close(self):
        if self.partial is not None:
            self.partial.close()


def train(mode, args, comm):
    rank, size = comm.Get_rank(), comm.Get_size()
    (x, y), (x_test, y_test) = load_shards(rank, size, args.seed)
    model = MLP(seed=args.seed)
    averager = _Averager(mode, model.params.size, comm, args.max_staleness)
    steps_per_epoch = comm.allreduce(len(x) // args.batch, op=MPI.MIN)  # the same on every rank
    curve = []
    comm.Barrier()
    start = time.perf_counter()
    step = 0
    for epoch in range(args.epochs):
        for _, (xb, yb) in zip(range(steps_per_epoch), batches(x, y, args.batch, epoch, args.seed)):
            gradient = model.gradient(xb, yb)
            computed_at = time.monotonic()
            stragglers = np.random.default_rng([args.seed, step]).choice(size, args.stragglers, replace=False)
            time.sleep((args.compute_ms + (args.extra_ms if rank in stragglers else 0.0)) / 1000)
            update = averager.average(gradient, computed_at)
            if update is not None:
                model.params -= args.lr * update
            step += 1
        update = averager.drain()
        if update is not None:
            model.params -= args.lr * update
        curve.append((time.perf_counter() - start, model.accuracy(x_test, y_test)))
    comm.Barrier()
    wall = time.perf_counter() - start
    averager.close()
    digest = comm.allgather(hashlib.sha256(model.params.tobytes()).hexdigest())
    staleness = averager.mean_staleness()
    return {"mode": mode, "wall_s": wall, "steps": step, "steps_per_s": step / wall,
            "accuracy": curve[-1][1], "staleness": staleness, "curve": curve,
            "replicas_identical": len(set(digest)) == 1}


def plot(results, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    for result in results:
        times, accuracies = zip(*result["curve"])
        ax.plot(times, accuracies, marker="o", markersize=3, label=result["mode"])
    ax.set_xlabel("wall time (s)")
    ax.set_ylabel("test accuracy")
    ax.set_title("eager-SGD on digits under load imbalance")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def run(args, comm=MPI.COMM_WORLD):
    """Trains once per mode; rank 0 prints each mode's row as soon as that
    mode has finished. sync, the baseline of the speedup column, runs first."""
    modes = args.modes.split(",")
    modes.sort(key=lambda mode: mode != "sync")
    rank0 = comm.Get_rank() == 0
    if rank0:
        print(f"# eager-SGD demo: {comm.Get_size()} ranks, {args.epochs} epochs, compute {args.compute_ms:g} "
              f"ms/step, {args.stragglers} straggler(s) per step +{args.extra_ms:g} ms")
        print(f"{'mode':<10}{'wall(s)':>9}{'steps/s':>9}{'speedup':>9}{'accuracy':>10}{'staleness':>11}", flush=True)
    results = []
    for mode in modes:
        r = train(mode, args, comm)
        results.append(r)
        if rank0:
            sync_wall = results[0]["wall_s"] if results[0]["mode"] == "sync" else float("nan")
            print(f"{r['mode']:<10}{r['wall_s']:>9.2f}{r['steps_per_s']:>9.1f}{sync_wall / r['wall_s']:>8.2f}x"
                  f"{100 * r['accuracy']:>9.2f}%{r['staleness']:>11.2f}", flush=True)
    if not rank0:
        return results
    if not all(r["replicas_identical"] for r in results):
        print("WARNING: model replicas differ between ranks")
    if args.plot:
        plot(results, args.plot)
        print(f"# accuracy vs wall time: {args.plot}")
    return results
