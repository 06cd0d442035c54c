"""partial4py.sparse_allreduce / isparse_allreduce against NumPy, under
mpirun: every algorithm, every P, every dtype and index dtype, densities
from one nonzero to full, unsorted input with repeats; results must be
identical bit for bit on every rank."""
import pytest
from hypothesis import given, strategies as st

from conftest import PROCS
from mpi_harness import assert_identical_digests, run_mpi

SPARSE_PROCS = PROCS + [8]
DTYPES = ["float32", "float64", "int32", "int64"]
ALGORITHMS = ["recursive_doubling", "split_allgather", "dsar", "allgather", "dense", "auto"]

case = st.fixed_dictionaries({
    "dtype": st.sampled_from(DTYPES),
    "index_dtype": st.sampled_from(["int32", "int64"]),
    "size": st.integers(1, 3000),
    "density": st.one_of(st.just("one"), st.sampled_from([0.001, 0.01, 0.1, 0.5, 1.0])),
    "seed": st.integers(0, 2**32 - 1),
    "mode": st.sampled_from(["blocking", "nonblocking"]),
})
cases = st.lists(case, min_size=4, max_size=8)


@pytest.mark.parametrize("nprocs", SPARSE_PROCS)
@given(cases=cases)
def test_sparse_allreduce_matches_numpy(nprocs, cases):
    results = run_mpi(nprocs, "sparse", {"cases": cases})
    assert_identical_digests(results)


def test_every_dtype_density_and_mode_at_five_ranks():
    # The fixed grid, so no combination depends on what hypothesis draws.
    grid = [{"dtype": d, "index_dtype": i, "size": 1009, "density": density, "seed": 11, "mode": m}
            for d in DTYPES for i in ("int32", "int64") for density in ("one", 0.01, 1.0)
            for m in (("blocking", "nonblocking") if density == 0.01 else ("blocking",))]
    assert_identical_digests(run_mpi(5, "sparse", {"cases": grid}))


def test_chunked_payloads():
    # LP_MAX_MPI_COUNT makes every payload travel in many small messages,
    # the path that payloads beyond INT_MAX bytes take.
    grid = [{"dtype": d, "index_dtype": "int64", "size": 2000, "density": 0.3, "seed": 5, "mode": "nonblocking"}
            for d in DTYPES]
    assert_identical_digests(run_mpi(3, "sparse", {"cases": grid}, env={"LP_MAX_MPI_COUNT": "61"}))


@given(cases=st.lists(case, min_size=2, max_size=4))
def test_sparse_allreduce_on_subcommunicators(cases):
    results = run_mpi(5, "sparse", {"cases": cases, "split": True})
    for color in (0, 1):
        assert_identical_digests(results, color)


@pytest.mark.parametrize("nprocs", [3, 5])
def test_auto_when_ranks_would_choose_differently(nprocs):
    """auto gets each rank ready for what its own entry count would choose;
    where the densest rank makes the choice differ, the ranks that guessed
    wrong get ready after the agreement, and the result is still exact."""
    densities = [[0.6, 0.0005, 0.03], [0.0005, 0.03, 0.6], [0.03, 0.0005], [0.2, 0.001, 0.001]]
    cases = [{"dtype": dtype, "index_dtype": "int32", "size": 1 << 16, "density": d, "seed": 17,
              "mode": mode, "algorithms": ["auto"]}
             for d in densities for dtype in ("float32", "int64") for mode in ("blocking", "nonblocking")]
    results = run_mpi(nprocs, "sparse", {"cases": cases})
    assert_identical_digests(results)
    choices = [tuple(choice) for r in results for choice in r["auto_choices"]]
    assert any(own != chosen for own, chosen in choices), f"no rank guessed wrong: {set(choices)}"
    assert any(own == chosen for own, chosen in choices)


@pytest.mark.parametrize("algorithm", ["recursive_doubling", "split_allgather", "dsar", "allgather", "dense"])
def test_concurrent_calls_on_two_communicators(algorithm):
    cases = [{"dtype": "float32", "index_dtype": "int32", "size": 777, "density": d, "seed": 3,
              "mode": "nonblocking", "algorithms": [algorithm]} for d in (0.01, 0.6)]
    results = run_mpi(4, "sparse", {"cases": cases, "concurrent": True})
    for color in (0, 1):
        assert_identical_digests(results, color)
