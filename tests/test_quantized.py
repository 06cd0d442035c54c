"""partial4py.quantized_allreduce / iquantized_allreduce under mpirun:
results within the quantization's error bound of the exact sum and
bitwise identical on every rank, the bias and variance of many calls
within the documented bounds, the same bits for the same seed run after
run, and the defined behaviour of zeros, NaN and infinity."""
import pytest
from hypothesis import given, strategies as st

from conftest import PROCS
from mpi_harness import assert_identical_digests, run_mpi

cases = st.lists(st.fixed_dictionaries({
    "dtype": st.sampled_from(["float32", "float64"]),
    "bits": st.sampled_from([2, 4, 8]),
    "bucket_size": st.sampled_from([1, 3, 8, 64, 512]),
    # Counts below P (blocks without a bucket), off the bucket size, and long.
    "count": st.one_of(st.integers(0, 6), st.integers(7, 3000)),
    "scale": st.sampled_from(["max", "l2"]),
    "seed": st.integers(0, 2**32 - 1),
    "qseed": st.integers(0, 2**64 - 1),
    "mode": st.sampled_from(["blocking", "in_place", "nonblocking"]),
}), min_size=1, max_size=6)


@pytest.mark.parametrize("nprocs", PROCS)
@given(cases=cases)
def test_within_the_error_bound_and_identical_on_every_rank(nprocs, cases):
    assert_identical_digests(run_mpi(nprocs, "quantized", {"cases": cases}))


@given(cases=cases)
def test_on_subcommunicators(cases):
    results = run_mpi(5, "quantized", {"cases": cases, "split": True})
    for color in (0, 1):
        assert_identical_digests(results, color)


@pytest.mark.parametrize("nprocs", [8, 16])
def test_many_ranks(nprocs):
    # More ranks than buckets (some blocks empty) and more buckets than ranks, oversubscribed.
    cases = [{"dtype": "float32", "bits": b, "bucket_size": 32, "count": count, "scale": "max", "seed": 4,
              "qseed": 2, "mode": m} for b in (2, 8) for count in (100, 5000) for m in ("blocking", "nonblocking")]
    assert_identical_digests(run_mpi(nprocs, "quantized", {"cases": cases}, timeout=180))


def test_chunked_messages():
    # LP_MAX_MPI_COUNT cuts each message into MPI calls of 97 bytes, the
    # path of blocks above 2 GiB.
    cases = [{"dtype": d, "bits": b, "bucket_size": 16, "count": 2001, "scale": "max", "seed": 3, "qseed": 9,
              "mode": m} for d in ("float32", "float64") for b in (2, 8) for m in ("blocking", "nonblocking")]
    assert_identical_digests(run_mpi(3, "quantized", {"cases": cases}, env={"LP_MAX_MPI_COUNT": "97"}))


STATISTICS = [(bits, scale) for bits in (2, 4, 8) for scale in ("max", "l2")]


@pytest.mark.parametrize("bits,scale", STATISTICS, ids=[f"{b}bit-{s}" for b, s in STATISTICS])
def test_unbiased_with_bounded_variance(bits, scale):
    # 300 elements in buckets of 64 (the last is short) at P=3; 200 calls
    # with seeds 0..199. Each element's mean is within 5.5 standard errors
    # of the exact sum, the standard error coming from the variance bound
    # (for 300 elements the chance that a correct implementation fails is
    # below 1e-5); so is their mean bias toward larger magnitudes, which a
    # rounding that favours one direction shows at a few percent of a level;
    # and the sample variance stays within the bound.
    case = {"dtype": "float32", "bits": bits, "bucket_size": 64, "count": 300, "scale": scale, "seed": 11,
            "mode": "blocking"}
    results = run_mpi(3, "quantized", {"kind": "statistics", "case": case, "trials": 200}, timeout=120)
    assert len({r["digest"] for r in results}) == 1, "ranks got different bits"
    stats = results[0]
    assert stats["quantized"], "no rounding noise at all: nothing was quantized"
    assert stats["z"] < 5.5, stats
    assert abs(stats["magnitude_z"]) < 5, stats  # the elements' mean bias toward larger or smaller magnitudes
    assert stats["variance_ratio"] <= 1.0, stats
    assert stats["max_variance_ratio"] <= 1.5, stats  # one element's sample variance, 199 degrees of freedom


def test_same_seed_same_bits_run_after_run():
    case = {"dtype": "float32", "bits": 4, "bucket_size": 32, "count": 200, "scale": "l2", "seed": 5,
            "mode": "blocking"}
    args = {"kind": "statistics", "case": case, "trials": 3}
    first, second = (run_mpi(3, "quantized", args)[0]["digest"] for _ in range(2))
    assert first == second
    other = run_mpi(3, "quantized", dict(args, first_seed=1))[0]["digest"]
    assert other != first


@pytest.mark.parametrize("nprocs", [2, 4])
def test_zeros_nan_and_infinity(nprocs):
    case = {"dtype": "float32", "bits": 4, "bucket_size": 16, "count": 100, "scale": "max", "seed": 2}
    results = run_mpi(nprocs, "quantized", {"kind": "edges", "case": case})
    assert len({r["digest"] for r in results}) == 1, "ranks got different bits"
    for r in results:
        assert r["zeros_exact"], r
        assert r["nan_buckets"] == [0, 2, 3], r
        assert r["whole_buckets"] and r["others_finite"], r


@pytest.mark.parametrize("nprocs", [1, 2, 3, 5])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_error_feedback_loses_nothing(nprocs, dtype):
    # Five steps of QSGDCompressor(error_feedback=True): the sum of the
    # results plus every rank's residual is the exact sum of all gradients
    # (to float32 rounding), on every rank alike.
    case = {"dtype": dtype, "bits": 2, "bucket_size": 40, "count": 333, "scale": "l2", "seed": 8}
    results = run_mpi(nprocs, "quantized", {"kind": "feedback", "case": case, "steps": 5})
    assert len({r["digest"] for r in results}) == 1, "ranks got different bits"
    for r in results:
        assert r["missed"] <= 1e-5 * r["scale"], r
        assert r["residual_nonzero"] == (nprocs > 1), r
        assert (r["plain_error"] > 0) == (nprocs > 1), r
