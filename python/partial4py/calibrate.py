"""Measures the constants of the sparse allreduce cost model on this machine.

    mpirun -n 2 python -m partial4py.calibrate -o sparse_cost.json
    export LP_SPARSE_COST_MODEL=$PWD/sparse_cost.json

alpha (seconds per message) and beta (seconds per byte) come from a
ping-pong between ranks 0 and 1; gamma (seconds per sparse entry merged)
and delta (seconds per dense byte touched) from timing the library's own
kernels. The library reads the file named by LP_SPARSE_COST_MODEL when the
first 'auto' call needs the model. Every rank must read the same one: auto
agrees on the model, and raises on every rank where a rank's file differs,
is missing or is malformed (docs/sparse.md).

    python -m partial4py.calibrate --fit regret_p2.json regret_p4.json -o sparse_cost.json

fits the constants to regret tables instead (``python -m partial4py.bench
regret --json``): of the constant sets on a log grid around the measured
ones, the one with the least worst-cell regret, and among equals the
nearest to the measurement.
"""
import argparse
import itertools
import json
import math
import sys

import numpy as np
from mpi4py import MPI

from ._binding import check, ffi, lib

SMALL, LARGE = 8, 8 << 20


def ping_pong_seconds(comm, nbytes, iterations):
    """Half the mean round trip between ranks 0 and 1 for nbytes."""
    buffer = np.zeros(nbytes, np.uint8)
    rank = comm.Get_rank()
    best = float("inf")
    for _ in range(3):
        comm.Barrier()
        start = MPI.Wtime()
        for _ in range(iterations):
            if rank == 0:
                comm.Send(buffer, 1)
                comm.Recv(buffer, 1)
            elif rank == 1:
                comm.Recv(buffer, 0)
                comm.Send(buffer, 0)
        best = min(best, (MPI.Wtime() - start) / iterations / 2)
    return comm.bcast(best, root=0)


def measure(comm):
    constants = {}
    if comm.Get_size() >= 2:
        alpha = ping_pong_seconds(comm, SMALL, 2000)
        large = ping_pong_seconds(comm, LARGE, 20)
        constants["alpha"] = alpha
        constants["beta"] = max(large - alpha, 0.0) / LARGE
    per_entry, per_byte = ffi.new("double *"), ffi.new("double *")
    check(lib.lp_sparse_measure_local_costs(per_entry, per_byte))
    # The slowest rank sets the pace of a collective.
    constants["gamma"] = comm.allreduce(per_entry[0], op=MPI.MAX)
    constants["delta"] = comm.allreduce(per_byte[0], op=MPI.MAX)
    return constants


NAMES = ("alpha", "beta", "gamma", "delta")


def cost_model():
    values = [ffi.new("double *") for _ in NAMES]
    check(lib.lp_sparse_get_cost_model(*values))
    return {name: value[0] for name, value in zip(NAMES, values)}


def set_cost_model(constants):
    check(lib.lp_sparse_set_cost_model(*(constants[name] for name in NAMES)))


def regret_cells(paths):
    """(N, nnz per rank, P, {algorithm: µs}) for each row of regret JSON files."""
    cells = []
    for path in paths:
        with open(path) as f:
            record = json.load(f)
        for row in record["rows"]:
            n = 2 ** row["exponent"]
            cells.append((n, max(1, math.ceil(row["density"] * n)), record["nprocs"], row["times"]))
    return cells


def regrets(cells, constants):
    """Each cell's time of the algorithm auto would pick, over its best."""
    set_cost_model(constants)
    out = []
    for n, nnz, nprocs, times in cells:
        chosen = lib.lp_sparse_select_algorithm(n, nnz, nprocs, lib.LP_FLOAT32, 0.0)
        name = ffi.string(lib.lp_sparse_algorithm_name(chosen)).decode()
        out.append(times[name] / min(times.values()))
    return out


def fit(cells, start, steps=range(-4, 5), factor=2.0 ** 0.5):
    """Grid search over start * factor**k per constant (k in steps)."""
    def distance(constants):
        return sum(abs(math.log(constants[k] / start[k])) for k in NAMES)
    best = None
    for ks in itertools.product(steps, repeat=len(NAMES)):
        constants = {name: start[name] * factor ** k for name, k in zip(NAMES, ks)}
        scores = regrets(cells, constants)
        key = (round(max(scores), 3), round(sum(scores), 3), distance(constants))
        if best is None or key < best[0]:
            best = (key, constants, scores)
    set_cost_model(start)
    return best[1], best[2]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-o", "--output", default="sparse_cost.json", help="JSON file to write")
    parser.add_argument("--fit", nargs="+", metavar="REGRET_JSON", help="fit to these regret tables")
    options = parser.parse_args(argv)
    comm = MPI.COMM_WORLD
    constants = dict(cost_model(), **measure(comm))
    if options.fit:
        constants, scores = fit(regret_cells(options.fit), constants)
        constants["fit"] = {"files": options.fit, "worst_regret": max(scores),
                            "cells_over_1.15": sum(s > 1.15 for s in scores)}
    if comm.Get_rank() == 0:
        if "alpha" not in constants:
            print("one rank only: alpha and beta keep their defaults (run with mpirun -n 2)", file=sys.stderr)
        record = dict(constants, nprocs=comm.Get_size(),
                      mpi=MPI.Get_library_version().rstrip("\x00").splitlines()[0].strip())
        with open(options.output, "w") as f:
            json.dump(record, f, indent=2)
        print(json.dumps(record, indent=2))
        print(f"export LP_SPARSE_COST_MODEL={options.output}")


if __name__ == "__main__":
    main()
