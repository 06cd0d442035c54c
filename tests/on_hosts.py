"""What the tests need to run a worker across the test bed's hosts
(tests/hosts): a skip with its reason where no bed can be built (not root;
P4P_REQUIRE_HOSTS=1, as CI sets it, makes that a failure), and the launcher
for the MPI under test."""
import os

import pytest

import hosts
from mpi_harness import mpiexec_command, run_mpi
from partial_transports import launcher_version


def require_bed():
    try:
        hosts.check_available()
    except hosts.BedUnavailable as exc:
        if os.environ.get("P4P_REQUIRE_HOSTS") == "1":
            pytest.fail(f"P4P_REQUIRE_HOSTS=1 but {exc}")
        pytest.skip(str(exc))
    if "HYDRA" in launcher_version() and os.environ.get("P4P_MPICH_TCP") != "1":
        pytest.skip("MPICH across hosts runs over UCX/TCP, which is opt-in: P4P_MPICH_TCP=1 "
                    "(its MPI_Finalize can hang under UCX/TCP)")


def launcher(bed, ranks_per_host=1):
    return hosts.for_mpi(bed, mpiexec_command(), launcher_version(), ranks_per_host)


def run_on_hosts(bed, ranks_per_host, worker, args=None, **options):
    """run_mpi with ranks_per_host ranks on each of the bed's hosts."""
    return run_mpi(len(bed.hosts) * ranks_per_host, worker, args, launcher=launcher(bed, ranks_per_host),
                   **options)


def bed_fixture(count):
    """A module-scoped pytest fixture: a bed of ``count`` hosts."""
    @pytest.fixture(scope="module")
    def bed():
        require_bed()
        with hosts.Bed(count, name=f"{hosts.PREFIX}{os.getpid()}n{count}") as up:
            yield up
    return bed
