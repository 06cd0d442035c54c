"""Draws docs/figures/sparse_cost_model.png: the cost model's predicted time
of each sparse allreduce algorithm against the density per rank, for
N = 2^24 float32 at P = 2 and P = 8, with the algorithm auto picks marked.

    python docs/figures/plot_sparse_cost.py [LP_SPARSE_COST_MODEL json]

Uses the library's own model (partial4py.sparse.predict_seconds), so the
figure shows what auto actually decides on."""
import os
import sys
from pathlib import Path

if len(sys.argv) > 1:
    os.environ["LP_SPARSE_COST_MODEL"] = sys.argv[1]

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from partial4py.sparse import predict_seconds, select_algorithm  # noqa: E402

ALGORITHMS = ["recursive_doubling", "split_allgather", "dsar", "allgather", "dense"]
SIZE = 2**24
densities = np.logspace(-4, 0, 60)

figure, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
for ax, nprocs in zip(axes, (2, 8)):
    for name in ALGORITHMS:
        seconds = [predict_seconds(name, SIZE, int(d * SIZE), nprocs) for d in densities]
        ax.loglog(densities * 100, np.array(seconds) * 1e3, label=name)
    picks = [select_algorithm(SIZE, int(d * SIZE), nprocs) for d in densities]
    best = [predict_seconds(p, SIZE, int(d * SIZE), nprocs) for p, d in zip(picks, densities)]
    ax.loglog(densities * 100, np.array(best) * 1e3, "k:", linewidth=3, alpha=0.5, label="auto")
    ax.set_title(f"N = 2^24 float32, P = {nprocs}")
    ax.set_xlabel("nonzeros per rank (% of N)")
    ax.grid(True, which="both", alpha=0.3)
axes[0].set_ylabel("predicted time (ms)")
axes[1].legend(loc="lower right", fontsize=8)
figure.tight_layout()
out = Path(__file__).with_name("sparse_cost_model.png")
figure.savefig(out, dpi=110)
print(out)
