"""partial4py.torch.broadcast_parameters, broadcast_optimizer_state and
broadcast_object under mpirun: after each, every rank holds the root's
bits (parameters in place, bfloat16 and non-contiguous tensors included;
optimizer state also where a rank had none; hyperparameters too), and bad
arguments on one rank raise on every rank."""
import pytest

from conftest import PROCS
from mpi_harness import run_mpi

pytest.importorskip("torch")

ERRORS = {"shape": "MismatchError", "root_out_of_range": "InvalidArgumentError",
          "different_roots": "MismatchError", "not_tensors": "InvalidArgumentError",
          "not_optimizer": "InvalidArgumentError"}


def check_group(results):
    size = len(results)
    root = results[-1]
    for result in results:
        assert result["params"]["after"] == root["params"]["before"], result["rank"]
        assert result["params"]["in_place"]
        assert result["optim"]["after"] == root["optim"]["before"], result["rank"]
        assert result["obj"] == {"rank": size - 1, "values": list(range(size + 2))}
        assert result["healthy"]
        for case, expected in ERRORS.items():
            outcome = result["errors"][case]
            if size == 1 and case in ("shape", "different_roots"):
                continue  # a single rank has no other rank to differ from
            assert outcome["raised"] is not None, (result["rank"], case)
            assert expected in outcome["mro"] and "Error" in outcome["mro"], (result["rank"], case, outcome)
    if size > 1:
        # The ranks really started from different values, so the checks above meant something.
        assert len({r["params"]["before"] for r in results}) == size
        assert results[0]["optim"]["before"] != root["optim"]["before"]


@pytest.mark.parametrize("nprocs", PROCS)
def test_every_rank_gets_the_roots_state(nprocs):
    check_group(run_mpi(nprocs, "torch_broadcast", timeout=180))


def test_on_subcommunicators():
    results = run_mpi(5, "torch_broadcast", {"split": True}, timeout=180)
    for color in (0, 1):
        check_group([r for r in results if r["color"] == color])
