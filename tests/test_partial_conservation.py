"""Partial allreduce: conservation and atomicity, checked exactly with int64
contributions that identify their rank and call (see
workers/partial_rounds.py), over thousands of rounds with random per-rank
delays, in every mode and for P in 1..5 and 8."""
import numpy as np
import pytest

from mpi_harness import run_mpi
from partial_transports import environment_of, transports

PROCS = [1, 2, 3, 4, 5, 8]
MODES = ["solo", "majority", "sync", 2]


def specs(nprocs, calls):
    return [{"mode": mode if mode != 2 else min(2, nprocs), "calls": calls} for mode in MODES]


def expected_total(size, calls, tail=5):
    total = np.zeros(3 * size + tail, np.int64)
    for r in range(size):
        total[r] = calls
        total[size + r] = calls * (calls + 1) // 2
        total[2 * size + r] = calls * (calls + 1) * (2 * calls + 1) // 6
    total[3 * size:] = 7 * calls * size
    return total


def check(results, nprocs, calls):
    for result in results:
        for outcome in result["outcomes"]:
            # The worker checked every round; the totals are checked here again
            # against the closed form, independently of the worker's reference.
            np.testing.assert_array_equal(np.array(outcome["total"]), expected_total(nprocs, calls))
            assert len(outcome["rounds"]) == calls + 1
    if nprocs > 1:
        # The delays must actually have made some calls late, or carrying was not exercised.
        assert sum(o["late"] for r in results for o in r["outcomes"] if o["mode"] == "solo") > 0


@pytest.mark.parametrize("env", transports())
@pytest.mark.parametrize("nprocs", PROCS)
def test_conservation_and_atomicity(nprocs, env):
    env = environment_of(env)
    calls = 150 if nprocs < 8 else 100
    results = run_mpi(nprocs, "partial_rounds", {"specs": specs(nprocs, calls), "seed": nprocs}, env=env,
                      timeout=240)
    check(results, nprocs, calls)


@pytest.mark.parametrize("algorithm", ["ring", "halving_doubling"])
def test_large_vectors_in_segments(algorithm):
    # LP_MAX_MPI_COUNT splits each message of a round's reduction into
    # several MPI calls: the path that counts beyond INT_MAX take (at P=3 the
    # halving_doubling fold sends whole vectors).
    spec = [{"mode": "majority", "calls": 40, "tail": 3000, "algorithm": algorithm},
            {"mode": "solo", "calls": 40, "tail": 3000, "algorithm": algorithm}]
    results = run_mpi(3, "partial_rounds", {"specs": spec}, env={"LP_MAX_MPI_COUNT": "1000"})
    for result in results:
        for outcome in result["outcomes"]:
            np.testing.assert_array_equal(np.array(outcome["total"]), expected_total(3, 40, tail=3000))


@pytest.mark.parametrize("nprocs", [3, 5])
def test_rounds_that_consume_nothing(nprocs):
    """Several outstanding start()s of a rank can all go into one round, so a
    later round may sum nothing: contributions 0, fresh 0, and the result is
    the identity of the op. Nothing is lost, and every rank agrees."""
    calls = 10
    results = run_mpi(nprocs, "partial_empty_rounds", {"calls": calls, "max_staleness": 2}, timeout=120)
    every_call = sum(1 + r * calls + c for r in range(nprocs) for c in range(calls))
    for result in results:
        assert result["rounds"] == results[0]["rounds"]
        assert result["total"] == [every_call] * 16
        summed = sum(r["contributions"] for r in result["rounds"]) + result["flush_contributions"]
        assert summed == nprocs * calls
        for r in result["rounds"]:
            assert r["quorum_met"]
            assert (r["contributions"] == 0) == r["zero"], r
            if r["contributions"] == 0:
                assert r["fresh"] == 0, r
