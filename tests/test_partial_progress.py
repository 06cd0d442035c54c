"""Partial allreduce, invariant 5: while one rank of four computes for 2 s
without calling the library, the other three complete at least
max_staleness rounds, each of which needs the sleeping rank's progress
thread for its reduction."""
import pytest

from mpi_harness import run_mpi
from partial_transports import environment_of, transports

STALENESS = 4
PAUSE = 2.0


def progress_args(how):
    return {"max_staleness": STALENESS, "calls": STALENESS + 4, "pause": PAUSE, "how": how}


def check_progress(results):
    start, end = results[-1]["window"]
    assert end - start >= PAUSE
    for result in results[:-1]:
        during = [t for t in result["completed"] if start <= t <= end]
        assert len(during) >= STALENESS, (
            f"rank {result['rank']} completed {len(during)} rounds while rank 3 computed; "
            f"expected at least {STALENESS}")


@pytest.mark.parametrize("env", transports())
@pytest.mark.parametrize("how", ["sleep", "busy"])
def test_rounds_complete_while_one_rank_computes(how, env):
    env = environment_of(env)
    check_progress(run_mpi(4, "partial_progress", progress_args(how), env=env, timeout=120))
