"""Draws docs/figures/partial_timeline.png: one schedule of four ranks (rank 3
computes 2.5x longer) under solo, majority and sync rounds.

The schedule is simulated with the library's semantics: round k fires once
its quorum of ranks has arrived at round k (and after round k-1); a call
returns when its round has fired; a contribution goes into the first round
that fires at or after its arrival, so a late one is carried, never lost.
Usage: python docs/figures/partial_timeline.py [output.png]"""
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COMPUTE = [1.0, 1.1, 0.9, 2.5]   # compute time of each rank per call
ROUNDS = 6
REDUCE = 0.08                    # time a round's reduction takes once fired


def simulate(quorum):
    size = len(COMPUTE)
    ready = [0.0] * size          # when each rank finished its previous call
    arrivals, fires, returns = [], [], []
    last_fire = 0.0
    for _ in range(ROUNDS):
        arrive = [ready[r] + COMPUTE[r] for r in range(size)]
        fire = max(last_fire, sorted(arrive)[quorum - 1])
        back = [max(a, fire + REDUCE) for a in arrive]
        arrivals.append(arrive)
        fires.append(fire)
        returns.append(back)
        ready, last_fire = back, fire
    # Each contribution lands in the first round firing at or after its arrival.
    contributions = [0] * ROUNDS
    carried = []
    for k in range(ROUNDS):
        for r in range(size):
            a = arrivals[k][r]
            target = next((j for j in range(ROUNDS) if fires[j] >= a and j >= 0), None)
            if target is not None:
                contributions[target] += 1
                if target != k:
                    carried.append((r, a, fires[target]))
    return arrivals, fires, returns, contributions, carried


def draw(ax, title, quorum):
    arrivals, fires, returns, contributions, carried = simulate(quorum)
    size = len(COMPUTE)
    for k in range(ROUNDS):
        for r in range(size):
            start = returns[k - 1][r] if k else 0.0
            ax.barh(r, arrivals[k][r] - start, left=start, color="#b8c7dd", height=0.5)
            if returns[k][r] > arrivals[k][r]:
                ax.barh(r, returns[k][r] - arrivals[k][r], left=arrivals[k][r], color="#e9a3a3", height=0.5)
            late = arrivals[k][r] > fires[k]
            ax.plot(arrivals[k][r], r, "o", mfc="white" if late else "black", mec="black", ms=5)
        ax.axvline(fires[k], color="#2a6f2a", lw=1)
        ax.text(fires[k], -0.45, f"r{k}: {contributions[k]}", color="#2a6f2a", ha="center", va="bottom", bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5},
                fontsize=7)
    for r, arrive, fire in carried:
        ax.annotate("", xy=(fire, r + 0.3), xytext=(arrive, r + 0.3),
                    arrowprops={"arrowstyle": "->", "color": "#8a4b00", "lw": 1})
    ax.set_yticks(range(size), [f"rank {r}" for r in range(size)])
    ax.set_ylim(-0.7, size - 0.4)
    fast_done = max(returns[-1][:-1])
    ax.set_title(f"{title}: a round fires when {quorum} of {size} ranks have arrived; the fast ranks finish "
                 f"{ROUNDS} rounds at t={fast_done:.1f}", fontsize=9, loc="left")
    ax.invert_yaxis()


def main(output):
    fig, axes = plt.subplots(3, 1, figsize=(9, 7.5), sharex=True)
    for ax, (title, quorum) in zip(axes, [("solo", 1), ("majority", 2), ("sync", 4)]):
        draw(ax, title, quorum)
    axes[-1].set_xlabel("time (units of a fast rank's compute step)")
    fig.text(0.01, 0.005, "blue: computing   red: waiting in the call   dot: arrival (hollow: late, carried)   "
             "green line: round fires (label: round: contributions summed)   arrow: carried to a later round",
             fontsize=7)
    fig.tight_layout(rect=(0, 0.02, 1, 1))
    fig.savefig(output, dpi=110)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else str(Path(__file__).with_suffix(".png")))
