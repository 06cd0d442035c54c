"""Partial allreduce: every rank sees the same bits and metadata for every
round (float32 results included, where a rank-dependent reduction order
would show), and every round holds its mode's quorum of fresh
contributions."""
import os

import pytest

from mpi_harness import run_mpi
from partial_transports import environment_of, transports

PROCS = [1, 2, 3, 4, 5, 8]


def quorum_of(mode, size):
    return {"solo": 1, "majority": (size + 1) // 2, "sync": size}.get(mode, mode)


SPECS = [{"mode": mode, "calls": 120, "dtype": dtype}
         for mode in ("solo", "majority", "sync") for dtype in ("float32", "int64")]


def check_agreement(results, specs, nprocs, auto_trigger="one_sided"):
    """auto_trigger: what auto resolves to where the ranks run (one node: one_sided)."""
    for index, spec in enumerate(specs):
        per_rank = [r["outcomes"][index]["rounds"] for r in results]
        # round number, contributions, fresh, digest of the result: identical everywhere
        assert all(rounds == per_rank[0] for rounds in per_rank), f"ranks disagree in {spec}"
        # The suite runs once per algorithm with LP_PARTIAL_ALGORITHM set (.ci/run): it must take effect.
        forced = spec.get("algorithm") or os.environ.get("LP_PARTIAL_ALGORITHM")
        if forced and forced != "auto" and nprocs > 1:
            assert {r["outcomes"][index]["algorithm"] for r in results} == {forced}
        # ... and once with LP_PARTIAL_TRIGGER=point_to_point.
        trigger = os.environ.get("LP_PARTIAL_TRIGGER") or "auto"
        assert {r["outcomes"][index]["trigger"] for r in results} == {auto_trigger if trigger == "auto" else trigger}
        quorum = quorum_of(spec["mode"], nprocs)
        assert results[0]["outcomes"][index]["quorum"] == quorum
        for number, contributions, fresh, _ in per_rank[0][:-1]:  # the last one is the flush
            assert fresh >= quorum, f"round {number} fired with {fresh} fresh contributions, quorum {quorum}"
            if spec["mode"] == "sync":
                assert contributions == fresh == nprocs


@pytest.mark.parametrize("env", transports())
@pytest.mark.parametrize("nprocs", PROCS)
def test_every_rank_agrees_on_every_round(nprocs, env):
    env = environment_of(env)
    results = run_mpi(nprocs, "partial_rounds", {"specs": SPECS, "seed": 100 + nprocs}, env=env, timeout=240)
    check_agreement(results, SPECS, nprocs)


@pytest.mark.parametrize("nprocs", [3, 5])
def test_on_a_subcommunicator(nprocs):
    results = run_mpi(nprocs, "partial_subcomm", {"calls": 60})
    for color in (0, 1):
        group = [r for r in results if r["color"] == color]
        assert all(r["rounds"] == group[0]["rounds"] for r in group)
        assert all(r["conserved"] for r in group)
