"""partial4py.PartialAllreduce under emulated compute and load imbalance,
against MPI_Allreduce running the same loop in the same run."""
import time

import numpy as np
from mpi4py import MPI

import partial4py

from ._osu import Report, array_module, device_notes, sizes, time_loop


def add_options(parser):
    parser.add_argument("-M", dest="modes", default="solo,majority", help="comma-separated modes (or quorums)")
    parser.add_argument("-t", dest="compute_ms", type=float, default=10.0, help="compute per round, every rank")
    parser.add_argument("-e", dest="extra_ms", default="10", help="comma-separated straggler extra times (ms)")
    parser.add_argument("-I", dest="imbalance", default="random:1", help="random:K or fixed:R")
    parser.add_argument("-S", dest="seed", type=int, default=1)
    parser.add_argument("-w", dest="max_staleness", type=int, default=None)


def stragglers(spec, seed, round_number, size):
    kind, _, value = spec.partition(":")
    if kind == "fixed":
        return {int(value) % size}
    rng = np.random.default_rng([seed, round_number])
    return set(rng.choice(size, int(value), replace=False).tolist())


class _Loop:
    """One rank's rounds: compute, straggle if chosen, reduce."""

    def __init__(self, args, comm, extra_ms, reduce):
        self.args, self.comm, self.extra_ms, self.reduce = args, comm, extra_ms, reduce
        self.round = 0

    def __call__(self):
        late = self.comm.Get_rank() in stragglers(self.args.imbalance, self.args.seed, self.round, self.comm.Get_size())
        time.sleep((self.args.compute_ms + (self.extra_ms if late else 0.0)) / 1000)
        self.round += 1
        self.reduce()


def parse_mode(text):
    return int(text) if text.isdigit() else text


def run(args, comm=MPI.COMM_WORLD):
    xp = array_module(args)
    rank, size = comm.Get_rank(), comm.Get_size()
    kind, _, value = args.imbalance.partition(":")
    straggling = 1 if kind == "fixed" else int(value)
    report = Report("OSU-style Partial Allreduce Round-Time Test (partial4py.PartialAllreduce)", args, comm,
                    notes=[f"compute {args.compute_ms:g} ms/round, imbalance {args.imbalance}, int64 sum",
                           "Baseline: partial4py.allreduce (MPI_Allreduce) with the same compute, same run",
                           "Limit: time per round of a rank that never waits: t + e * stragglers / P",
                           *device_notes(xp)],
                    extra_columns=["Extra(ms)", "MPI_Allreduce(us)", "Speedup", "Limit(us)", "Efficiency"])
    for nbytes in sizes(args.sizes):
        count = max(1, nbytes // 8)
        send = xp.full(count, rank + 1, xp.int64)
        recv = xp.empty_like(send)
        for extra_ms in map(float, args.extra_ms.split(",")):
            limit_us = 1000 * (args.compute_ms + extra_ms * straggling / size)
            baseline = time_loop(_Loop(args, comm, extra_ms, lambda: partial4py.allreduce(send, recv, comm=comm)),
                                 args, comm)
            for mode in map(parse_mode, args.modes.split(",")):
                totals = {"results": 0, "contributed": 0}
                with partial4py.PartialAllreduce(count, dtype=np.int64, comm=comm, mode=mode,
                                                 max_staleness=args.max_staleness, timeout=120) as pa:
                    def one_round():
                        pa.allreduce(send, recv)
                        totals["results"] += int(recv[0])
                        totals["contributed"] += int(send[0])
                    timing = time_loop(_Loop(args, comm, extra_ms, one_round), args, comm)
                    pa.flush(recv)
                    totals["results"] += int(recv[0])
                valid = totals["results"] == comm.allreduce(totals["contributed"])  # conservation
                report.note(f"size {count * 8} B, straggler +{extra_ms:g} ms: mode {mode}")
                report.row(count * 8, timing,
                           (extra_ms, baseline[0], baseline[0] / timing[0], limit_us, limit_us / timing[0]), valid,
                           mode=str(mode), imbalance_ms=extra_ms, throughput=1e6 / timing[0],
                           baseline_throughput=1e6 / baseline[0], speedup=baseline[0] / timing[0],
                           efficiency=limit_us / timing[0])
    report.finish()
