"""Transports the partial-allreduce tests run over: shared memory (the
default), and TCP. Open MPI selects TCP with its BTL list; MPICH (ch4:ucx,
as Debian builds it) with MPIR_CVAR_NOLOCAL, which sends on-node traffic
through the network module, restricted to UCX's TCP transport."""
import functools
import subprocess

import pytest

from mpi_harness import mpiexec_command

OPEN_MPI_TCP = {"OMPI_MCA_btl": "self,tcp"}
MPICH_TCP = {"MPIR_CVAR_NOLOCAL": "1", "UCX_TLS": "tcp,self"}
TCP = "tcp"  # resolved per MPI by environment_of()


@functools.lru_cache(maxsize=None)
def launcher_version():
    try:
        out = subprocess.run(mpiexec_command() + ["--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return out.stdout + out.stderr


def environment_of(transport):
    """The environment for run_mpi; skips when this MPI cannot select it."""
    if transport is None:
        return None
    version = launcher_version()
    if "Open MPI" in version or "OpenRTE" in version:
        return OPEN_MPI_TCP
    if "HYDRA" in version:
        return MPICH_TCP
    pytest.skip("no known way to select TCP for this MPI")


def transports():
    """pytest params: None (shared memory) and TCP."""
    return [pytest.param(None, id="shm"), pytest.param(TCP, id="tcp")]
