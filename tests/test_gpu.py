"""GPU (CuPy) buffers under mpirun: allreduce, iallreduce, sparse_allreduce
(every algorithm and auto), PartialAllreduce (solo, majority, sync) and the
top-k compressor give what the same data gives in NumPy arrays, bit for bit
where the arithmetic is exact, at P = 1..5 and on a split communicator;
staged through pinned host memory (LP_CUDA_AWARE=0) and, where MPI is
CUDA-aware, with device pointers. Bad GPU input raises on every rank.

Skipped, with the reason, where CuPy or a GPU is missing (see docs/gpu.md).
"""
import functools
import subprocess
import sys

import numpy as np
import pytest

from conftest import PROCS
from mpi_harness import launch_env, run_mpi


def gpu_missing():
    """Why the GPU tests cannot run here, or None."""
    try:
        import cupy
    except Exception as exc:  # ImportError, or a broken CUDA installation
        return f"CuPy cannot be imported ({exc})"
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except cupy.cuda.runtime.CUDARuntimeError as exc:
        return f"CuPy finds no usable GPU ({exc})"
    return None if count else "CuPy finds no GPU"


MISSING = gpu_missing()
pytestmark = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")

STAGED = {"LP_CUDA_AWARE": "0"}
PATHS = [pytest.param(STAGED, id="staged"), pytest.param({}, id="as-detected")]
DTYPES = ["int32", "int64", "float32", "float64"]
DENSE_FORMS = ["blocking", "in_place", "nonblocking", "interface", "dlpack", "own_stream"]


@functools.lru_cache(maxsize=None)
def mpi_is_cuda_aware():
    code = "from partial4py.mpi_cuda import cuda_aware; print(cuda_aware())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env=launch_env(), check=True)
    return out.stdout.strip() == "True"


def require_path(env):
    if env != STAGED and not mpi_is_cuda_aware():
        pytest.skip("MPI is not CUDA-aware here: the staged run already covers what runs")


def gpu_count():
    import cupy
    return cupy.cuda.runtime.getDeviceCount()


def cases(seed):
    """Every dtype, op, form, algorithm and value kind, with random sizes and data."""
    rng = np.random.default_rng(seed)

    def draw(high):
        return int(rng.integers(0, high))
    dense = [{"family": "dense", "dtype": dtype, "op": op, "form": DENSE_FORMS[(i + j) % len(DENSE_FORMS)],
              "values": values, "count": draw(3000), "seed": draw(2**32)}
             for i, dtype in enumerate(DTYPES) for j, op in enumerate(["sum", "prod", "min", "max"])
             for values in ("integers", "reals")]
    sparse = [{"family": "sparse", "dtype": dtype, "index_dtype": index_dtype, "values": values,
               "size": 1 + draw(3000), "density": density, "nonblocking": density == 0.1, "seed": draw(2**32)}
              for dtype in DTYPES for index_dtype in ("int32", "int64") for values in ("integers", "reals")
              for density in (0.0, 0.01, 0.1, 1.5)]
    topk = [{"family": "topk", "dtype": dtype, "index_dtype": "int32", "size": 1 + draw(2000),
             "density": density, "steps": 4, "seed": draw(2**32)}
            for dtype in ("float32", "float64") for density in (0.01, 0.3, 1.0)]
    quantized = [{"family": "quantized", "dtype": dtype, "bits": bits, "bucket_size": 64, "count": draw(3000),
                  "seed": draw(2**32)} for dtype in ("float32", "float64") for bits in (2, 4, 8)]
    return dense + sparse + topk + quantized  # dense first: the pool is read after them


PARTIAL_SPECS = [{"mode": mode, "calls": 24, "count": count, "dtype": dtype}
                 for mode in ("solo", "majority", "sync") for count, dtype in ((1, "int64"), (1000, "float32"))]


def assert_identical(results, key="digests"):
    assert len({repr(r[key]) for r in results}) == 1, "ranks got different bits"


