"""The sparse `auto` regret table: every algorithm and `auto` over the grid
N in {2^16, 2^20, 2^24} x density in {0.1, 1, 10, 50}% at this run's P, with
auto's ratio to the best algorithm in each cell (docs/performance.md)."""
import copy
import time

from mpi4py import MPI

import partial4py

from ._osu import Report, array_module, device_notes, time_loop
from .sparse import ALGORITHMS, rank_input


def add_options(parser):
    parser.add_argument("--exponents", default="16,20,24", help="N = 2**e for each e")
    parser.add_argument("--densities", default="0.001,0.01,0.1,0.5")
    parser.add_argument("-S", dest="seed", type=int, default=1)
    parser.add_argument("--trials", type=int, default=3,
                        help="rounds over all algorithms per cell; each time is the median of its rounds")


def iterations_for(indices, values, n, args, comm, loop_seconds=0.02, most=1000):
    """At least -i iterations, and enough that a timed loop of the fastest
    calls lasts loop_seconds: a few calls of 30 µs time mostly noise."""
    partial4py.sparse_allreduce(indices, values, n, comm=comm)
    start = time.perf_counter()
    partial4py.sparse_allreduce(indices, values, n, comm=comm)
    seconds = comm.allreduce(time.perf_counter() - start, MPI.MAX)
    return max(args.iterations, min(most, int(loop_seconds / max(seconds, 1e-9))))


def median_timing(timings):
    """The (avg, min, max) timing whose average is the median of the rounds."""
    return sorted(timings)[len(timings) // 2]


def run(args, comm=MPI.COMM_WORLD):
    xp = array_module(args)
    rank = comm.Get_rank()
    report = Report("Sparse allreduce auto regret (time per algorithm and auto's ratio to the best)", args, comm,
                    notes=["float32 values, int32 uniform indices; Size = dense bytes", *device_notes(xp)],
                    extra_columns=["Density(%)", "Best(us)", "AutoRatio"] + [f"{a}(us)" for a in ALGORITHMS])
    for exponent in map(int, args.exponents.split(",")):
        n = 2**exponent
        for density in map(float, args.densities.split(",")):
            indices, values = map(xp.asarray, rank_input(args.seed, rank, n, density, "uniform"))
            cell_args = copy.copy(args)
            cell_args.iterations = iterations_for(indices, values, n, args, comm)
            trials, chosen = {a: [] for a in ALGORITHMS + ["auto"]}, None
            # Rounds interleave the algorithms, so that a noisy moment on a
            # shared node hits them alike instead of one of them.
            for _ in range(args.trials):
                for algorithm in ALGORITHMS + ["auto"]:
                    last = [None]  # only the latest result is kept alive

                    def reduce():
                        last[0] = partial4py.sparse_allreduce(indices, values, n, comm=comm, algorithm=algorithm)
                    trials[algorithm].append(time_loop(reduce, cell_args, comm))
                    if algorithm == "auto":
                        chosen = last[0].algorithm
            times = {a: median_timing(t) for a, t in trials.items()}
            best = min(ALGORITHMS, key=lambda a: times[a][0])
            ratio = times["auto"][0] / times[best][0]
            report.note(f"N=2^{exponent} density {density:g}: best {best}, auto chose {chosen}")
            report.row(n * 4, times["auto"], [100 * density, times[best][0], ratio] + [times[a][0] for a in ALGORITHMS],
                       exponent=exponent, density=density, best=best, chosen=chosen, auto_ratio=ratio,
                       times={a: times[a][0] for a in ALGORITHMS},
                       trials={a: [t[0] for t in trials[a]] for a in trials})
    report.finish()
