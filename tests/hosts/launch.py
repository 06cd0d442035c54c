"""MPI launchers that start ranks on the bed's hosts.

The launcher process itself runs on h0. Open MPI reaches the other hosts
through its rsh launch agent, and MPICH's Hydra through its ssh launcher:
both call ``agent HOST COMMAND...``, and the agent written here runs the
command inside that host's namespace instead of over ssh. It refuses any
host name that is not on the bed, so a launch can never leave it.

Both MPIs are pinned to the bed's subnet (their launch and data traffic
alike), and Open MPI's ranks yield when idle: ranks that busy-poll starve
the kernel's veth processing on a machine with few cores, which turns a
0.5 ms transfer into 8-16 ms.
"""
import os
import shlex
import stat

from .bed import SUBNET

AGENT = """#!/bin/sh
# Launch agent of the test bed {name}: runs "$@" (after the host) in the host's namespace.
while [ "${{1#-}}" != "$1" ]; do shift; done   # ssh options Hydra passes (-x)
host=$1; shift
case " {hosts} " in
  *" $host "*) ;;
  *) echo "test bed {name}: no host '$host'" >&2; exit 255 ;;
esac
exec ip netns exec {name}-"$host" unshare --uts sh -c 'hostname "$0" && exec sh -c "$1"' "$host" "$*"
"""


def write_agent(bed):
    path = os.path.join(bed.state_dir, "agent")
    with open(path, "w") as agent:
        agent.write(AGENT.format(name=bed.name, hosts=" ".join(bed.hosts)))
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)
    return path


def _on_first_host(bed, hosts, environment, mpiexec):
    """The launcher, run on the first host with the environment that pins it to the bed."""
    return bed.exec_prefix(hosts[0]) + ["env"] + environment + list(mpiexec)


def open_mpi(bed, mpiexec, ranks_per_host=1, hosts=None):
    """The command prefix (before ``-n N program``) for Open MPI's mpirun:
    ranks fill h0 first, ``ranks_per_host`` each, over TCP between hosts and
    shared memory within one."""
    hosts = hosts or bed.hosts
    hostfile = os.path.join(bed.state_dir, "hostfile")
    with open(hostfile, "w") as out:
        out.writelines(f"{h} slots={ranks_per_host}\n" for h in hosts)
    pinned = [f"OMPI_MCA_btl_tcp_if_include={SUBNET}", f"OMPI_MCA_oob_tcp_if_include={SUBNET}",
              "OMPI_MCA_btl=self,vader,tcp", "OMPI_MCA_mpi_yield_when_idle=1",
              "OMPI_MCA_rmaps_base_oversubscribe=0"]
    return _on_first_host(bed, hosts, pinned, mpiexec) + ["--hostfile", hostfile, "--mca", "plm_rsh_agent",
                                                          write_agent(bed)]


def mpich(bed, mpiexec, ranks_per_host=1, hosts=None):
    """The same for MPICH's Hydra, with UCX's TCP transport on eth0."""
    hosts = hosts or bed.hosts
    pinned = ["UCX_NET_DEVICES=eth0", "UCX_TLS=tcp,self"]
    return _on_first_host(bed, hosts, pinned, mpiexec) + [
        "-launcher", "ssh", "-launcher-exec", write_agent(bed), "-iface", "eth0",
        "-hosts", ",".join(f"{h}:{ranks_per_host}" for h in hosts)]


def for_mpi(bed, mpiexec, version_text, ranks_per_host=1, hosts=None):
    """The launcher for whichever MPI ``mpiexec --version`` says this is."""
    if "Open MPI" in version_text or "OpenRTE" in version_text:
        return open_mpi(bed, mpiexec, ranks_per_host, hosts)
    if "HYDRA" in version_text:
        return mpich(bed, mpiexec, ranks_per_host, hosts)
    raise NotImplementedError(f"no test-bed launcher for this MPI: {shlex.join(mpiexec)}")
