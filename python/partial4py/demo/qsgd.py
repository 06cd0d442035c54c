"""QSGD-quantized gradients vs dense allreduce.

The same MLP and data as the eager demo. ``dense`` averages full gradients
with partial4py.allreduce. ``qsgd-B`` sums them with
partial4py.quantized_allreduce at B bits per element (``--bits``, buckets of
``--bucket-size``), through partial4py.compress.QSGDCompressor; with
``--error-feedback`` each rank's rounding error is added to its next
gradient.
"""
from mpi4py import MPI

from partial4py.compress import QSGDCompressor
from partial4py.quantized import wire_bytes

from ._compressed import add_training_options, dense_reduce, print_table, train


def add_options(parser):
    add_training_options(parser)
    parser.add_argument("--bits", default="8,4,2", help="comma-separated bit widths (2, 4, 8)")
    parser.add_argument("--bucket-size", type=int, default=512)
    parser.add_argument("--error-feedback", action="store_true", help="keep each rank's rounding error")


def run(args, comm=MPI.COMM_WORLD):
    def qsgd_reduce(bits):
        def make(count):
            compressor = QSGDCompressor(count, bits=bits, bucket_size=args.bucket_size, seed=args.seed,
                                        error_feedback=args.error_feedback)
            sent = wire_bytes(count, bits, args.bucket_size)
            return lambda gradient: (compressor.allreduce(gradient, comm=comm), sent)
        return make

    widths = [int(b) for b in args.bits.split(",")]
    results = [train("dense", args, comm, dense_reduce(comm))]
    results += [train(f"qsgd-{bits}", args, comm, qsgd_reduce(bits)) for bits in widths]
    if comm.Get_rank() == 0:
        dense = results[0]
        print_table(f"# QSGD demo: {comm.Get_size()} ranks, {args.epochs} epochs, buckets of {args.bucket_size}, "
                    f"error feedback {'on' if args.error_feedback else 'off'}", results)
        for r in results[1:]:
            print(f"# {r['kind']} sends {dense['bytes_per_step'] / r['bytes_per_step']:.1f}x fewer bytes per step; "
                  f"accuracy difference {100 * (r['accuracy'] - dense['accuracy']):+.2f} points")
    return results
