"""Partial allreduce, invariant 6: with three of four ranks no longer
calling, the remaining rank's call raises partial4py.TimeoutError within
timeout + 1 s, whether the quorum can no longer be met (majority, sync) or
the rank would run too far ahead (solo)."""
import pytest

from mpi_harness import run_mpi
from partial_transports import environment_of, transports

TIMEOUT = 1.5


def liveness_args(mode):
    return {"mode": mode, "max_staleness": 2, "timeout": TIMEOUT}


def check_timed_out(results, mode):
    outcome = results[0]
    assert outcome.get("raised") == "TimeoutError", outcome
    assert outcome["is_error"]
    assert TIMEOUT - 0.05 <= outcome["elapsed"] <= TIMEOUT + 1.0, outcome
    if mode == "solo":
        # Round k may start once the slowest rank has made k - max_staleness
        # calls: with the others stopped after 3 calls, rounds 3, 4 and 5.
        assert outcome["completed"] == 3, outcome
    else:
        assert outcome["completed"] == 0, outcome


@pytest.mark.parametrize("env", transports())
@pytest.mark.parametrize("mode", ["majority", "sync", "solo"])
def test_a_call_that_cannot_complete_times_out(mode, env):
    env = environment_of(env)
    check_timed_out(run_mpi(4, "partial_liveness", liveness_args(mode), env=env, timeout=90), mode)


@pytest.mark.parametrize("nprocs", [1, 3])
def test_exit_without_close_neither_hangs_nor_crashes(nprocs):
    results = run_mpi(nprocs, "partial_exit", timeout=60)
    assert all(r["done"] for r in results)


@pytest.mark.parametrize("nprocs", [2, 3])
def test_a_huge_timeout_means_no_deadline(nprocs):
    timeouts = ["1e18", "1e19", "1e300", "inf"]
    results = run_mpi(nprocs, "partial_huge_timeout", {"timeouts": timeouts, "rounds": 6}, timeout=120)
    for result in results:
        for case, outcome in result["outcomes"].items():
            assert outcome["raised"] is None, (result["rank"], case, outcome)
