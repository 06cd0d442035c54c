"""Every program in examples/ runs as written under mpirun."""
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from mpi_harness import launch_env, mpiexec_command

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.py")))
def test_example_runs(name):
    if name.startswith("torch") and importlib.util.find_spec("torch") is None:
        pytest.skip("torch is not installed")
    result = subprocess.run(mpiexec_command() + ["-n", "3", sys.executable, str(EXAMPLES / name)],
                            capture_output=True, text=True, timeout=180, env=launch_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip(), "the example printed nothing"
