"""partial4py.allreduce against mpi4py's Comm.Allreduce (the MPI_Allreduce
baseline), float32 sum, in the same run."""
from mpi4py import MPI

import partial4py

from ._osu import Report, array_module, device_notes, mpi_allreduce, sizes, time_loop


def run(args, comm=MPI.COMM_WORLD):
    xp = array_module(args)
    report = Report("OSU MPI Allreduce Latency Test (partial4py.allreduce, float32, sum)", args, comm,
                    notes=[f"Buffers: {xp.__name__}", "Baseline: mpi4py Comm.Allreduce in the same run",
                           *device_notes(xp)],
                    extra_columns=["MPI_Allreduce(us)", "Overhead(us)"])
    rank, size = comm.Get_rank(), comm.Get_size()
    for nbytes in sizes(args.sizes):
        count = max(1, nbytes // 4)
        # Small integers: every partial sum is exact in float32.
        send = (xp.arange(count, dtype=xp.float32) + rank) % 7
        recv = xp.empty_like(send)
        ours = time_loop(lambda: partial4py.allreduce(send, recv, comm=comm), args, comm)
        valid = True
        if args.validate:
            expected = sum((xp.arange(count, dtype=xp.float32) + r) % 7 for r in range(size))
            valid = bool((recv == expected).all())
        baseline = time_loop(mpi_allreduce(send, recv, comm, xp), args, comm)
        report.row(count * 4, ours, (baseline[0], ours[0] - baseline[0]), valid)
    report.finish()
