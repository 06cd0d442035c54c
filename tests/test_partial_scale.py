"""Partial allreduce at scale: the conservation, atomicity and agreement
checks of test_partial_conservation and test_partial_consistency at
P = 16, 24 and 32 (oversubscribed here), for both reduction algorithms."""
import numpy as np
import pytest

from mpi_harness import run_mpi
from test_partial_conservation import expected_total
from test_partial_consistency import check_agreement

CALLS = 30


@pytest.mark.parametrize("algorithm", ["ring", "halving_doubling"])
@pytest.mark.parametrize("nprocs", [16, 24, 32])
def test_invariants_at_scale(nprocs, algorithm):
    specs = [{"mode": mode, "calls": CALLS, "algorithm": algorithm, "delay": 1e-3}
             for mode in ("solo", "majority", "sync")]
    results = run_mpi(nprocs, "partial_rounds", {"specs": specs, "seed": nprocs}, timeout=420)
    check_agreement(results, specs, nprocs)
    for result in results:
        for outcome in result["outcomes"]:
            assert outcome["algorithm"] == algorithm
            np.testing.assert_array_equal(np.array(outcome["total"]), expected_total(nprocs, CALLS))
            assert len(outcome["rounds"]) == CALLS + 1
