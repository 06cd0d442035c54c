"""python -m partial4py.bench.plot RESULT.json [...] [-o DIR]

Turns the JSON files of ``python -m partial4py.bench ... --json`` into PNG
figures in DIR (default: the folder of the first file):

* ``latency.png``: latency against message size, ours and the baseline;
* ``sparse_speedup.png``: sparse speedup over dense against density, per algorithm;
* ``partial_throughput.png``: partial-allreduce throughput against imbalance, per mode;
* ``quantized_speedup.png``: quantized speedup over MPI_Allreduce against message size,
  per bit width and file (a file's name, less ``.json``, tells its runs apart).

Each figure is drawn only when some file has the rows it needs.
"""
import argparse
import json
import os
from collections import defaultdict


def _axes(title, xlabel, ylabel, logx=False, logy=False):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if logx:
        ax.set_xscale("log", base=2)
    if logy:
        ax.set_yscale("log")
    ax.grid(alpha=0.3, which="both")
    return fig, ax


def _save(fig, ax, path):
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return path


def _draw_series(ax, series, label):
    """One line per key of series (key -> [(x, y), ...]), in x order."""
    for key, points in sorted(series.items()):
        ax.plot(*zip(*sorted(points)), marker="o", markersize=3, label=label(key))


def latency(results, out):
    files = [r for r in results if r["rows"] and "size" in r["rows"][0] and "density" not in r["rows"][0]
             and "imbalance_ms" not in r["rows"][0] and "bits" not in r["rows"][0]]
    if not files:
        return None
    fig, ax = _axes("latency vs message size", "message size (bytes)", "latency (µs)", logx=True, logy=True)
    for r in files:
        label = f"{r['benchmark'].split('(')[-1].rstrip(')')} P={r['nprocs']}"
        ax.plot([row["size"] for row in r["rows"]], [row["avg_us"] for row in r["rows"]], marker="o",
                markersize=3, label=label)
        baseline = next((k for k in r["rows"][0] if k.startswith("MPI_Allreduce")), None)
        if baseline:
            ax.plot([row["size"] for row in r["rows"]], [row[baseline] for row in r["rows"]], linestyle="--",
                    label=f"MPI_Allreduce P={r['nprocs']}")
    return _save(fig, ax, os.path.join(out, "latency.png"))


def sparse_speedup(results, out):
    rows = [row for r in results for row in r["rows"] if "density" in row and "algorithm" in row]
    if not rows:
        return None
    fig, ax = _axes("sparse allreduce speedup over dense MPI_Allreduce", "density per rank (%)",
                    "speedup (×)", logx=False, logy=True)
    ax.set_xscale("log")
    series = defaultdict(list)
    for row in rows:
        series[(row["algorithm"], row["size"])].append((100 * row["density"], row["speedup"]))
    _draw_series(ax, series, lambda key: f"{key[0]} ({key[1]} B)")
    ax.axhline(1.0, color="black", linewidth=0.8)
    return _save(fig, ax, os.path.join(out, "sparse_speedup.png"))


def partial_throughput(results, out):
    rows = [row for r in results for row in r["rows"] if "imbalance_ms" in row and "mode" in row]
    if not rows:
        return None
    fig, ax = _axes("partial allreduce throughput under imbalance", "straggler extra time per round (ms)",
                    "rounds per second")
    series = defaultdict(list)
    for row in rows:
        series[row["mode"]].append((row["imbalance_ms"], row["throughput"]))
    _draw_series(ax, series, str)
    return _save(fig, ax, os.path.join(out, "partial_throughput.png"))


def quantized_speedup(results, out):
    files = [r for r in results if r["rows"] and "bits" in r["rows"][0]]
    if not files:
        return None
    fig, ax = _axes("quantized allreduce speedup over MPI_Allreduce", "message size (bytes of float32)",
                    "speedup (×)", logx=True, logy=True)
    # Colour: the bit width; marker: the file (one run set, e.g. one bed).
    colours = {2: "tab:red", 4: "tab:blue", 8: "tab:green"}
    markers = dict(zip(sorted({r["label"] for r in files}), "osD^v<>p*h"))
    series = defaultdict(list)
    for r in files:
        for row in r["rows"]:
            series[(r["label"], int(row["bits"]))].append((row["size"], row["speedup"]))
    for (label, bits), points in sorted(series.items()):
        ax.plot(*zip(*sorted(points)), marker=markers[label], markersize=5, color=colours.get(bits, "black"),
                label=f"{bits} bits, {label}")
    ax.axhline(1.0, color="black", linewidth=0.8)
    return _save(fig, ax, os.path.join(out, "quantized_speedup.png"))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m partial4py.bench.plot", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+")
    parser.add_argument("-o", "--out", help="folder for the PNG files")
    args = parser.parse_args(argv)
    results = []
    for name in args.files:
        with open(name) as f:
            results.append(dict(json.load(f), label=os.path.splitext(os.path.basename(name))[0]))
    out = args.out or os.path.dirname(os.path.abspath(args.files[0]))
    os.makedirs(out, exist_ok=True)
    for figure in (latency, sparse_speedup, partial_throughput, quantized_speedup):
        path = figure(results, out)
        if path:
            print(path)


if __name__ == "__main__":
    main()
