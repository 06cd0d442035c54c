"""A real single-node Slurm cluster for the tests: munge, slurmctld and
slurmd with a generated slurm.conf, state and spool under a temporary
directory. Nothing here imitates Slurm; when it cannot be started, the
caller skips with the reason."""
import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

MUNGE_SOCKET = Path("/run/munge/munge.socket.2")
MUNGE_PID_FILE = MUNGE_SOCKET.parent / "p4p-munged.pid"


class SlurmUnavailable(RuntimeError):
    pass


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(command, env=None, timeout=60, check=True):
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout)
    if check and result.returncode != 0:
        raise SlurmUnavailable(f"{' '.join(command)} failed: {result.stderr.strip() or result.stdout.strip()}")
    return result


def _munge_works():
    if shutil.which("munge") is None:
        return False
    try:
        encoded = subprocess.run(["munge", "-n"], capture_output=True, timeout=10)
        decoded = subprocess.run(["unmunge"], input=encoded.stdout, capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return encoded.returncode == 0 and decoded.returncode == 0


class LocalSlurm:
    """Start with ``start()``, stop with ``stop()``; ``env`` holds SLURM_CONF
    for client commands (sbatch, srun, scontrol)."""

    def __init__(self, workdir, cpus=8):
        self.dir = Path(workdir)
        self.cpus = cpus
        self.node = socket.gethostname().split(".")[0]
        self.conf = self.dir / "slurm.conf"
        self.env = dict(os.environ, SLURM_CONF=str(self.conf))
        self._daemons = []
        self._started_munge = False

    # ---- lifecycle -----------------------------------------------------

    def start(self, timeout=60):
        for tool in ("slurmctld", "slurmd", "sbatch", "scontrol", "munged"):
            if shutil.which(tool) is None:
                raise SlurmUnavailable(f"{tool} is not installed (apt-get install slurm-wlm munge)")
        if os.geteuid() != 0:
            raise SlurmUnavailable("starting slurmd needs root")
        self._start_munge()
        self._write_config()
        self._daemons.append(subprocess.Popen(["slurmctld", "-D", "-i", "-f", str(self.conf)],
                                              stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT))
        self._daemons.append(subprocess.Popen(["slurmd", "-D", "-f", str(self.conf), "-N", self.node],
                                              stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT))
        self._wait_until_idle(timeout)
        return self

    def stop(self):
        for daemon in reversed(self._daemons):
            daemon.terminate()
        for daemon in self._daemons:
            try:
                daemon.wait(timeout=15)
            except subprocess.TimeoutExpired:
                daemon.kill()
                daemon.wait()
        self._daemons.clear()
        if self._started_munge:
            pid_file = MUNGE_PID_FILE
            if pid_file.exists():
                try:
                    os.kill(int(pid_file.read_text().strip()), 15)
                except (ProcessLookupError, ValueError):
                    pass

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _start_munge(self):
        if _munge_works():
            return
        key = Path("/etc/munge/munge.key")
        if not key.exists():
            raise SlurmUnavailable("no /etc/munge/munge.key")
        MUNGE_SOCKET.parent.mkdir(parents=True, exist_ok=True)
        shutil.chown(MUNGE_SOCKET.parent, "munge", "munge")
        # The pid file goes beside the socket: munged runs as munge, which
        # cannot enter the test's own directory (pytest makes it 0700).
        _run(["runuser", "-u", "munge", "--", "munged", "--pid-file", str(MUNGE_PID_FILE)])
        self._started_munge = True
        deadline = time.time() + 15
        while not _munge_works():
            if time.time() > deadline:
                raise SlurmUnavailable("munged started but does not answer")
            time.sleep(0.2)

    def _write_config(self):
        for sub in ("state", "spool", "log"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        memory_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20 // 2
        self.conf.write_text(f"""\
ClusterName=p4ptest
SlurmctldHost={self.node}
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation={self.dir}/state
SlurmdSpoolDir={self.dir}/spool
SlurmctldPidFile={self.dir}/slurmctld.pid
SlurmdPidFile={self.dir}/slurmd.pid
SlurmctldLogFile={self.dir}/log/slurmctld.log
SlurmdLogFile={self.dir}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
MpiDefault=none
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MinJobAge=3600
SchedulerType=sched/builtin
NodeName={self.node} CPUs={self.cpus} RealMemory={memory_mb} State=UNKNOWN
PartitionName=test Nodes={self.node} Default=YES MaxTime=INFINITE State=UP
""")

    def _wait_until_idle(self, timeout):
        deadline = time.time() + timeout
        state = ""
        while time.time() < deadline:
            for daemon in self._daemons:
                if daemon.poll() is not None:
                    raise SlurmUnavailable(f"{daemon.args[0]} exited with {daemon.returncode}: "
                                           f"{self._log_tail()}")
            result = _run(["sinfo", "-h", "-N", "-o", "%T"], env=self.env, check=False)
            state = result.stdout.strip()
            if state == "idle":
                return
            time.sleep(0.5)
        raise SlurmUnavailable(f"node not idle after {timeout}s (state {state!r}): {self._log_tail()}")

    def _log_tail(self):
        logs = [p for p in (self.dir / "log").glob("*.log")]
        return "\n".join(f"--- {p.name}\n" + "\n".join(p.read_text().splitlines()[-15:]) for p in logs)

    # ---- jobs ----------------------------------------------------------

    def sbatch(self, script, args=(), extra=(), env=None):
        """Submits a batch script; returns the job id."""
        result = _run(["sbatch", "--parsable", *extra, str(script), *args],
                      env=dict(self.env, **(env or {})), timeout=60)
        return int(result.stdout.strip().split(";")[0])

    def job_fields(self, job_id):
        out = _run(["scontrol", "show", "job", str(job_id)], env=self.env).stdout
        return dict(re.findall(r"(\w+)=(\S*)", out))

    def wait(self, job_id, timeout=300):
        """Waits for a job to end; returns its scontrol fields (JobState,
        ExitCode, StdOut, ...)."""
        deadline = time.time() + timeout
        while True:
            fields = self.job_fields(job_id)
            if fields.get("JobState") not in ("PENDING", "RUNNING", "CONFIGURING", "COMPLETING"):
                return fields
            if time.time() > deadline:
                _run(["scancel", str(job_id)], env=self.env, check=False)
                raise TimeoutError(f"job {job_id} still {fields.get('JobState')} after {timeout}s")
            time.sleep(0.5)
