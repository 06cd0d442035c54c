"""The standard benchmarks across the multi-host test bed (docs/testbed.md):
2 and 4 hosts with one rank each, every link rate-limited to 1 and 10 Gbit/s.

For each bed it calibrates the sparse cost model on that bed, then runs, each
against its baseline in the same job:

* dense ``partial4py.allreduce`` against mpi4py's ``Allreduce``;
* sparse: every algorithm and ``auto`` at N = 2^24 float32, 0.1% and 1% density,
  against the dense ``MPI_Allreduce`` of the same vector;
* quantized: 8, 4 and 2 bits at N = 2^24 float32, against the
  ``MPI_Allreduce`` of the same vector;
* partial: sync, solo and majority with injected imbalance, against
  ``MPI_Allreduce`` running the same loop.

It writes the JSON and text of every run, one plot set per bed, and
``summary.md``: the ratios the performance targets are stated in.

    make bench-hosts                       # as root; BENCH_HOSTS_OUT=bench/results-hosts
    python3 bench/on_hosts.py -o DIR [--quick]
"""
import argparse
import json
import os
import shlex
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "tests"))

import hosts  # noqa: E402

N_BYTES = 4 << 24  # 2^24 float32
RUN_LIMIT_S = 900
MPIEXEC = shlex.split(os.environ.get("MPIEXEC", "mpirun"))


