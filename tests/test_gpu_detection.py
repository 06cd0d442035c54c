"""What the GPU support does without a GPU: importing partial4py never
loads CuPy, and a GPU array (one with __cuda_array_interface__) passed
where CuPy is not installed raises a clear DatatypeError on every rank
instead of crashing or hanging (see docs/gpu.md)."""
import importlib.util
import subprocess
import sys

import pytest

from conftest import PROCS
from mpi_harness import run_mpi


def test_importing_the_package_never_imports_cupy():
    code = ("import sys, partial4py, partial4py.compress, partial4py.bench, partial4py.bench.__main__; "
            "print('cupy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "False"


@pytest.mark.skipif(importlib.util.find_spec("cupy") is not None, reason="CuPy is installed: this is the case without")
@pytest.mark.parametrize("nprocs", PROCS)
def test_gpu_array_without_cupy_raises_clearly_on_every_rank(nprocs):
    results = run_mpi(nprocs, "gpu_without_cupy", {})
    for result in results:
        assert result["healthy"]
        for name, outcome in result["outcomes"].items():
            assert "DatatypeError" in outcome["mro"], (result["rank"], name, outcome)
            if result["rank"] == nprocs - 1 or name == "compress":  # where the GPU array was
                assert "GPU array" in outcome["message"], outcome
