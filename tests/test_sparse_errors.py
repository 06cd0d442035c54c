"""Bad sparse input on one rank raises partial4py.Error (a ValueError, or a
TypeError for a wrong dtype) on every rank, within the timeout, for every
algorithm; the communicator stays usable."""
import pytest

from conftest import PROCS
from mpi_harness import run_mpi

# kind -> the builtin class every rank's exception must also be
EXPECTED = {
    "out_of_range": ValueError,
    "negative_index": ValueError,
    "size_mismatch": ValueError,
    "dtype_mismatch": ValueError,
    "index_dtype_mismatch": ValueError,
    "length_mismatch": ValueError,
    "algorithm_mismatch": ValueError,
    "unknown_algorithm": ValueError,
    "index_dtype": TypeError,
}
# Only another rank can disagree.
MISMATCHES = {"size_mismatch", "dtype_mismatch", "index_dtype_mismatch", "algorithm_mismatch"}
ALGORITHMS = ["auto", "recursive_doubling", "split_allgather", "dsar", "allgather", "dense"]


@pytest.mark.parametrize("nprocs", PROCS + [8])
def test_bad_sparse_input_on_one_rank_raises_everywhere(nprocs):
    kinds = list(EXPECTED)
    results = run_mpi(nprocs, "sparse_errors", {"kinds": kinds, "algorithms": ALGORITHMS}, timeout=90)
    for result in results:
        assert result["healthy"]
        for kind, per_algorithm in zip(kinds, result["outcomes"]):
            for algorithm, outcome in zip(ALGORITHMS, per_algorithm):
                if nprocs == 1 and kind in MISMATCHES:
                    assert outcome["raised"] is None, (kind, algorithm, outcome)
                    continue
                where = (result["rank"], kind, algorithm, outcome)
                assert outcome["raised"] is not None, where
                assert "Error" in outcome["mro"], where
                assert EXPECTED[kind].__name__ in outcome["mro"], where
                if kind in MISMATCHES:
                    assert "MismatchError" in outcome["mro"], where
                if kind in ("out_of_range", "negative_index"):
                    assert "IndexOutOfRangeError" in outcome["mro"], where
