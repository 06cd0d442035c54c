"""The README's Python example runs as written, under mpirun."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mpi_harness import launch_env, mpiexec_command

README = Path(__file__).resolve().parent.parent / "README.md"


@pytest.mark.parametrize("nprocs", [1, 4])
def test_readme_python_example_runs(nprocs, tmp_path):
    block = re.search(r"## Python\n.*?```python\n(.*?)```", README.read_text(), re.S).group(1)
    script = tmp_path / "example.py"
    script.write_text(block)
    result = subprocess.run(mpiexec_command() + ["-n", str(nprocs), sys.executable, str(script)],
                            capture_output=True, text=True, timeout=120, env=launch_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("InvalidArgumentError") == nprocs  # every rank raised
