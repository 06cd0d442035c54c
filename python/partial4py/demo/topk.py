"""Top-k sparse gradients with error feedback vs dense allreduce.

The same MLP and data as the eager demo. ``dense`` averages full gradients
with partial4py.allreduce. ``topk`` sends only the ``--density`` fraction of
largest entries of (residual + gradient) per rank (partial4py.compress),
sums them with partial4py.sparse_allreduce, and keeps the rest as the
residual for the next step.
"""
import time

import numpy as np
from mpi4py import MPI

import partial4py
from partial4py.compress import TopKCompressor

from ._model import MLP, batches, load_shards


def add_options(parser):
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=0.2)
    parser.add_argument("--density", type=float, default=0.01, help="fraction of gradient entries sent")
    parser.add_argument("--algorithm", default="auto", help="sparse allreduce algorithm")
    parser.add_argument("--seed", type=int, default=0)


def train(kind, args, comm):
    rank, size = comm.Get_rank(), comm.Get_size()
    (x, y), (x_test, y_test) = load_shards(rank, size, args.seed)
    model = MLP(seed=args.seed)
    n = model.params.size
    compressor = TopKCompressor(n, density=args.density, index_dtype=np.int32) if kind == "topk" else None
    dense_sum = np.empty(n, np.float32)
    steps_per_epoch = comm.allreduce(len(x) // args.batch, op=MPI.MIN)
    sent_bytes = comm_seconds = 0.0
    steps = 0
    algorithms = set()
    for epoch in range(args.epochs):
        for _, (xb, yb) in zip(range(steps_per_epoch), batches(x, y, args.batch, epoch, args.seed)):
            gradient = model.gradient(xb, yb)
            start = time.perf_counter()
            if compressor is None:
                partial4py.allreduce(gradient, dense_sum, comm=comm)
                total = dense_sum
                sent_bytes += gradient.nbytes
            else:
                indices, values = compressor.compress(gradient)
                result = partial4py.sparse_allreduce(indices, values, n, comm=comm, algorithm=args.algorithm)
                total = result.to_dense()
                algorithms.add(result.algorithm)
                sent_bytes += indices.nbytes + values.nbytes
            comm_seconds += time.perf_counter() - start
            model.params -= args.lr * total / size
            steps += 1
    return {"kind": kind, "bytes_per_step": sent_bytes / steps, "comm_ms_per_step": 1e3 * comm_seconds / steps,
            "accuracy": model.accuracy(x_test, y_test), "algorithms": sorted(algorithms)}


def run(args, comm=MPI.COMM_WORLD):
    results = [train(kind, args, comm) for kind in ("dense", "topk")]
    if comm.Get_rank() == 0:
        dense, topk = results
        print(f"# top-k demo: {comm.Get_size()} ranks, {args.epochs} epochs, density {args.density:g}, "
              f"sparse algorithm {','.join(topk['algorithms'])}")
        print(f"{'method':<8}{'bytes/step':>12}{'comm ms/step':>14}{'accuracy':>10}")
        for r in results:
            print(f"{r['kind']:<8}{r['bytes_per_step']:>12.0f}{r['comm_ms_per_step']:>14.3f}{100 * r['accuracy']:>9.2f}%")
        print(f"# top-k sends {dense['bytes_per_step'] / topk['bytes_per_step']:.1f}x fewer bytes per step; "
              f"accuracy difference {100 * (topk['accuracy'] - dense['accuracy']):+.2f} points")
    return results
