"""The installed C library works for programs outside the project: built
with pkg-config and with find_package(libpartial), run under mpirun."""
import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import installed_libdir
from mpi_harness import launch_env, mpiexec_command

CONSUMER = Path(__file__).parent / "consumer"
MPICC = os.environ.get("MPICC", "mpicc")


def run(command, env=None):
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env or launch_env())
    assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def prefix(install_prefix):
    return install_prefix


def run_consumer(executable):
    out = run(mpiexec_command() + ["-n", "3", str(executable)])
    assert "consumer: sum of ranks 3 ok" in out


def test_pkg_config_consumer(prefix, tmp_path):
    if shutil.which("pkg-config") is None:
        pytest.skip("needs pkg-config")
    libdir = installed_libdir(prefix)
    flags = run(["pkg-config", "--cflags", "--libs", "libpartial"],
                env=dict(os.environ, PKG_CONFIG_PATH=str(libdir / "pkgconfig")))
    executable = tmp_path / "consumer"
    run([MPICC, str(CONSUMER / "consumer.c"), "-o", str(executable), *shlex.split(flags)])
    run_consumer(executable)


def test_find_package_consumer(prefix, tmp_path):
    build = tmp_path / "build"
    run(["cmake", "-S", str(CONSUMER), "-B", str(build), f"-DCMAKE_PREFIX_PATH={prefix}",
         f"-DMPI_C_COMPILER={shutil.which(MPICC)}"])
    run(["cmake", "--build", str(build)])
    run_consumer(build / "consumer")
