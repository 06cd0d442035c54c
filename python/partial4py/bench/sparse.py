"""partial4py.sparse_allreduce against the dense MPI_Allreduce of the same
vector (float32 values, int32 indices), in the same run."""
import numpy as np
from mpi4py import MPI

import partial4py

from ._osu import Report, array_module, device_notes, mpi_allreduce, sizes, time_loop, to_numpy

ALGORITHMS = ["recursive_doubling", "split_allgather", "dsar", "allgather", "dense"]


def add_options(parser):
    parser.add_argument("-s", dest="densities", default="0.01", help="comma-separated densities per rank")
    parser.add_argument("-a", dest="algorithms", default="auto",
                        help="comma-separated algorithms, 'auto', or 'all' (every algorithm and auto)")
    parser.add_argument("-D", dest="distribution", choices=["uniform", "clustered"], default="uniform")
    parser.add_argument("-S", dest="seed", type=int, default=1)


def rank_input(seed, rank, n, density, distribution):
    """One rank's sparse input: small-integer values, so every float32 sum is exact."""
    rng = np.random.default_rng([seed, rank, n])
    nnz = max(1, int(np.ceil(density * n)))
    if distribution == "clustered":
        indices = (rng.integers(0, n) + np.arange(nnz)) % n
    else:
        indices = rng.integers(0, n, nnz)
    return indices.astype(np.int32), rng.integers(1, 9, nnz).astype(np.float32)


def algorithm_list(spec):
    return ALGORITHMS + ["auto"] if spec == "all" else spec.split(",")


def run(args, comm=MPI.COMM_WORLD):
    xp = array_module(args)
    rank, size = comm.Get_rank(), comm.Get_size()
    report = Report("OSU-style Sparse Allreduce Latency Test (partial4py.sparse_allreduce)", args, comm,
                    notes=[f"{args.distribution} indices, float32 values, int32 indices",
                           "Baseline: dense mpi4py Comm.Allreduce of the same vector, in the same run",
                           *device_notes(xp)],
                    extra_columns=["MPI_Allreduce(us)", "Speedup", "Density(%)"],
                    params={"distribution": args.distribution})
    for nbytes in sizes(args.sizes):
        n = max(1, nbytes // 4)
        dense = xp.zeros(n, xp.float32)
        dense_out = xp.empty_like(dense)
        baseline = time_loop(mpi_allreduce(dense, dense_out, comm, xp), args, comm)
        for density in map(float, args.densities.split(",")):
            indices, values = map(xp.asarray, rank_input(args.seed, rank, n, density, args.distribution))
            expected = None
            if args.validate:
                expected = np.zeros(n, np.float32)
                for r in range(size):
                    i, v = rank_input(args.seed, r, n, density, args.distribution)
                    np.add.at(expected, i, v)
            for algorithm in algorithm_list(args.algorithms):
                last = [None]  # only the latest result is kept alive

                def reduce():
                    last[0] = partial4py.sparse_allreduce(indices, values, n, comm=comm, algorithm=algorithm)
                timing = time_loop(reduce, args, comm)
                chosen = last[0].algorithm
                valid = expected is None or np.array_equal(to_numpy(xp, last[0].to_dense()), expected)
                report.note(f"size {nbytes} B, density {density:g}: {algorithm}"
                            + (f" (chose {chosen})" if algorithm == "auto" else ""))
                report.row(n * 4, timing, (baseline[0], baseline[0] / timing[0], 100 * density), valid,
                           density=density, algorithm=algorithm, chosen=chosen, speedup=baseline[0] / timing[0])
    report.finish()
