"""The sparse `auto` regret table: every algorithm and `auto` over the SPEC
grid (N x density) at this run's P, and auto's ratio to the best."""
import numpy as np
from mpi4py import MPI

import partial4py

from ._osu import Report, time_loop
from .sparse import ALGORITHMS, rank_input


def add_options(parser):
    parser.add_argument("--exponents", default="16,20,24", help="N = 2**e for each e")
    parser.add_argument("--densities", default="0.001,0.01,0.1,0.5")
    parser.add_argument("-S", dest="seed", type=int, default=1)


def run(args, comm=MPI.COMM_WORLD):
    rank = comm.Get_rank()
    report = Report("Sparse allreduce auto regret (time per algorithm and auto's ratio to the best)", args, comm,
                    notes=["float32 values, int32 uniform indices; Size = dense bytes"],
                    extra_columns=["Density(%)", "Best(us)", "AutoRatio"] + [f"{a}(us)" for a in ALGORITHMS])
    for exponent in map(int, args.exponents.split(",")):
        n = 2**exponent
        for density in map(float, args.densities.split(",")):
            indices, values = rank_input(args.seed, rank, n, density, "uniform")
            times, chosen = {}, None
            for algorithm in ALGORITHMS + ["auto"]:
                last = [None]  # only the latest result is kept alive

                def reduce():
                    last[0] = partial4py.sparse_allreduce(indices, values, n, comm=comm, algorithm=algorithm)
                times[algorithm] = time_loop(reduce, args, comm)
                if algorithm == "auto":
                    chosen = last[0].algorithm
            best = min(ALGORITHMS, key=lambda a: times[a][0])
            ratio = times["auto"][0] / times[best][0]
            report.note(f"N=2^{exponent} density {density:g}: best {best}, auto chose {chosen}")
            report.row(n * 4, times["auto"], [100 * density, times[best][0], ratio] + [times[a][0] for a in ALGORITHMS],
                       exponent=exponent, density=density, best=best, chosen=chosen, auto_ratio=ratio,
                       times={a: times[a][0] for a in ALGORITHMS})
    report.finish()
