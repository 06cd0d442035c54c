"""Draws docs/figures/partial_cost_model.png: the cost model's predicted
reduction time of one partial-allreduce round, ring against
halving_doubling, over P = 2..4096, for 1 KiB and 4 MiB of float32, on a
cluster network (alpha 2 us, beta 8e-11 s/B: 100 Gbit/s, delta 1e-10 s/B).

    python docs/figures/plot_partial_cost.py

Uses the library's own model (partial4py.partial.predict_seconds), fed
those constants through LP_SPARSE_COST_MODEL, so the figure shows what auto
decides on such a network."""
import json
import os
import tempfile

CLUSTER = {"alpha": 2e-6, "beta": 8e-11, "delta": 1e-10}
with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as model:
    json.dump(CLUSTER, model)
os.environ["LP_SPARSE_COST_MODEL"] = model.name

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from partial4py.partial import predict_seconds  # noqa: E402

procs = [p for p in range(2, 4097) if p & (p - 1) == 0 or p % 3 == 0 and p < 64]
figure, axes = plt.subplots(1, 2, figsize=(11, 4.2))
for ax, (label, count) in zip(axes, (("1 KiB", 256), ("4 MiB", 1 << 20))):
    for name in ("ring", "halving_doubling"):
        ax.plot(procs, [predict_seconds(name, count, p) * 1e6 for p in procs], marker=".", label=name)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("ranks P")
    ax.set_title(f"one round's reduction, {label} float32")
    ax.grid(True, which="both", alpha=0.3)
axes[0].set_ylabel("predicted µs")
axes[0].legend()
figure.tight_layout()
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "partial_cost_model.png")
figure.savefig(out, dpi=110)
os.unlink(model.name)
print(out)
