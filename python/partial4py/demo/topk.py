"""Top-k sparse gradients with error feedback vs dense allreduce.

The same MLP and data as the eager demo. ``dense`` averages full gradients
with partial4py.allreduce. ``topk`` sends only the ``--density`` fraction of
largest entries of (residual + gradient) per rank (partial4py.compress),
sums them with partial4py.sparse_allreduce, and keeps the rest as the
residual for the next step.
"""
import numpy as np
from mpi4py import MPI

import partial4py
from partial4py.compress import TopKCompressor

from ._compressed import add_training_options, dense_reduce, print_table, train


def add_options(parser):
    add_training_options(parser)
    parser.add_argument("--density", type=float, default=0.01, help="fraction of gradient entries sent")
    parser.add_argument("--algorithm", default="auto", help="sparse allreduce algorithm")


def run(args, comm=MPI.COMM_WORLD):
    algorithms = set()

    def topk_reduce(count):
        compressor = TopKCompressor(count, density=args.density, index_dtype=np.int32)

        def reduce(gradient):
            indices, values = compressor.compress(gradient)
            result = partial4py.sparse_allreduce(indices, values, count, comm=comm, algorithm=args.algorithm)
            algorithms.add(result.algorithm)
            return result.to_dense(), indices.nbytes + values.nbytes
        return reduce

    results = [train("dense", args, comm, dense_reduce(comm)), train("topk", args, comm, topk_reduce)]
    if comm.Get_rank() == 0:
        dense, topk = results
        print_table(f"# top-k demo: {comm.Get_size()} ranks, {args.epochs} epochs, density {args.density:g}, "
                    f"sparse algorithm {','.join(sorted(algorithms))}", results)
        print(f"# top-k sends {dense['bytes_per_step'] / topk['bytes_per_step']:.1f}x fewer bytes per step; "
              f"accuracy difference {100 * (topk['accuracy'] - dense['accuracy']):+.2f} points")
    return results
