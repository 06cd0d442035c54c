"""The batch scripts in slurm/, run for real on a single-node Slurm that
this module brings up (munge, slurmctld, slurmd). Skipped, with the reason,
only where Slurm cannot be installed or started."""
import os
import re
import shutil
import sys
from pathlib import Path

import pytest

from slurm_cluster import LocalSlurm, SlurmUnavailable

ROOT = Path(__file__).resolve().parent.parent
SLURM = ROOT / "slurm"
OPEN_MPI_AS_ROOT = {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
                    "OMPI_MCA_rmaps_base_oversubscribe": "1",
                    "OMPI_MCA_oob_tcp_if_include": "lo", "OMPI_MCA_btl_tcp_if_include": "lo"}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    slurm = LocalSlurm(tmp_path_factory.mktemp("slurm"))
    try:
        slurm.start()
    except SlurmUnavailable as exc:
        slurm.stop()
        # CI installs Slurm: there, a cluster that does not start is a failure, not a skip.
        if os.environ.get("P4P_REQUIRE_SLURM") == "1":
            pytest.fail(f"P4P_REQUIRE_SLURM=1, but Slurm did not start: {exc}")
        pytest.skip(f"no Slurm: {exc}")
    yield slurm
    slurm.stop()


def srun_mpi_plugin():
    # Open MPI is built with PMIx; Debian's MPICH has its own PMI, which
    # speaks the protocol of Slurm's pmi2 plugin.
    from mpi4py import MPI
    return "pmi2" if MPI.Get_library_version().startswith("MPICH") else "pmix"


def job_env(**extra):
    return {"P4P_PYTHON": sys.executable, "P4P_SRUN_MPI": srun_mpi_plugin(), **OPEN_MPI_AS_ROOT, **extra}


def submit_and_wait(cluster, script, tmp_path, ntasks=None, env=None, timeout=240):
    extra = ["--chdir", str(ROOT), "--output", str(tmp_path / "job-%j.out")]
    if ntasks:
        extra += ["--ntasks-per-node", str(ntasks)]
    job = cluster.sbatch(script, extra=extra, env=job_env(**(env or {})))
    fields = cluster.wait(job, timeout=timeout)
    output = (tmp_path / f"job-{job}.out").read_text()
    return fields, output


def assert_completed(fields, output):
    assert fields["JobState"] == "COMPLETED" and fields["ExitCode"] == "0:0", \
        f"job ended {fields['JobState']} {fields['ExitCode']}\n{output}"


def test_multinode_template_with_srun(cluster, tmp_path):
    fields, output = submit_and_wait(cluster, SLURM / "multinode.sbatch", tmp_path, ntasks=3)
    assert_completed(fields, output)
    assert f"launch=srun {srun_mpi_plugin()}" in output
    match = re.search(r"allreduce of 1,000,000 int64 over (\d+) ranks: exact", output)
    assert match and match.group(1) == "3", output


def test_multinode_template_with_mpirun(cluster, tmp_path):
    launcher = shutil.which(os.environ.get("MPIEXEC", "mpiexec"))
    fields, output = submit_and_wait(cluster, SLURM / "multinode.sbatch", tmp_path, ntasks=2,
                                     env={"P4P_LAUNCH": "mpirun", "P4P_MPIRUN": launcher})
    assert_completed(fields, output)
    assert "over 2 ranks: exact" in output


def data_rows(output):
    """OSU data rows: lines that are not headers and start with a size."""
    return [line.split() for line in output.splitlines() if line and line[0].isdigit()]


def test_benchmark_suite(cluster, tmp_path):
    build = ROOT / "build" / f"c-{os.environ.get('MPI', 'openmpi')}" / "bench"
    if not (build / "osu_allreduce_baseline").exists():
        pytest.skip(f"C benchmarks not built in {build} (make ctest builds them)")
    fields, output = submit_and_wait(cluster, SLURM / "bench.sbatch", tmp_path, ntasks=2,
                                     env={"P4P_BENCH_DIR": str(build), "P4P_MAX_BYTES": "4096",
                                          "P4P_ITERATIONS": "20"})
    assert_completed(fields, output)
    rows = data_rows(output)
    assert len(rows) >= 2 * 11, output  # 4..4096 bytes: 11 sizes per benchmark
    assert all(row[-1] == "Pass" for row in rows), output
    for name in ("osu_allreduce_baseline", "python -m partial4py.bench allreduce"):
        assert f"## {name}" in output
    job = fields["JobId"]
    assert (ROOT / f"bench-results-{job}" / "allreduce.json").exists()
    shutil.rmtree(ROOT / f"bench-results-{job}")


def test_eager_sgd_demo(cluster, tmp_path):
    fields, output = submit_and_wait(cluster, SLURM / "eager_sgd.sbatch", tmp_path, ntasks=2, timeout=300,
                                     env={"P4P_DEMO_ARGS": "--epochs 2 --compute-ms 1 --extra-ms 4"})
    assert_completed(fields, output)
    table = {line.split()[0]: line.split()[1:] for line in output.splitlines()
             if line.split() and line.split()[0] in ("sync", "solo", "majority")}
    assert set(table) == {"sync", "solo", "majority"}, output
    for mode, columns in table.items():
        accuracy = float(columns[3].rstrip("%"))
        assert 50 < accuracy <= 100, (mode, output)  # two epochs already learn the digits
    assert "replicas differ" not in output
    figure = ROOT / f"eager-sgd-{fields['JobId']}.png"
    assert figure.stat().st_size > 1000
    figure.unlink()


def test_a_broken_script_fails_its_test(cluster, tmp_path):
    # The same script with a wrong path in it must end FAILED, so that the
    # checks above would catch a script that is broken.
    broken = tmp_path / "broken.sbatch"
    broken.write_text((SLURM / "multinode.sbatch").read_text()
                      .replace("examples/allreduce_demo.py", "examples/no_such_demo.py"))
    fields, output = submit_and_wait(cluster, broken, tmp_path, ntasks=2)
    assert fields["JobState"] == "FAILED", output
    with pytest.raises(AssertionError):
        assert_completed(fields, output)
