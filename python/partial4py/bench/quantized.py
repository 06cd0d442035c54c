"""partial4py.quantized_allreduce (QSGD) of float32 against mpi4py's
Comm.Allreduce of the same vector (the MPI_Allreduce baseline), one row per
bit width, in the same run."""
import numpy as np
from mpi4py import MPI

import partial4py
from partial4py.quantized import wire_bytes

from .._binding import ffi, lib
from ._osu import Report, array_module, device_notes, mpi_allreduce, sizes, time_loop, to_numpy


def add_options(parser):
    parser.add_argument("-b", dest="bits", default="8,4,2", help="comma-separated bit widths (2, 4, 8)")
    parser.add_argument("-B", dest="bucket_size", type=int, default=512, help="elements per bucket scale")
    parser.add_argument("-S", dest="seed", type=int, default=1, help="seed of the stochastic rounding")


def rank_input(rank, count):
    return np.random.default_rng([rank, count]).uniform(-1, 1, count).astype(np.float32)


def within_error(result, inputs, bits, bucket_size):
    """Whether result is within the quantization's error of the exact sum:
    less than one level step of every rank's bucket scale (stage one) plus
    one of the sum's, which their sum bounds (stage two)."""
    if len(inputs) == 1:
        return bool(np.array_equal(result, inputs[0]))
    starts = np.arange(0, result.size, bucket_size)
    lengths = np.diff(np.append(starts, result.size))
    scales = sum(np.maximum.reduceat(np.abs(x), starts).astype(np.float64) for x in inputs)
    bound = np.repeat(scales * (2 / (2 ** (bits - 1) - 1) + 1e-5), lengths)
    exact = np.sum([x.astype(np.float64) for x in inputs], axis=0)
    return bool(np.all(np.abs(result - exact) <= bound))


def codec_note(bits, bucket_size):
    encode, decode = ffi.new("double *"), ffi.new("double *")
    if lib.lp_quantized_measure_codec(bits, bucket_size, lib.LP_QUANTIZED_SCALE_MAX, encode, decode):
        return f"{bits} bits: codec not measured"
    return (f"{bits} bits, codec alone on one core: quantize {encode[0] / 1e9:.2f} GB/s, "
            f"dequantize-and-add {decode[0] / 1e9:.2f} GB/s of float32 input")


def run(args, comm=MPI.COMM_WORLD):
    xp = array_module(args)
    widths = [int(b) for b in args.bits.split(",")]
    report = Report("OSU-style Quantized Allreduce Latency Test (partial4py.quantized_allreduce, float32)", args,
                    comm, notes=[f"Buckets of {args.bucket_size}, max scale, seed {args.seed}; input uniform in [-1, 1]",
                                 "Baseline: mpi4py Comm.Allreduce of the same vector, in the same run",
                                 *[codec_note(b, args.bucket_size) for b in widths], *device_notes(xp)],
                    extra_columns=["MPI_Allreduce(us)", "Speedup", "Bits", "Wire(B)"],
                    params={"bucket_size": args.bucket_size})
    rank, size = comm.Get_rank(), comm.Get_size()
    for nbytes in sizes(args.sizes):
        count = max(1, nbytes // 4)
        send = xp.asarray(rank_input(rank, count))
        recv = xp.empty_like(send)
        baseline = time_loop(mpi_allreduce(send, recv, comm, xp), args, comm)
        inputs = [rank_input(r, count) for r in range(size)] if args.validate else None
        for bits in widths:
            timing = time_loop(lambda: partial4py.quantized_allreduce(
                send, recv, bits=bits, bucket_size=args.bucket_size, seed=args.seed, comm=comm), args, comm)
            valid = inputs is None or within_error(to_numpy(xp, recv), inputs, bits, args.bucket_size)
            wire = wire_bytes(count, bits, args.bucket_size)
            report.row(count * 4, timing, (baseline[0], baseline[0] / timing[0], bits, wire), valid, bits=bits,
                       speedup=baseline[0] / timing[0], wire_bytes=wire)
    report.finish()
