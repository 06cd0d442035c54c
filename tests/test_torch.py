"""The optional PyTorch integration, under mpirun with the CPU build of torch."""
import subprocess
import sys

import pytest

from mpi_harness import run_mpi

torch = pytest.importorskip("torch", reason="torch is not installed (pip install partial4py[torch])")


@pytest.mark.parametrize("nprocs", [1, 2, 3, 5])
def test_sync_equals_manual_average_and_solo_converges(nprocs):
    results = run_mpi(nprocs, "torch_optimizer", {"mode": "solo"}, timeout=180)
    for r in results:
        assert r["buckets"] > 1
        assert r["worst_error"] < 1e-5
        assert r["last_loss"] < 0.25 * r["first_loss"], r


@pytest.mark.parametrize("mode, bits", [("topk", 8), ("qsgd", 4), ("qsgd", 2)])
def test_compressed_modes_converge_identically_on_every_rank(mode, bits):
    results = run_mpi(3, "torch_optimizer", {"mode": mode, "bits": bits}, timeout=180)
    for r in results:
        assert r["last_loss"] < 0.5 * r["first_loss"], r
    assert len({r["parameters"] for r in results}) == 1, "the ranks' parameters differ"


def test_core_package_never_imports_torch():
    code = "import sys, partial4py, partial4py.demo, partial4py.bench; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "False"
