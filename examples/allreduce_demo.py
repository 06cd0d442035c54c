"""A first multi-rank program: dense allreduce through partial4py, checked
against NumPy. Run: mpirun -n 4 python examples/allreduce_demo.py"""
import numpy as np
from mpi4py import MPI

import partial4py

comm = MPI.COMM_WORLD
rank, size = comm.Get_rank(), comm.Get_size()

# Every rank can rebuild every rank's vector, so each checks the sum itself.
vectors = [np.random.default_rng([2026, r]).integers(-100, 100, 1_000_000) for r in range(size)]
total = partial4py.allreduce(vectors[rank])
assert np.array_equal(total, np.sum(vectors, axis=0))

request = partial4py.iallreduce(vectors[rank].astype(np.float64), op="max")
maximum = request.wait()
assert np.array_equal(maximum, np.max(vectors, axis=0))

if rank == 0:
    print(f"allreduce of 1,000,000 int64 over {size} ranks: exact (checksum {int(total.sum())})")
    print(f"iallreduce max: exact; MPI: {MPI.Get_library_version().splitlines()[0]}")