def run_module(launch, nprocs, module, args, name, out_dir, env):
    """``python -m module args`` on nprocs ranks of the bed; keeps its output
    in name.txt and raises with it on a non-zero exit."""
    command = launch + ["-n", str(nprocs), sys.executable, "-m", module] + args
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, timeout=RUN_LIMIT_S, env=env)
    with open(os.path.join(out_dir, f"{name}.txt"), "w") as text:
        text.write(f"# {shlex.join(command)}\n{done.stdout}")
    if done.returncode != 0:
        raise RuntimeError(f"{name}: exit {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    print(f"  {name}: {time.monotonic() - started:.0f} s", flush=True)


def bench(launch, nprocs, name, args, out_dir, env):
    """One partial4py.bench run on the bed; returns its JSON."""
    json_file = os.path.join(out_dir, f"{name}.json")
    run_module(launch, nprocs, "partial4py.bench", args + ["--json", json_file], name, out_dir, env)
    with open(json_file) as f:
        return json.load(f)


def calibrate(launch, out_dir, env):
    """The sparse cost model measured on this bed (ranks on h0 and h1)."""
    path = os.path.join(out_dir, "sparse_cost.json")
    run_module(launch, 2, "partial4py.calibrate", ["-o", path], "calibrate", out_dir, env)
    return path


def run_bed(count, rate, version_text, out_root, quick):
    out_dir = os.path.join(out_root, f"{count}hosts_{rate}")
    os.makedirs(out_dir, exist_ok=True)
    iterations = ["-i", "3", "-x", "1"] if quick else ["-i", "10", "-x", "2"]
    with hosts.Bed(count) as bed:
        for host in bed.hosts:
            bed.shape(host, rate=rate)
        launch = hosts.for_mpi(bed, MPIEXEC, version_text, ranks_per_host=1)
        env = dict(os.environ)
        print(f"{count} hosts at {rate}:", flush=True)
        env["LP_SPARSE_COST_MODEL"] = calibrate(launch, out_dir, env)
        results = {
            "dense": bench(launch, count, "dense", ["allreduce", "-m", f"1048576:{N_BYTES}", "-f", "-c", *iterations],
                           out_dir, env),
            "sparse": bench(launch, count, "sparse", ["sparse", "-m", f"{N_BYTES}:{N_BYTES}", "-s", "0.001,0.01",
                                                      "-a", "all", "-f", "-c", *iterations], out_dir, env),
            "quantized": quantized(launch, count, out_dir, env, iterations),
            "partial": bench(launch, count, "partial", ["partial", "-m", "4096:4096", "-M", "solo,majority,sync",
                                                        "-t", "10", "-e", "0,10,20", "-I", "random:1",
                                                        "-i", "20" if quick else "60", "-x", "5", "-c"],
                             out_dir, env),
        }
        if count >= 4:
            results["slow_link"] = slow_link(bed, rate, launch, out_dir, env, quick)
        traffic = {h: bed.traffic(h) for h in bed.hosts}
    plotted = [os.path.join(out_dir, f"{kind}.json") for kind in ("dense", "sparse", "partial")]
    subprocess.run([sys.executable, "-m", "partial4py.bench.plot", *plotted, "-o", out_dir],
                   check=True, timeout=300, capture_output=True)
    return {"hosts": count, "rate": rate, "results": results, "traffic": traffic}


def quantized(launch, count, out_dir, env, iterations):
    """QSGD at 8, 4 and 2 bits on 2^24 float32, each result checked against its error bound."""
    return bench(launch, count, "quantized", ["quantized", "-m", f"{N_BYTES}:{N_BYTES}", "-b", "8,4,2", "-f", "-c",
                                              *iterations], out_dir, env)


SLOW_RATE = "50mbit"


def slow_link(bed, rate, launch, out_dir, env, quick):
    """Solo and sync rounds of 128 KiB with 40 ms of compute, before and after
    the last host's link drops to SLOW_RATE: the pace of rank 0, on a fast host."""
    args = ["partial", "-m", "131072:131072", "-M", "solo,sync", "-t", "40", "-e", "0", "-w", "40",
            "-i", "10" if quick else "30", "-x", "5", "-c"]
    fast = bench(launch, len(bed.hosts), "slow_link_before", args, out_dir, env)
    slow_host = bed.hosts[-1]
    bed.shape(slow_host, rate=SLOW_RATE)
    try:
        slow = bench(launch, len(bed.hosts), "slow_link_after", args, out_dir, env)
    finally:
        bed.shape(slow_host, rate=rate)
    return {"before": fast, "after": slow, "slow_host": slow_host}


def sparse_ratios(sparse_json):
    """Per density: dense time over each algorithm's, and auto against the best algorithm."""
    out = {}
    for density in sorted({row["density"] for row in sparse_json["rows"]}):
        rows = [r for r in sparse_json["rows"] if r["density"] == density]
        by_algorithm = {r["algorithm"]: r for r in rows}
        dense_us = rows[0]["MPI_Allreduce(us)"]
        best = min((r for r in rows if r["algorithm"] != "auto"), key=lambda r: r["avg_us"])
        auto = by_algorithm["auto"]
        out[density] = {"dense_us": dense_us, "auto_us": auto["avg_us"], "auto_chose": auto["chosen"],
                        "auto_speedup": dense_us / auto["avg_us"], "best": best["algorithm"],
                        "best_us": best["avg_us"], "auto_over_best": auto["avg_us"] / best["avg_us"],
                        "per_algorithm_us": {a: r["avg_us"] for a, r in by_algorithm.items()}}
    return out


def summary(beds):
    lines = ["# Benchmarks on the multi-host test bed", "",
             f"Command: `{shlex.join(sys.argv)}`, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.", "",
             "raw: one rank's nonzeros (int32 index + float32 value) sent once at the link rate, the least any "
             "algorithm moves at P=2.", "",
             "| hosts | link | density | dense MPI_Allreduce (ms) | auto (ms) | auto chose | auto speedup |"
             " best algorithm (ms) | auto / best | allgather (ms) | allgather / best | raw (ms) | best / raw |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for bed in beds:
        for density, r in sparse_ratios(bed["results"]["sparse"]).items():
            allgather = r["per_algorithm_us"]["allgather"]
            raw_us = np.ceil(density * N_BYTES / 4) * 8 * 8 / hosts.bed.rate_bits(bed["rate"]) * 1e6
            lines.append(f"| {bed['hosts']} | {bed['rate']} | {density:.1%} | {r['dense_us'] / 1e3:.1f} | "
                         f"{r['auto_us'] / 1e3:.2f} | {r['auto_chose']} | {r['auto_speedup']:.1f}x | "
                         f"{r['best']} {r['best_us'] / 1e3:.2f} | {r['auto_over_best']:.2f} | "
                         f"{allgather / 1e3:.2f} | {allgather / r['best_us']:.2f}x | {raw_us / 1e3:.2f} | "
                         f"{r['best_us'] / raw_us:.1f}x |")
    lines += ["", "| hosts | link | bits | quantized (ms) | MPI_Allreduce (ms) | speedup | bytes on the wire |",
              "|---|---|---|---|---|---|---|"]
    for bed in beds:
        for row in bed["results"]["quantized"]["rows"]:
            lines.append(f"| {bed['hosts']} | {bed['rate']} | {row['bits']} | {row['avg_us'] / 1e3:.1f} | "
                         f"{row['MPI_Allreduce(us)'] / 1e3:.1f} | {row['speedup']:.2f}x | {row['wire_bytes']} |")
    lines += ["", "| hosts | link | mode | imbalance (ms) | round (us) | MPI_Allreduce (us) | speedup |",
              "|---|---|---|---|---|---|---|"]
    for bed in beds:
        for row in bed["results"]["partial"]["rows"]:
            lines.append(f"| {bed['hosts']} | {bed['rate']} | {row['mode']} | {row['imbalance_ms']:g} | "
                         f"{row['avg_us']:.0f} | {row['MPI_Allreduce(us)']:.0f} | {row['speedup']:.2f}x |")
    lines += ["", f"Slow link: 128 KiB rounds, 40 ms compute, the last host's link at {SLOW_RATE}; "
              "seconds per round of rank 0 (a fast host).", "",
              "| hosts | link | mode | before (ms) | after (ms) | after / before |", "|---|---|---|---|---|---|"]
    for bed in beds:
        slow = bed["results"].get("slow_link")
        if slow:
            for before, after in zip(slow["before"]["rows"], slow["after"]["rows"]):
                lines.append(f"| {bed['hosts']} | {bed['rate']} | {before['mode']} | {before['avg_us'] / 1e3:.1f} | "
                             f"{after['avg_us'] / 1e3:.1f} | {after['avg_us'] / before['avg_us']:.2f} |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-o", "--out", default="bench/results-hosts", help="Folder for the results.")
    parser.add_argument("--hosts", default="2,4", help="Comma-separated host counts. Default: 2,4.")
    parser.add_argument("--rates", default="1gbit,10gbit", help="Comma-separated link rates. Default: 1gbit,10gbit.")
    parser.add_argument("--quick", action="store_true", help="Fewer iterations: a smoke run, not numbers.")
    options = parser.parse_args()
    hosts.check_available()
    version = subprocess.run([*MPIEXEC, "--version"], capture_output=True, text=True, timeout=60)
    beds = [run_bed(int(count), rate, version.stdout + version.stderr, options.out, options.quick)
            for count in options.hosts.split(",") for rate in options.rates.split(",")]
    with open(os.path.join(options.out, "results.json"), "w") as f:
        json.dump(beds, f, indent=1)
    text = summary(beds)
    with open(os.path.join(options.out, "summary.md"), "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
