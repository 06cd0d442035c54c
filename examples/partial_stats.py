"""What one round of a partial allreduce costs, from its counters: sync
rounds of a 1 KiB vector, then the per-round messages and steps, the largest
over the ranks. Run:
mpirun -n 8 python examples/partial_stats.py [ring|halving_doubling|auto] [one_sided|point_to_point|auto]"""
import sys

import numpy as np
from mpi4py import MPI

import partial4py

comm = MPI.COMM_WORLD
rank, size = comm.Get_rank(), comm.Get_size()
algorithm = sys.argv[1] if len(sys.argv) > 1 else "auto"
trigger = sys.argv[2] if len(sys.argv) > 2 else "auto"
rounds = 50

with partial4py.PartialAllreduce(256, dtype=np.float32, comm=comm, mode="sync", algorithm=algorithm,
                                 trigger=trigger) as pa:
    ones = np.ones(256, np.float32)
    for _ in range(rounds):
        info = pa.allreduce(ones)
        assert info.contributions == size and (info.result == size).all()
    stats = pa.stats()

per_round = {key: comm.allreduce(stats[key], op=MPI.MAX) / rounds
             for key in ("control_messages_sent", "control_messages_received", "rma_operations",
                         "reduction_messages_sent")}
if rank == 0:
    print(f"P={size} algorithm={stats['algorithm_last_round']} trigger={stats['trigger']} "
          f"steps={stats['reduction_steps_last_round']} "
          + " ".join(f"{key}={value:.2f}" for key, value in per_round.items()) + " (per round, most on a rank)")
