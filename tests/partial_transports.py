"""Transports the partial-allreduce tests run over: shared memory (the
default), and TCP. Open MPI selects TCP with its BTL list. MPICH (ch4:ucx,
as Debian builds it) selects it with MPIR_CVAR_NOLOCAL, which sends on-node
traffic through the network module, restricted to UCX's TCP transport; that
is opt-in (P4P_MPICH_TCP=1) because MPICH 4.0.2 + UCX over TCP hangs in
MPI_Finalize now and then on a loaded node even for a program that only
calls MPI_Allreduce and MPI_Barrier (see docs/partial.md)."""
import functools
import os
import subprocess

import pytest

from mpi_harness import mpiexec_command

# Pinned to the loopback device: a single-host test never opens connections
# on the machine's other addresses.
OPEN_MPI_TCP = {"OMPI_MCA_btl": "self,tcp", "OMPI_MCA_btl_tcp_if_include": "lo",
                "OMPI_MCA_oob_tcp_if_include": "lo"}
MPICH_TCP = {"MPIR_CVAR_NOLOCAL": "1", "UCX_TLS": "tcp,self", "UCX_NET_DEVICES": "lo"}
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
        if os.environ.get("P4P_MPICH_TCP") == "1":
            return MPICH_TCP
        pytest.skip("MPICH over TCP is opt-in: P4P_MPICH_TCP=1 (its MPI_Finalize can hang under UCX/TCP)")
    pytest.skip("no known way to select TCP for this MPI")


def transports():
    """pytest params: None (shared memory) and TCP."""
    return [pytest.param(None, id="shm"), pytest.param(TCP, id="tcp")]
