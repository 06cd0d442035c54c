"""The training loop that the compression demos share: the eager demo's MLP
and data, one gradient sum per step, and what each rank sent."""
import time

from mpi4py import MPI

from ._model import MLP, batches, load_shards


def add_training_options(parser):
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=0)


def train(kind, args, comm, make_reduce):
    """Trains with reduce = make_reduce(parameter count), which returns
    (the sum of every rank's gradient, bytes this rank sent) for a gradient."""
    rank, size = comm.Get_rank(), comm.Get_size()
    (x, y), (x_test, y_test) = load_shards(rank, size, args.seed)
    model = MLP(seed=args.seed)
    reduce = make_reduce(model.params.size)
    steps_per_epoch = comm.allreduce(len(x) // args.batch, op=MPI.MIN)
    sent_bytes = comm_seconds = 0.0
    steps = 0
    for epoch in range(args.epochs):
        for _, (xb, yb) in zip(range(steps_per_epoch), batches(x, y, args.batch, epoch, args.seed)):
            gradient = model.gradient(xb, yb)
            start = time.perf_counter()
            total, sent = reduce(gradient)
            comm_seconds += time.perf_counter() - start
            sent_bytes += sent
            model.params -= args.lr * total / size
            steps += 1
    return {"kind": kind, "bytes_per_step": sent_bytes / steps, "comm_ms_per_step": 1e3 * comm_seconds / steps,
            "accuracy": model.accuracy(x_test, y_test)}


def dense_reduce(comm):
    """make_reduce for the dense baseline: partial4py.allreduce."""
    import numpy as np

    import partial4py

    def make(count):
        total = np.empty(count, np.float32)

        def reduce(gradient):
            partial4py.allreduce(gradient, total, comm=comm)
            return total, gradient.nbytes
        return reduce
    return make


def print_table(title, results):
    print(title)
    print(f"{'method':<10}{'bytes/step':>12}{'comm ms/step':>14}{'accuracy':>10}")
    for r in results:
        print(f"{r['kind']:<10}{r['bytes_per_step']:>12.0f}{r['comm_ms_per_step']:>14.3f}{100 * r['accuracy']:>9.2f}%")
