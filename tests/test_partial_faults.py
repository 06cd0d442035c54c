"""Partial allreduce, a peer lost mid-run: killed with SIGKILL (the job kept
alive by the launcher's recovery option), finalized without closing, or
exited without closing. At P=4 in every kind of mode, every survivor's call
raises partial4py.TimeoutError within timeout + 5 s, so does its close(), no
progress thread is left behind, and the whole job ends within 60 s."""
import pytest

from mpi_harness import mpiexec_command, run_mpi
from partial_transports import launcher_version

NPROCS = 4
TIMEOUT = 2.0
MARGIN = 5.0
JOB_LIMIT = 60


def recovering_launcher():
    """mpirun that keeps the job going when a rank dies."""
    version = launcher_version()
    if "Open MPI" in version or "OpenRTE" in version:
        return mpiexec_command() + ["--enable-recovery"]
    if "HYDRA" in version:
        # Measured with MPICH 4.0.2: the proxy loses the killed rank's PMI
        # connection and ends the whole job within 2 s, -disable-auto-cleanup
        # or not, so there are no survivors to check.
        pytest.skip("MPICH's hydra ends the whole job when a rank is killed, even with -disable-auto-cleanup")
    pytest.skip("no known way to keep this MPI's job alive after a rank is killed")


@pytest.mark.parametrize("mode", ["solo", "majority", "sync", 3])
@pytest.mark.parametrize("fault", ["kill", "finalize", "exit"])
def test_survivors_time_out_and_close(fault, mode):
    victim = 1 if fault == "kill" else NPROCS - 1
    survivors = [r for r in range(NPROCS) if r != victim]
    launcher = recovering_launcher() if fault == "kill" else None
    results = run_mpi(NPROCS, "partial_faults", {"fault": fault, "mode": mode, "victim": victim,
                                                  "timeout": TIMEOUT},
                      timeout=JOB_LIMIT, launcher=launcher, ranks=survivors, check_exit=fault != "kill")
    for result in results:
        call, close = result["call"], result["close"]
        assert call is not None, f"rank {result['rank']}: no call failed in {result['completed']} calls"
        assert "TimeoutError" in call["mro"] and "Error" in call["mro"], result
        assert call["elapsed"] <= TIMEOUT + MARGIN, result
        assert "TimeoutError" in close["mro"], result
        assert close["elapsed"] <= TIMEOUT + MARGIN, result
        assert result["threads_after"] <= result["threads_before"], result
        assert result["idle_cpu"] < 0.2, result
