"""The shared library's ABI: it exports exactly the functions libpartial.h
declares LP_API (built with hidden visibility, internals stay internal), and
its SONAME carries the major version, and the minor while the major is 0."""
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import installed_libdir
from test_api_reference import header_functions

ROOT = Path(__file__).resolve().parent.parent
HEADER = ROOT / "libpartial" / "include" / "libpartial.h"


def exported_by_header():
    text = re.sub(r"/\*.*?\*/", " ", HEADER.read_text(), flags=re.S)
    return set(re.findall(r"^LP_API\s[^;(]*?\b(lp_\w+)\s*\(", text, flags=re.M))


def version():
    text = (ROOT / "CMakeLists.txt").read_text()
    return [int(x) for x in re.search(r"project\(libpartial\s+VERSION\s+(\d+)\.(\d+)\.(\d+)", text).groups()]


def expected_soname():
    major, minor, _ = version()
    return f"libpartial.so.{major}.{minor}" if major == 0 else f"libpartial.so.{major}"


def wheel_library():
    import partial4py
    found = sorted(Path(partial4py.__file__).parent.glob("libpartial.so*"))
    assert found, "no libpartial.so in the installed package"
    return found


def dynamic_symbols(library):
    if shutil.which("nm") is None:
        pytest.skip("needs nm")
    out = subprocess.run(["nm", "-D", "--defined-only", str(library)], capture_output=True, text=True,
                         check=True).stdout
    return {line.split()[-1] for line in out.splitlines() if line.strip()}


def soname(library):
    if shutil.which("objdump") is None:
        pytest.skip("needs objdump")
    out = subprocess.run(["objdump", "-p", str(library)], capture_output=True, text=True, check=True).stdout
    return re.search(r"^\s*SONAME\s+(\S+)", out, flags=re.M).group(1)


def test_every_header_function_is_marked_for_export():
    declared = set(header_functions(HEADER.read_text()))
    assert len(declared) > 40
    assert exported_by_header() == declared


def test_installed_package_library_exports_only_the_public_functions():
    for library in wheel_library():
        assert dynamic_symbols(library) == exported_by_header(), library


def test_installed_c_library_exports_only_the_public_functions(install_prefix):
    library = installed_libdir(install_prefix) / "libpartial.so"
    assert dynamic_symbols(library) == exported_by_header()


def test_installed_c_library_soname_and_links(install_prefix):
    libdir = installed_libdir(install_prefix)
    name = expected_soname()
    real = libdir / f"libpartial.so.{'.'.join(map(str, version()))}"
    assert real.is_file() and not real.is_symlink()
    assert (libdir / name).resolve() == real.resolve()
    assert (libdir / "libpartial.so").resolve() == real.resolve()
    assert soname(real) == name


def test_installed_package_library_is_named_by_its_soname():
    libraries = wheel_library()
    assert [p.name for p in libraries] == [expected_soname()]
    assert soname(libraries[0]) == expected_soname()
