"""Bad input on one rank raises on every rank, within the timeout, and the
communicator stays usable."""
import pytest

from conftest import PROCS
from mpi_harness import run_mpi

# kind -> the builtin class every rank's exception must also be
EXPECTED = {
    "dtype": TypeError,
    "noncontiguous": ValueError,
    "readonly": ValueError,
    "count": ValueError,
    "datatype_mismatch": ValueError,
    "op": ValueError,
    "recv_size": ValueError,
    "not_an_array": TypeError,
}


@pytest.mark.parametrize("nprocs", PROCS)
def test_bad_input_on_one_rank_raises_everywhere(nprocs):
    kinds = list(EXPECTED)
    results = run_mpi(nprocs, "errors", {"kinds": kinds}, timeout=90)
    for result in results:
        assert result["healthy"]
        for kind, outcome in zip(kinds, result["outcomes"]):
            if nprocs == 1 and kind in ("count", "datatype_mismatch"):
                assert outcome["raised"] is None, (kind, outcome)  # nothing to mismatch with
                continue
            assert outcome["raised"] is not None, f"rank {result['rank']} did not raise for {kind}"
            assert "Error" in outcome["mro"], outcome
            if kind in ("count", "datatype_mismatch"):
                assert "MismatchError" in outcome["mro"], outcome
            assert EXPECTED[kind].__name__ in outcome["mro"], (kind, outcome)
