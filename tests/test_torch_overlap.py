"""DistributedOptimizer overlaps communication with backward: each bucket's
round starts from gradient hooks, in the same bucket order on every rank,
before backward returns. Averaged results match a reference trained on the
mean of every rank's gradient, and are the same bits as without overlap;
gradient accumulation over backward_passes_per_step passes averages the sum."""
import pytest

from mpi_harness import assert_same_on_every_rank, run_mpi

pytest.importorskip("torch", reason="torch is not installed (pip install partial4py[torch])")

TOLERANCE = 1e-12  # float64: only the summation order differs from the reference
STEPS = 3


@pytest.fixture(scope="module", params=[1, 2, 3, 5])
def results(request):
    return run_mpi(request.param, "torch_overlap", timeout=240)


def test_rounds_start_before_backward_returns(results):
    for r in results:
        case = r["overlap"]
        # The probe ran as the first layer's output gradient arrived: later
        # layers' rounds had started, the first layer's could not have.
        assert all(seen["started"] >= 1 and not seen["first_layer_started"] for seen in case["probe"]), case
        assert case["after_backward"] == [case["buckets"]] * STEPS, case


def test_overlap_matches_the_reference_and_the_rounds_started_in_step(results):
    assert_same_on_every_rank(results, "overlap")
    for r in results:
        assert r["overlap"]["worst"] < TOLERANCE, r["overlap"]
        assert r["overlap"]["contributions"] == [len(results)] * r["overlap"]["buckets"]
        assert r["no_overlap"]["after_backward"] == [0] * STEPS, r["no_overlap"]
        assert r["no_overlap"]["digest"] == r["overlap"]["digest"]


def test_backward_passes_per_step_averages_the_accumulated_sum(results):
    assert_same_on_every_rank(results, "accumulation")
    for r in results:
        case = r["accumulation"]
        assert case["worst"] < TOLERANCE, case
        # Nothing starts after the first of two passes; everything after the second.
        assert case["after_backward"] == [0, case["buckets"]] * STEPS, case


def test_topk_rounds_start_from_hooks(results):
    for case in ("topk_exact", "topk"):
        assert_same_on_every_rank(results, case)
    for r in results:
        assert r["topk_exact"]["worst"] < TOLERANCE, r["topk_exact"]  # density 1: nothing dropped
        assert r["topk"]["after_backward"] == [r["topk"]["buckets"]] * STEPS, r["topk"]
        assert r["topk_no_overlap"]["digest"] == r["topk"]["digest"]


def test_a_pass_too_many_raises_from_backward(results):
    for r in results:
        assert r["too_many_passes"]["raised"] == "InvalidArgumentError", r["too_many_passes"]
        assert "backward_passes_per_step" in r["too_many_passes"]["message"]


def test_flush_in_flight_raises_and_an_unused_parameter_holds_its_bucket(results):
    for r in results:
        case = r["solo"]
        assert case["flush"]["raised"] == "InvalidArgumentError", case
        assert case["started_with_unused"] == case["buckets"] - 1, case
        assert case["unused_grad_zero"] and case["unused_unchanged"], case
