"""A mismatch names the argument and shows its values in human form, each
with the lowest rank that passed it, on every rank: dense, sparse and the
partial allreduce's creation."""
import pytest

from mpi_harness import run_mpi

# (kind, {rank: value that rank passes instead of the common one}, message on every rank)
CASES = [
    ("dense_count", {"2": 9}, "count differs across ranks: 8 on rank 0, 9 on rank 2"),
    ("dense_count", {"1": 3, "2": 12}, "count differs across ranks: 3 on rank 1, 12 on rank 2"),
    ("dense_dtype", {"1": "float64"}, "dtype differs across ranks: float32 on rank 0, float64 on rank 1"),
    ("dense_op", {"2": "max"}, "op differs across ranks: sum on rank 0, max on rank 2"),
    ("sparse_index_dtype", {"1": "int32"}, "index dtype differs across ranks: int32 on rank 1, int64 on rank 0"),
    ("sparse_density_threshold", {"2": 0.25},
     "density_threshold differs across ranks: 0.1 on rank 0, 0.25 on rank 2"),
    ("sparse_density_threshold", {"1": 0.10000000000000002},  # the next double: 17 digits tell it apart
     "density_threshold differs across ranks: 0.1 on rank 0, 0.10000000000000002 on rank 1"),
    ("sparse_size", {"2": 11}, "size differs across ranks: 10 on rank 0, 11 on rank 2"),
    ("sparse_dtype", {"2": "int32"}, "value dtype differs across ranks: int32 on rank 2, float32 on rank 0"),
    ("sparse_algorithm", {"1": "dense"},
     "algorithm differs across ranks: split_allgather on rank 0, dense on rank 1"),
    ("partial_count", {"2": 17}, "count differs across ranks: 16 on rank 0, 17 on rank 2"),
    ("partial_mode", {"2": "sync"}, "mode differs across ranks: majority on rank 0, sync on rank 2"),
    ("partial_dtype", {"0": "int64"}, "dtype differs across ranks: int64 on rank 0, float32 on rank 1"),
    ("partial_op", {"1": "min"}, "op differs across ranks: sum on rank 0, min on rank 1"),
    ("partial_max_staleness", {"1": 3}, "max_staleness differs across ranks: 3 on rank 1, 8 on rank 0"),
]


def test_mismatch_messages_name_the_argument_values_and_ranks():
    results = run_mpi(3, "mismatch_messages", {"cases": [[kind, values] for kind, values, _ in CASES]},
                      timeout=90)
    for result in results:
        assert result["healthy"]
        for (kind, _, message), outcome in zip(CASES, result["outcomes"]):
            where = (result["rank"], kind, outcome)
            assert "MismatchError" in outcome["mro"], where
            assert outcome["message"] == message, where


@pytest.mark.parametrize("nprocs", [2, 5])
def test_mismatch_message_at_other_sizes(nprocs):
    last = str(nprocs - 1)
    results = run_mpi(nprocs, "mismatch_messages", {"cases": [["sparse_size", {last: 7}]]}, timeout=60)
    for result in results:
        assert result["outcomes"][0]["message"] == f"size differs across ranks: 7 on rank {last}, 10 on rank 0"


def test_zero_thresholds_of_either_sign_agree():
    # -0.0 passes the threshold check and means the default, as 0.0 does. Its
    # bits are INT64_MIN, where the agreement's min used to overflow.
    cases = [["sparse_density_threshold", {"0": -0.0, "1": -0.0, "2": -0.0}],
             ["sparse_density_threshold", {"0": -0.0, "1": 0.0, "2": -0.0}]]
    for result in run_mpi(3, "mismatch_messages", {"cases": cases}, timeout=60):
        assert [outcome["raised"] for outcome in result["outcomes"]] == [None, None], result
