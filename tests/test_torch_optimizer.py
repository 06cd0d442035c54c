"""partial4py.torch.DistributedOptimizer is a torch.optim.Optimizer: an
instance of the wrapped class that LR schedulers, GradScaler, state_dict /
load_state_dict, add_param_group, zero_grad and closures drive as they would
the optimizer itself. In sync mode its parameters follow a reference trained
with the plain optimizer on the mean of every rank's gradient, and every rank
ends with the same bits."""
import pytest

from mpi_harness import assert_same_on_every_rank, run_mpi

pytest.importorskip("torch", reason="torch is not installed (pip install partial4py[torch])")

TOLERANCE = 1e-12  # float64: only the summation order differs from the reference


@pytest.fixture(scope="module", params=[1, 2, 3, 5])
def results(request):
    return run_mpi(request.param, "torch_optimizer_protocol", timeout=240)


def test_it_is_an_instance_of_the_wrapped_class(results):
    for r in results:
        assert r["kinds"] == {"class": "DistributedAdam", "is_adam": True, "is_optimizer": True,
                              "is_distributed": True, "shares_groups": True,
                              "averaged_after_base_scheduler": True}, r


def test_lr_scheduler_and_state_dict(results):
    assert_same_on_every_rank(results, "scheduler")
    for r in results:
        case = r["scheduler"]
        assert case["worst"] < TOLERANCE, case
        assert [ours for ours, _ in case["rates"]] == [theirs for _, theirs in case["rates"]], case
        assert case["rates"][-1][0] == pytest.approx(0.1 * 0.5 ** 6), case
        assert case["momentum_kept"], case


def test_add_param_group_zero_grad_and_closure(results):
    assert_same_on_every_rank(results, "groups")
    for r in results:
        case = r["groups"]
        assert case["worst"] < TOLERANCE, case
        assert case["extra_moved"] and case["buckets_added"] == 1, case
        assert case["zeroed"] and case["cleared"], case
        assert case["step_returned_the_closure_loss"], case


def test_grad_scaler_skips_the_same_steps_on_every_rank(results):
    assert_same_on_every_rank(results, "scaler")
    for r in results:
        case = r["scaler"]
        assert case["worst"] < TOLERANCE, case
        assert case["scales"] == results[0]["scaler"]["scales"], case
        assert case["scales"][1] == case["scales"][0] / 2, case
