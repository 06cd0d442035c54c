"""`python -m partial4py.info` and the CUDA-awareness query behind it:
the MPI's own answer, and LP_CUDA_AWARE overriding it."""
import importlib.util
import re
import subprocess
import sys

import pytest
from mpi4py import MPI

from mpi_harness import launch_env, run_mpi

# The query each MPI offers (its source name), or "none" where this one has none.
SOURCES_OF_VENDOR = {"Open MPI": {"openmpi", "none"}, "MPICH": {"mpich", "none"}}


def run_info(**env):
    """The info command's lines as a dict, run as a singleton with env added."""
    out = subprocess.run([sys.executable, "-m", "partial4py.info"], capture_output=True, text=True, timeout=60,
                         check=True, env=launch_env(**env)).stdout
    return dict(re.match(r"(\S+)\s+(.*)$", line).groups() for line in out.splitlines())


@pytest.fixture(scope="module")
def info():
    return run_info()


def test_info_reports_matching_mpi(info):
    assert info["mpi_library_matches_mpi4py"] == "True"
    assert info["thread_level"] == "multiple"
    vendor, version = MPI.get_vendor()
    assert info["mpi_vendor"] == f"{vendor} {'.'.join(map(str, version))}"


def test_info_reports_cuda_awareness_and_its_source(info):
    assert info["mpi_cuda_aware"] in ("True", "False")
    sources = SOURCES_OF_VENDOR.get(MPI.get_vendor()[0], {"none"})
    assert info["mpi_cuda_source"] in sources
    if info["mpi_cuda_source"] == "none":
        assert info["mpi_cuda_aware"] == "False"


def test_info_reports_cupy_and_gpu_without_failing(info):
    if importlib.util.find_spec("cupy") is None:
        assert info["cupy"].startswith("not installed (ModuleNotFoundError")
        assert info["gpu"].startswith("no device (")
    else:
        assert re.fullmatch(r"\d+\S*", info["cupy"]) or info["cupy"].startswith("not installed (")
        assert re.fullmatch(r"\d+ device\(s\): .+", info["gpu"]) or info["gpu"].startswith("no device (")


def test_info_reports_build_options(info):
    assert info["libpartial_build_type"]
    assert info["libpartial_sanitize"] in ("on", "off")
    assert info["libpartial_benchmarks"] in ("on", "off")
    assert info["libpartial_benchmarks_cuda"] in ("on", "off")
    if info["libpartial_benchmarks"] == "off":
        assert info["libpartial_benchmarks_cuda"] == "off"


@pytest.mark.parametrize("value, aware", [("1", "True"), ("0", "False")])
def test_info_shows_the_override(value, aware):
    shown = run_info(LP_CUDA_AWARE=value)
    assert (shown["mpi_cuda_aware"], shown["mpi_cuda_source"]) == (aware, "environment")


def test_info_reports_a_bad_override_instead_of_failing():
    shown = run_info(LP_CUDA_AWARE="banana")
    assert shown["mpi_cuda_aware"].startswith("error (InvalidArgumentError: LP_CUDA_AWARE=\"banana\"")
    assert shown["mpi_library_matches_mpi4py"] == "True"


def test_override_is_read_on_every_call_on_every_rank(info):
    results = run_mpi(2, "cuda_support", {"values": ["1", "0", "banana", "yes", "1"]})
    unset = {"value": None, "cuda_aware": info["mpi_cuda_aware"] == "True", "source": info["mpi_cuda_source"]}
    for result in results:
        unset_answer, one, zero, banana, yes, one_again = result["answers"]
        assert unset_answer == unset
        assert one == one_again == {"value": "1", "cuda_aware": True, "source": "environment"}
        assert zero == {"value": "0", "cuda_aware": False, "source": "environment"}
        for bad in (banana, yes):
            assert bad["raised"] == "InvalidArgumentError", bad
            assert "ValueError" in bad["mro"]
            assert f'LP_CUDA_AWARE="{bad["value"]}"' in bad["message"]
        assert result["cuda_aware_unset"] == unset["cuda_aware"]


@pytest.mark.parametrize("value, shown", [(None, "one_sided"), ("point_to_point", "point_to_point"),
                                          ("one_sided", "one_sided"), ("auto", "one_sided")])
def test_info_names_the_partial_trigger(value, shown):
    # A singleton shares its own memory, so auto counts with one-sided atomics.
    # An empty value is no value, so the unset case holds even where CI sets one.
    assert run_info(LP_PARTIAL_TRIGGER=value or "")["partial_trigger"] == shown


def test_info_reports_a_bad_trigger_instead_of_failing():
    shown = run_info(LP_PARTIAL_TRIGGER="carrier_pigeon")["partial_trigger"]
    assert shown.startswith("error (InvalidArgumentError: LP_PARTIAL_TRIGGER=carrier_pigeon")
