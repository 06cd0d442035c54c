"""Transports the partial-allreduce tests run over: shared memory, and TCP
when the MPI is Open MPI (its BTL selection is an environment variable).
Under MPICH the default (shared memory within a node) is the one run."""
import functools
import subprocess

import pytest

from mpi_harness import mpiexec_command

TCP = {"OMPI_MCA_btl": "self,tcp"}


@functools.lru_cache(maxsize=None)
def is_open_mpi():
    try:
        out = subprocess.run(mpiexec_command() + ["--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "Open MPI" in out.stdout + out.stderr or "OpenRTE" in out.stdout + out.stderr


def transports():
    """pytest params: the environment of each transport."""
    return [pytest.param(None, id="shm"), pytest.param(TCP, id="tcp")]


def skip_unless_available(env):
    if env is not None and not is_open_mpi():
        pytest.skip("transport selection by environment needs Open MPI")
