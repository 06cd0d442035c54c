"""Shared by the worker scripts that the tests launch under mpirun."""
import hashlib
import json
import os
import sys
import traceback

import numpy as np
from mpi4py import MPI


def args():
    return json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}


def report(**fields):
    rank = fields["rank"] = MPI.COMM_WORLD.Get_rank()
    with open(os.path.join(os.environ["P4P_RESULT_DIR"], f"rank-{rank}.json"), "w") as f:
        json.dump(fields, f)


def digest(array):
    """A hash of the bytes of an array: equal digests mean bitwise equal."""
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def rank_input(seed, rank, count, dtype, low=-1000, high=1000):
    """The input of one rank; every rank can rebuild any rank's input."""
    rng = np.random.default_rng([seed, rank])
    if np.dtype(dtype).kind == "f":
        return rng.uniform(low, high, count).astype(dtype)
    return rng.integers(low, high, count, endpoint=True).astype(dtype)


def raised(fn):
    """Runs fn; returns a dict describing the exception it raised, if any."""
    try:
        fn()
    except Exception as exc:  # the test decides which classes are right
        return {"raised": type(exc).__name__, "mro": [c.__name__ for c in type(exc).__mro__],
                "message": str(exc)}
    return {"raised": None}


def run_cases(args, run_case, **fields):
    """Runs run_case(case, comm) for each case on COMM_WORLD, or with
    args["split"] on the even and odd halves of it, and reports the digests
    (and fields)."""
    world = MPI.COMM_WORLD
    color = world.Get_rank() % 2 if args.get("split") else 0
    comm = world.Split(color, world.Get_rank()) if args.get("split") else world
    report(digests=[run_case(case, comm) for case in args["cases"]], color=color, **fields)
    if comm is not world:
        comm.Free()


def main(body):
    """Runs body(args) and exits non-zero with a traceback on failure."""
    try:
        body(args())
    except Exception:
        traceback.print_exc()
        sys.stderr.flush()
        MPI.COMM_WORLD.Abort(1)
