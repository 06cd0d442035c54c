"""One version everywhere: the number in CMakeLists.txt's project() line is
what the C library reports at run time, what its installed header defines,
what the installed CMake package accepts, partial4py.__version__ and the
Python distribution's metadata."""
import importlib.metadata
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONSUMER = Path(__file__).parent / "consumer"


def source_version():
    text = (ROOT / "CMakeLists.txt").read_text()
    return re.search(r"project\(libpartial\s+VERSION\s+(\d+\.\d+\.\d+)", text).group(1)


def library_version():
    from partial4py._binding import ffi, lib
    parts = ffi.new("int[3]")
    lib.lp_get_version(parts, parts + 1, parts + 2)
    return f"{parts[0]}.{parts[1]}.{parts[2]}"


def test_python_package_reports_the_c_library_version():
    import partial4py
    assert partial4py.__version__ == library_version() == source_version()


def test_distribution_metadata_has_the_same_version():
    import partial4py
    assert importlib.metadata.version("partial4py") == partial4py.__version__


def test_no_version_is_written_by_hand_elsewhere():
    # The header and the package read the one number; they do not restate it.
    header = (ROOT / "libpartial" / "include" / "libpartial.h").read_text()
    assert '#include "libpartial_version.h"' in header
    assert re.search(r"#define\s+LP_VERSION", header) is None
    assert re.search(r"^version\s*=", (ROOT / "pyproject.toml").read_text(), flags=re.M) is None
    assert "__version__ = \"" not in (ROOT / "python" / "partial4py" / "__init__.py").read_text()


def test_installed_header_defines_the_version(install_prefix):
    major, minor, patch = (int(x) for x in source_version().split("."))
    header = (install_prefix / "include" / "libpartial_version.h").read_text()
    assert re.search(rf"#define LP_VERSION_MAJOR {major}\b", header)
    assert re.search(rf"#define LP_VERSION_MINOR {minor}\b", header)
    assert re.search(rf"#define LP_VERSION_PATCH {patch}\b", header)


def cmake_consumer(prefix, build, wanted):
    mpicc = shutil.which(__import__("conftest").MPICC)
    return subprocess.run(["cmake", "-S", str(CONSUMER), "-B", str(build), f"-DCMAKE_PREFIX_PATH={prefix}",
                           f"-DMPI_C_COMPILER={mpicc}", f"-DLIBPARTIAL_WANTED={wanted}"],
                          capture_output=True, text=True, timeout=300)


def test_header_macros_and_runtime_version_agree_in_a_program(install_prefix, tmp_path):
    version = source_version()
    major, minor, patch = (int(x) for x in version.split("."))
    build = tmp_path / "build"
    configured = cmake_consumer(install_prefix, build, version)
    assert configured.returncode == 0, configured.stdout + configured.stderr
    built = subprocess.run(["cmake", "--build", str(build), "--target", "consumer_version"],
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stdout + built.stderr
    out = subprocess.run([str(build / "consumer_version")], capture_output=True, text=True, timeout=60).stdout
    code = major * 10000 + minor * 100 + patch
    assert out.splitlines() == [f"header {version} code {code}", f"library {version} code {code}"]
    assert version == library_version()


def test_cmake_package_accepts_only_the_same_minor_version(install_prefix, tmp_path):
    major, minor, patch = (int(x) for x in source_version().split("."))
    older_patch = cmake_consumer(install_prefix, tmp_path / "a", f"{major}.{minor}")
    assert older_patch.returncode == 0, older_patch.stdout + older_patch.stderr
    other_minor = cmake_consumer(install_prefix, tmp_path / "b", f"{major}.{minor + 1}")
    assert other_minor.returncode != 0
    if minor > 0:
        older_minor = cmake_consumer(install_prefix, tmp_path / "c", f"{major}.{minor - 1}")
        assert older_minor.returncode != 0
