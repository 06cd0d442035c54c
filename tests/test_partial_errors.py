"""Partial allreduce, bad input: mismatched creation arguments and wrong
buffers at call time raise on every rank, within the harness timeout.
A bad call on one rank is broadcast through the protocol, so the object
fails on every rank with a message naming that rank."""
import pytest

from mpi_harness import run_mpi
from partial_transports import TCP, environment_of

CREATION = {"count": "MismatchError", "dtype": "MismatchError", "mode": "MismatchError",
            "unknown_mode": "InvalidArgumentError", "quorum": "InvalidArgumentError",
            "algorithm": "MismatchError", "unknown_algorithm": "InvalidArgumentError",
            "trigger": "MismatchError", "unknown_trigger": "InvalidArgumentError"}
CALL = {"send_size": "InvalidArgumentError", "send_dtype": "DatatypeError",
        "recv_readonly": "InvalidArgumentError", "recv_noncontiguous": "InvalidArgumentError",
        "send_not_array": "DatatypeError"}
MISMATCHES = {"count", "dtype", "mode", "algorithm", "trigger"}


# Every size over shared memory; over tcp a subset keeps the suite short.
CASES = [pytest.param(n, None, id=f"{n}-shm") for n in (1, 2, 3, 4, 5, 8)] + \
        [pytest.param(n, TCP, id=f"{n}-tcp") for n in (3, 4)]


ARGS = {"creation": list(CREATION), "call": list(CALL), "modes": ["sync", "solo"]}


def check_raised_everywhere(results, nprocs):
    for result in results:
        assert result["healthy"]
        rank, outcomes = result["rank"], result["outcomes"]
        for kind, expected in CREATION.items():
            outcome = outcomes[f"create-{kind}"]
            if nprocs == 1 and kind in MISMATCHES:
                assert outcome["raised"] is None, outcome  # nothing to mismatch with
                continue
            assert expected in outcome["mro"], (rank, kind, outcome)
            assert "Error" in outcome["mro"]
        for mode in ("sync", "solo"):
            for kind, expected in CALL.items():
                outcome = outcomes[f"call-{mode}-{kind}"]
                assert outcome["raised"] is not None, f"rank {rank} did not raise for {kind} in {mode}"
                assert expected in outcome["mro"], (rank, mode, kind, outcome)
                if rank != nprocs - 1:
                    assert f"rank {nprocs - 1} of {nprocs}" in outcome["message"], outcome
                assert expected in outcome["after"]["mro"], outcome["after"]
                assert "ClosedError" in outcome["closed"]["mro"], outcome["closed"]


@pytest.mark.parametrize("nprocs,env", CASES)
def test_bad_input_raises_on_every_rank(nprocs, env):
    env = environment_of(env)
    check_raised_everywhere(run_mpi(nprocs, "partial_errors", ARGS, env=env, timeout=180), nprocs)
