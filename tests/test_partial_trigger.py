"""Partial allreduce, the trigger: both triggers count every contribution
(the rounds add up to P x calls), the one-sided one with one atomic per
call and the point-to-point one with none; no rank sends and receives more
than 2 ceil(log2 P) + 4 control messages per round, from P=2 to 32, in
every mode; a flush that meets a peer's close ends in the close; auto
picks one_sided on one node; bad names raise on every rank."""
import math

import pytest

from mpi_harness import run_mpi

TRIGGERS = ["one_sided", "point_to_point"]
MODES = ["solo", "majority", "sync"]


def control_bound(nprocs):
    return 2 * math.ceil(math.log2(nprocs)) + 4 if nprocs > 1 else 0


@pytest.mark.parametrize("trigger", TRIGGERS)
@pytest.mark.parametrize("nprocs", [1, 2, 3, 4, 5, 8, 16, 32])
def test_control_messages_per_round_stay_within_log_p(nprocs, trigger):
    calls = 30 if nprocs <= 8 else 12
    cases = [{"mode": mode, "calls": calls, "seed": 7 + i, "trigger": trigger} for i, mode in enumerate(MODES)]
    results = run_mpi(nprocs, "partial_trigger", {"cases": cases}, timeout=600)
    for index, case in enumerate(cases):
        worst = 0.0
        for result in results:
            outcome = result["outcomes"][index]
            before, after = outcome["before"], outcome["after"]
            assert outcome["trigger"] == after["trigger"] == trigger
            assert outcome["total"] == nprocs * calls, (case, outcome)  # nothing lost, nothing twice
            rounds = after["rounds"] - before["rounds"]
            assert 1 <= rounds <= calls + 1
            messages = (after["control_messages_sent"] - before["control_messages_sent"] +
                        after["control_messages_received"] - before["control_messages_received"])
            worst = max(worst, messages / rounds)
            rma = after["rma_operations"] - before["rma_operations"]
            # One arrival per call; a flush counts the calls not yet arrived itself.
            assert (0 < rma <= calls) if trigger == "one_sided" else rma == 0, (case, rma)
        assert worst <= control_bound(nprocs), (case, worst)


@pytest.mark.parametrize("trigger", TRIGGERS)
def test_a_flush_that_meets_a_close_ends_in_the_close(trigger):
    """Flush and close are one collective: rank 0's flush matches its peers'
    close, so it raises ClosedError instead of waiting, and every close ends."""
    results = run_mpi(3, "partial_trigger", {"flush_meets_close": trigger}, timeout=90)
    for result in results:
        outcome = result["outcome"]
        assert outcome["closed"]["raised"] is None, outcome
        if result["rank"] == 0:
            assert outcome["flushed"]["raised"] == "ClosedError", outcome


@pytest.mark.parametrize("nprocs", [2, 3])
def test_auto_counts_with_one_sided_atomics_on_one_node(nprocs):
    results = run_mpi(nprocs, "partial_trigger", {"cases": [{"mode": "solo", "calls": 5, "seed": 1}]},
                      env={"LP_PARTIAL_TRIGGER": ""})
    for result in results:
        outcome = result["outcomes"][0]
        assert outcome["trigger"] == "one_sided"
        assert outcome["after"]["rma_operations"] > 0


def test_environment_picks_the_trigger():
    results = run_mpi(3, "partial_trigger", {"cases": [{"mode": "majority", "calls": 5, "seed": 2}]},
                      env={"LP_PARTIAL_TRIGGER": "point_to_point"})
    assert {r["outcomes"][0]["trigger"] for r in results} == {"point_to_point"}
    assert all(r["outcomes"][0]["total"] == 15 for r in results)


def test_a_bad_environment_name_raises_on_every_rank():
    results = run_mpi(3, "partial_trigger", {"create_only": True}, env={"LP_PARTIAL_TRIGGER": "semaphore"})
    for result in results:
        assert "InvalidArgumentError" in result["outcome"]["mro"], result
        assert "LP_PARTIAL_TRIGGER=semaphore" in result["outcome"]["message"]


def test_a_bad_trigger_name_raises():
    results = run_mpi(2, "partial_trigger", {"create_only": True, "trigger": "semaphore"})
    for result in results:
        assert "InvalidArgumentError" in result["outcome"]["mro"], result
        assert "semaphore" in result["outcome"]["message"]
