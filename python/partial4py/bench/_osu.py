"""The OSU conventions in Python (as in OMB-Py): options, timing and output.

Timing: barrier outside the timed region, warm-up discarded, the per-rank
mean latency reduced to min/avg/max across ranks. With CuPy buffers every
timed call is followed by a synchronization of the current stream inside
the timed region, so that its copies back to the GPU count.
"""
import json
import time

import numpy
from mpi4py import MPI


def add_osu_options(parser):
    parser.add_argument("-m", dest="sizes", default="4:1048576", metavar="[MIN:]MAX",
                        help="message sizes in bytes, doubled from MIN to MAX")
    parser.add_argument("-i", dest="iterations", type=int, default=100, help="timed iterations")
    parser.add_argument("-x", dest="warmup", type=int, default=10, help="warm-up iterations")
    parser.add_argument("-f", dest="full", action="store_true", help="min, max and iteration columns")
    parser.add_argument("-c", dest="validate", action="store_true", help="validate every result")
    parser.add_argument("-d", dest="device", choices=["cuda"], help="device buffers (CuPy)")
    parser.add_argument("--buffer", choices=["numpy", "cupy"], default="numpy",
                        help="array type of the buffers")
    parser.add_argument("--json", dest="json_file", metavar="FILE", help="also write the results as JSON")


def sizes(spec):
    low, _, high = spec.rpartition(":")
    low, high = int(low or 4), int(high)
    if low < 1 or high < low:
        raise SystemExit(f"-m {spec}: need 1 <= MIN <= MAX")
    size = low
    while size <= high:
        yield size
        size *= 2


def array_module(args):
    if args.device == "cuda" or args.buffer == "cupy":
        try:
            import cupy
        except ImportError:
            raise SystemExit("--buffer cupy / -d cuda needs CuPy and a GPU") from None
        return cupy
    return numpy


def device_notes(xp):
    """The header notes that say how GPU buffers are timed."""
    if xp is numpy:
        return []
    from ..mpi_cuda import cuda_aware
    way = "device pointers (CUDA-aware MPI)" if cuda_aware() else "host copies (MPI is not CUDA-aware)"
    return [f"Buffers: CuPy on the GPU; each timed call ends with a stream synchronization; "
            f"the MPI_Allreduce baseline passes {way}"]


def to_numpy(xp, array):
    """A NumPy array of a benchmark buffer, for validation."""
    return array if xp is numpy else xp.asnumpy(array)


def _synchronize_device():
    import cupy
    cupy.cuda.get_current_stream().synchronize()


def mpi_allreduce(send, recv, comm, xp):
    """A call of the MPI_Allreduce baseline (sum) on the benchmark's buffers.
    CuPy buffers go to MPI as device pointers when it is CUDA-aware (after
    a stream synchronization: mpi4py does not synchronize), else through
    host copies, as a program without this library would."""
    if xp is numpy:
        return lambda: comm.Allreduce(send, recv, op=MPI.SUM)
    from ..mpi_cuda import cuda_aware
    if cuda_aware():
        return lambda: (_synchronize_device(), comm.Allreduce(send, recv, op=MPI.SUM))
    host_send, host_recv = xp.asnumpy(send), numpy.empty(recv.shape, recv.dtype)

    def through_host():
        send.get(out=host_send)
        comm.Allreduce(host_send, host_recv, op=MPI.SUM)
        recv.set(host_recv)
    return through_host


def _then_synchronize_device(body):
    def step():
        body()
        _synchronize_device()
    return step


def time_loop(body, args, comm):
    """The per-rank mean latency of body(), reduced to (avg, min, max) in µs."""
    step = body if array_module(args) is numpy else _then_synchronize_device(body)
    comm.Barrier()
    for _ in range(args.warmup):
        step()
    comm.Barrier()
    start = time.perf_counter()
    for _ in range(args.iterations):
        step()
    mean_us = (time.perf_counter() - start) * 1e6 / args.iterations
    comm.Barrier()
    return (comm.allreduce(mean_us, MPI.SUM) / comm.Get_size(),
            comm.allreduce(mean_us, MPI.MIN), comm.allreduce(mean_us, MPI.MAX))


class Report:
    """Prints the OSU header and rows on rank 0 and keeps them for --json."""

    def __init__(self, title, args, comm, notes=(), extra_columns=(), params=None):
        self.args, self.comm, self.rows = args, comm, []
        self.extra_columns = list(extra_columns)
        self.meta = {"benchmark": title, "nprocs": comm.Get_size(), "params": params or {},
                     "mpi": MPI.Get_library_version().splitlines()[0].strip("\x00 ")}
        if comm.Get_rank() == 0:
            print(f"# {title}")
            for note in notes:
                print(f"# {note}")
            header = f"{'# Size':<10}{'Avg Latency(us)':>18}"
            if args.full:
                header += f"{'Min Latency(us)':>18}{'Max Latency(us)':>18}{'Iterations':>12}"
            header += "".join(f"{name:>{max(len(name) + 3, 14)}}" for name in self.extra_columns)
            if args.validate:
                header += f"{'Validation':>12}"
            print(header, flush=True)

    def note(self, text):
        """A '# ' line between blocks of rows (OSU parsers skip it)."""
        if self.comm.Get_rank() == 0:
            print(f"# {text}", flush=True)

    def row(self, size, timing, extra=(), valid=True, **fields):
        valid = self.comm.allreduce(bool(valid), MPI.LAND)
        avg, low, high = timing
        self.rows.append({"size": size, "avg_us": avg, "min_us": low, "max_us": high,
                          "iterations": self.args.iterations, "valid": valid,
                          **dict(zip(self.extra_columns, extra)), **fields})
        if self.comm.Get_rank() != 0:
            return
        line = f"{size:<10}{avg:>18.2f}"
        if self.args.full:
            line += f"{low:>18.2f}{high:>18.2f}{self.args.iterations:>12}"
        line += "".join(f"{value:>{max(len(name) + 3, 14)}.2f}" for name, value in zip(self.extra_columns, extra))
        if self.args.validate:
            line += f"{'Pass' if valid else 'Fail':>12}"
        print(line, flush=True)

    def finish(self):
        if self.args.json_file and self.comm.Get_rank() == 0:
            with open(self.args.json_file, "w") as f:
                json.dump({**self.meta, "rows": self.rows}, f, indent=1)
