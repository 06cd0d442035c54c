import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from hypothesis import settings  # noqa: E402

# Each example launches MPI processes: few examples, no deadline.
settings.register_profile("mpi", max_examples=3, deadline=None, derandomize=False)
# CI: the same examples on every run, so that a failure there reproduces.
settings.register_profile("ci", max_examples=3, deadline=None, derandomize=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "mpi"))

PROCS = [1, 2, 3, 4, 5]


ROOT = Path(__file__).resolve().parent.parent
MPICC = os.environ.get("MPICC", "mpicc")


@pytest.fixture(scope="session")
def install_prefix(tmp_path_factory):
    """The C library built and installed (cmake --install) into a temporary
    prefix, once per session, for the tests of what is installed."""
    if shutil.which(MPICC) is None or shutil.which("cmake") is None:
        pytest.skip(f"needs cmake and {MPICC}")
    base = tmp_path_factory.mktemp("install")
    build = base / "build"
    for command in (["cmake", "-S", str(ROOT), "-B", str(build), f"-DMPI_C_COMPILER={shutil.which(MPICC)}",
                     "-DLP_BUILD_TESTS=OFF", "-DLP_BUILD_BENCHMARKS=OFF",
                     f"-DCMAKE_INSTALL_PREFIX={base / 'prefix'}"],
                    ["cmake", "--build", str(build), "-j", "2"],
                    ["cmake", "--install", str(build)]):
        result = subprocess.run(command, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    return base / "prefix"


def installed_libdir(prefix):
    """The prefix's library folder: lib, lib64 or lib/<multiarch>."""
    return next(p for p in (prefix / "lib", prefix / "lib64", *prefix.glob("lib/*-linux-gnu"))
                if (p / "pkgconfig" / "libpartial.pc").exists())
