"""Shared by the worker scripts that the tests launch under mpirun."""
import hashlib
import json
import os
import sys
import time
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


def timed(fn):
    """raised(fn), with the seconds fn took as "elapsed"."""
    started = time.monotonic()
    outcome = raised(fn)
    outcome["elapsed"] = time.monotonic() - started
    return outcome


def threads():
    """This process's threads, the C progress threads included."""
    return len(os.listdir("/proc/self/task"))


def threads_settled(expected, seconds=2.0):
    """The thread count, once it is down to expected or seconds have passed.
    A thread just joined may still be listed for a moment: the kernel wakes
    pthread_join before it removes the exited thread, and on a loaded node
    that gap is visible. A thread left behind stays listed."""
    deadline = time.monotonic() + seconds
    while threads() > expected and time.monotonic() < deadline:
        time.sleep(0.01)
    return threads()


def communicator(args):
    """(comm, color, members): COMM_WORLD, or with args["split"] the even
    (color 0) or odd (color 1) half of it; members are the world ranks in
    comm, in its rank order (so rank_input(seed, members[r], ...) is the
    input of comm's rank r)."""
    world = MPI.COMM_WORLD
    if not args.get("split"):
        return world, 0, list(range(world.Get_size()))
    color = world.Get_rank() % 2
    members = [r for r in range(world.Get_size()) if r % 2 == color]
    return world.Split(color, world.Get_rank()), color, members


def run_cases(args, run_case, **fields):
    """Runs run_case(case, comm) for each case on communicator(args) and
    reports the digests (and fields)."""
    comm, color, _ = communicator(args)
    report(digests=[run_case(case, comm) for case in args["cases"]], color=color, **fields)
    if comm is not MPI.COMM_WORLD:
        comm.Free()


def main(body):
    """Runs body(args) and exits non-zero with a traceback on failure."""
    try:
        body(args())
    except Exception:
        traceback.print_exc()
        sys.stderr.flush()
        MPI.COMM_WORLD.Abort(1)
