"""partial4py.allreduce / iallreduce against NumPy, under mpirun."""
import pytest
from hypothesis import given, strategies as st

from conftest import PROCS
from mpi_harness import assert_identical_digests, run_mpi

DTYPES = ["int32", "int64", "float32", "float64"]
cases = st.lists(st.fixed_dictionaries({
    "dtype": st.sampled_from(DTYPES),
    "op": st.sampled_from(["sum", "prod", "min", "max"]),
    "count": st.integers(0, 2000),
    "seed": st.integers(0, 2**32 - 1),
    "mode": st.sampled_from(["blocking", "in_place", "nonblocking"]),
}), min_size=1, max_size=6)


@pytest.mark.parametrize("nprocs", PROCS)
@given(cases=cases)
def test_allreduce_matches_numpy(nprocs, cases):
    results = run_mpi(nprocs, "dense", {"cases": cases})
    assert_identical_digests(results)


@given(cases=cases)
def test_allreduce_on_subcommunicators(cases):
    results = run_mpi(5, "dense", {"cases": cases, "split": True})
    for color in (0, 1):
        assert_identical_digests(results, color)


def test_chunked_counts_beyond_one_mpi_call():
    # LP_MAX_MPI_COUNT makes the core split a call into chunks, the path that
    # counts above INT_MAX take.
    cases = [{"dtype": d, "op": "sum", "count": 1001, "seed": 7, "mode": m}
             for d in DTYPES for m in ("blocking", "in_place", "nonblocking")]
    results = run_mpi(3, "dense", {"cases": cases}, env={"LP_MAX_MPI_COUNT": "97"})
    assert_identical_digests(results)