@pytest.mark.parametrize("env", PATHS)
@pytest.mark.parametrize("nprocs", PROCS)
def test_dense_sparse_and_topk_match_numpy(nprocs, env):
    require_path(env)
    results = run_mpi(nprocs, "gpu", {"cases": cases(nprocs)}, env=env, timeout=600)
    assert_identical(results)
    for r in results:
        assert r["cuda_aware"] == (env != STAGED), r["cuda_aware"]
        # Device pointers go to MPI as they are; staging keeps its buffers for the next call.
        assert (r["pinned"]["dense"] > 0) == (env == STAGED), r["pinned"]


@pytest.mark.parametrize("env", PATHS)
@pytest.mark.parametrize("nprocs", PROCS)
def test_partial_with_gpu_buffers(nprocs, env):
    require_path(env)
    results = run_mpi(nprocs, "gpu_partial", {"cases": PARTIAL_SPECS}, env=env, timeout=300)
    assert_identical(results)


@pytest.mark.parametrize("env", PATHS)
def test_on_a_split_communicator(env):
    require_path(env)
    halves = [run_mpi(5, "gpu", {"cases": cases(55), "split": True}, env=env, timeout=600),
              run_mpi(5, "gpu_partial", {"cases": PARTIAL_SPECS, "split": True}, env=env, timeout=300)]
    for results in halves:
        for color in (0, 1):
            assert_identical([r for r in results if r["color"] == color])


ERRORS = {
    "dense": {"noncontiguous": "InvalidArgumentError", "dtype": "DatatypeError", "readonly": "InvalidArgumentError",
              "host_recv": "DatatypeError", "recv_size": "InvalidArgumentError"},
    "sparse": {"out_of_range": "IndexOutOfRangeError", "negative_index": "IndexOutOfRangeError",
               "noncontiguous": "InvalidArgumentError", "dtype": "DatatypeError", "host_values": "DatatypeError"},
    "partial": {"noncontiguous": "InvalidArgumentError", "dtype": "DatatypeError",
                "readonly": "InvalidArgumentError", "host_recv": "DatatypeError"},
    "compress": {"noncontiguous": "InvalidArgumentError"},
}


def check_errors(results, expected):
    for result in results:
        assert result["healthy"]
        for family, kinds in expected.items():
            for kind, error in kinds.items():
                outcomes = {name: outcome for name, outcome in result["outcomes"].items()
                            if name.startswith(f"{family}-{kind}")}
                assert outcomes, (family, kind)
                for name, outcome in outcomes.items():
                    assert error in outcome["mro"] and "Error" in outcome["mro"], (result["rank"], name, outcome)


@pytest.mark.parametrize("env", PATHS)
@pytest.mark.parametrize("nprocs", [1, 2, 3, 5])
def test_bad_gpu_input_raises_on_every_rank(nprocs, env):
    require_path(env)
    args = {family: list(kinds) for family, kinds in ERRORS.items()}
    check_errors(run_mpi(nprocs, "gpu_errors", args, env=env, timeout=180), ERRORS)


@pytest.mark.parametrize("nprocs", [1, 3])
def test_array_on_another_gpu_raises_on_every_rank(nprocs):
    if gpu_count() < 2:
        pytest.skip("one GPU: no array can be on another GPU than the current one")
    expected = {family: {"other_gpu": "InvalidArgumentError"} for family in ERRORS}
    args = {family: ["other_gpu"] for family in ERRORS}
    check_errors(run_mpi(nprocs, "gpu_errors", args, env=STAGED, timeout=180), expected)


@pytest.mark.parametrize("mode", ["sync", "solo", "topk"])
def test_torch_optimizer_keeps_cuda_gradients_on_the_gpu(mode):
    torch = pytest.importorskip("torch", reason="torch is not installed")
    if not torch.cuda.is_available():
        pytest.skip("this torch build has no CUDA (the CPU build that make installs)")
    for r in run_mpi(3, "torch_optimizer", {"mode": mode, "device": "cuda"}, timeout=300):
        assert r["worst_error"] < 1e-5
        assert r["last_loss"] < 0.5 * r["first_loss"], r
