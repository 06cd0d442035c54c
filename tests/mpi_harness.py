"""Launches a worker script under mpirun and collects one result per rank.

Every run has a hard timeout: the launcher's whole process group is killed
when it expires, so a hang fails the test instead of stalling the suite.
Each rank writes its result as JSON to its own file in a directory made for
the run (see workers/_worker.py): stdout lines of different ranks interleave.
"""
import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

WORKERS = Path(__file__).parent / "workers"
DEFAULT_TIMEOUT = float(os.environ.get("P4P_TEST_TIMEOUT", "120"))


def mpiexec_command():
    return shlex.split(os.environ.get("MPIEXEC", "mpiexec"))


def launch_env(**extra):
    """The environment for a child mpirun.

    Python's os.environ, not the process's C-level environment: once this
    process has initialized MPI (as a singleton, through mpi4py), Open MPI
    has set variables there that make a child mpirun fail silently."""
    return dict(os.environ, **extra)


class MPIRunError(AssertionError):
    pass


def run_mpi(nprocs, worker, args=None, timeout=DEFAULT_TIMEOUT, env=None, launcher=None, ranks=None,
            check_exit=True):
    """Runs ``workers/<worker>.py`` on ``nprocs`` ranks; returns the per-rank
    results ordered by rank. Raises MPIRunError on a non-zero exit (unless
    check_exit is False: a run that loses a rank on purpose), a missing
    rank (every rank, or those in ``ranks``) or a timeout."""
    result_dir = tempfile.mkdtemp(prefix="p4p-results-")
    command = (launcher or mpiexec_command()) + ["-n", str(nprocs), sys.executable,
                                                 str(WORKERS / f"{worker}.py"), json.dumps(args or {})]
    full_env = launch_env(PYTHONUNBUFFERED="1", P4P_RESULT_DIR=result_dir, **(env or {}))
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=full_env, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise MPIRunError(f"timed out after {timeout}s: {' '.join(command)}\n--- stdout\n{out[-4000:]}"
                          f"\n--- stderr\n{err[-4000:]}") from None
    if proc.returncode != 0 and check_exit:
        raise MPIRunError(f"exit code {proc.returncode}: {' '.join(command)}\n--- stdout\n{out[-4000:]}"
                          f"\n--- stderr\n{err[-6000:]}")
    results = []
    for path in sorted(Path(result_dir).glob("rank-*.json")):
        results.append(json.loads(path.read_text()))
        path.unlink()
    os.rmdir(result_dir)
    reported = sorted(r["rank"] for r in results)
    expected = sorted(ranks) if ranks is not None else list(range(nprocs))
    if reported != expected:
        raise MPIRunError(f"expected results from ranks {expected}, got {reported} (exit code {proc.returncode})"
                          f"\n{out[-4000:]}\n{err[-4000:]}")
    return sorted(results, key=lambda r: r["rank"])


def assert_same_on_every_rank(results, case):
    """Every rank's results[case]["digest"] is the same: bitwise equal state."""
    assert len({r[case]["digest"] for r in results}) == 1, [r[case]["digest"] for r in results]


def assert_identical_digests(results, color=None):
    """Every rank (of one sub-communicator's color, if given) reported the
    same "digests" of its run_cases results: bitwise equal results."""
    chosen = [r for r in results if color is None or r["color"] == color]
    assert chosen and len({json.dumps(r["digests"]) for r in chosen}) == 1, "ranks got different bits"
