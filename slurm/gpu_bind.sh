#!/bin/bash
# Binds each task to one GPU of its node by SLURM_LOCALID (the task's index
# on the node), not by its global rank: with 4 GPUs per node, global rank 5
# is local task 1 of its node and must use GPU 1.
# Use: srun --mpi=pmix slurm/gpu_bind.sh python ...
export CUDA_VISIBLE_DEVICES=${SLURM_LOCALID:?gpu_bind.sh must run under srun}
exec "$@"
