"""Hosts emulated by Linux network namespaces on this machine.

Each host is a namespace with one interface, ``eth0``, whose peer sits in a
hub namespace on a bridge: a star network, one link per host, which is what
a switch gives a cluster. The addresses come from one private /24 that
exists only on those links, and each host has a name (h0, h1, ...) in its
namespace's own ``/etc/hosts`` (``ip netns exec`` mounts
``/etc/netns/<namespace>/hosts`` over it), so the machine's own files are
never edited. Nothing on the bed routes anywhere else: no default route, no
link to the machine's namespace.

Shaping is per link and per direction: a token bucket (``tbf``) on the
host's ``eth0`` limits what the host sends, and one on its hub-side peer
what it receives.
"""
import ipaddress
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading

SUBNET = ipaddress.ip_network("10.213.77.0/24")
# Every bed's namespaces start with it, so that a killed run's leftovers are found.
PREFIX = "p4pbed"
NETNS_ETC = "/etc/netns"
# Kernel timer ticks: a token bucket must hold at least one tick's worth of
# bytes, or its real rate falls far below the one asked for.
TICKS_PER_SECOND = 100
MIN_BURST_BYTES = 64 * 1024


class BedUnavailable(RuntimeError):
    """This machine cannot build the bed (no root, no namespaces): a reason to skip."""


class BedUnsupported(RuntimeError):
    """The bed runs, but this kernel lacks a feature asked for (netem, say)."""


def _run(*command, check=True):
    done = subprocess.run(command, capture_output=True, text=True, timeout=30)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)}: {done.stderr.strip() or done.stdout.strip()}")
    return done


def rate_bits(rate):
    """'1gbit', '10mbit', '500kbit' or a number of bits per second."""
    if isinstance(rate, (int, float)):
        return int(rate)
    text = rate.strip().lower()
    for suffix, scale in (("gbit", 10**9), ("mbit", 10**6), ("kbit", 10**3), ("bit", 1)):
        if text.endswith(suffix):
            return int(float(text[: -len(suffix)]) * scale)
    raise ValueError(f"rate {rate!r}: give bits per second, or a number with gbit, mbit or kbit")


class Bed:
    """``with Bed(4) as bed:`` brings up h0..h3 and always tears them down."""

    def __init__(self, hosts, name=None):
        if hosts < 1 or hosts > 200:
            raise ValueError(f"hosts must be in 1..200, not {hosts}")
        self.hosts = [f"h{i}" for i in range(hosts)]
        self.name = name or f"{PREFIX}{os.getpid()}"
        self.hub = f"{self.name}-hub"
        self.state_dir = None
        self._up = False
        self._previous_sigterm = None

    # --- lifecycle -------------------------------------------------------
    def __enter__(self):
        self.up()
        return self

    def __exit__(self, *exc_info):
        self.down()

    def up(self):
        check_available()
        self.state_dir = tempfile.mkdtemp(prefix=f"{self.name}-")
        # A CI runner stops a job with SIGTERM: make it unwind through down().
        if _in_main_thread() and signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
            self._previous_sigterm = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
        self._up = True
        try:
            _run("ip", "netns", "add", self.hub)
            _run("ip", "-n", self.hub, "link", "set", "lo", "up")
            _run("ip", "-n", self.hub, "link", "add", "br0", "type", "bridge")
            _run("ip", "-n", self.hub, "link", "set", "br0", "up")
            for index, host in enumerate(self.hosts):
                self._add_host(index, host)
        except BaseException:
            self.down()
            raise

    def _add_host(self, index, host):
        namespace = self.namespace(host)
        _run("ip", "netns", "add", namespace)
        _run("ip", "link", "add", self.hub_port(host), "netns", self.hub, "type", "veth",
             "peer", "name", "eth0", "netns", namespace)
        _run("ip", "-n", self.hub, "link", "set", self.hub_port(host), "master", "br0", "up")
        _run("ip", "-n", namespace, "addr", "add", f"{self.address(host)}/{SUBNET.prefixlen}", "dev", "eth0")
        _run("ip", "-n", namespace, "link", "set", "eth0", "up")
        _run("ip", "-n", namespace, "link", "set", "lo", "up")
        etc = os.path.join(NETNS_ETC, namespace)
        os.makedirs(etc, exist_ok=True)
        with open(os.path.join(etc, "hosts"), "w") as hosts_file:
            hosts_file.write(self.hosts_mapping())

    def down(self):
        """Kills what runs on the bed, then removes its namespaces, links and
        hosts files; safe to call twice, and after a failed up()."""
        if not self._up:
            return
        namespaces = [self.namespace(h) for h in self.hosts] + [self.hub]
        for namespace in namespaces:
            pids = _run("ip", "netns", "pids", namespace, check=False).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
        for namespace in namespaces:
            _run("ip", "netns", "del", namespace, check=False)  # its veth ends go with it
            shutil.rmtree(os.path.join(NETNS_ETC, namespace), ignore_errors=True)
        if self.state_dir:
            shutil.rmtree(self.state_dir, ignore_errors=True)
        if self._previous_sigterm is not None and _in_main_thread():
            signal.signal(signal.SIGTERM, self._previous_sigterm)
            self._previous_sigterm = None
        self._up = False

    # --- names -----------------------------------------------------------
    def namespace(self, host):
        if host not in self.hosts:
            raise KeyError(f"{host!r} is not a host of this bed ({', '.join(self.hosts)})")
        return f"{self.name}-{host}"

    def hub_port(self, host):
        return f"port{self.hosts.index(host)}"

    def address(self, host):
        return str(SUBNET.network_address + 1 + self.hosts.index(host))

    def hosts_mapping(self):
        lines = ["127.0.0.1 localhost"] + [f"{self.address(h)} {h}" for h in self.hosts]
        return "\n".join(lines) + "\n"

    def exec_prefix(self, host):
        """The command prefix that runs a program on ``host``, under its own host name."""
        return ["ip", "netns", "exec", self.namespace(host), "unshare", "--uts", "sh", "-c",
                'hostname "$0" && exec "$@"', host]

    # --- shaping and faults ----------------------------------------------
    def shape(self, host, rate=None, delay_ms=None, loss_percent=None):
        """Limits ``host``'s link in both directions; with no limit given, removes
        them. ``rate`` uses tbf; delay and loss need netem, which raises
        BedUnsupported where the kernel lacks it."""
        for namespace, device in self._link_ends(host):
            _run("ip", "netns", "exec", namespace, "tc", "qdisc", "del", "dev", device, "root", check=False)
            if delay_ms is not None or loss_percent is not None:
                command = ["ip", "netns", "exec", namespace, "tc", "qdisc", "add", "dev", device, "root",
                           "netem"]
                if delay_ms is not None:
                    command += ["delay", f"{delay_ms}ms"]
                if loss_percent is not None:
                    command += ["loss", f"{loss_percent}%"]
                if rate is not None:
                    command += ["rate", f"{rate_bits(rate)}bit"]
                done = _run(*command, check=False)
                if done.returncode != 0:
                    raise BedUnsupported(f"netem is not available on this kernel: {done.stderr.strip()}")
            elif rate is not None:
                bits = rate_bits(rate)
                burst = max(MIN_BURST_BYTES, bits // 8 // TICKS_PER_SECOND)
                _run("ip", "netns", "exec", namespace, "tc", "qdisc", "add", "dev", device, "root", "tbf",
                     "rate", f"{bits}bit", "burst", str(burst), "latency", "100ms")

    def cut(self, host):
        """Takes ``host``'s link down: nothing crosses it until restore()."""
        _run("ip", "-n", self.hub, "link", "set", self.hub_port(host), "down")

    def restore(self, host):
        _run("ip", "-n", self.hub, "link", "set", self.hub_port(host), "up")

    def _link_ends(self, host):
        return [(self.namespace(host), "eth0"), (self.hub, self.hub_port(host))]

    def traffic(self, host):
        """Bytes ``host`` has sent and received on its link, from the kernel's counters."""
        out = _run("ip", "-j", "-s", "-n", self.namespace(host), "link", "show", "dev", "eth0").stdout
        stats = json.loads(out)[0]["stats64"]
        return {"sent": stats["tx"]["bytes"], "received": stats["rx"]["bytes"]}


def netem_available():
    """(True, "") or (False, why): whether this kernel has the netem qdisc."""
    with Bed(1, name=f"{PREFIX}{os.getpid()}probe") as bed:
        try:
            bed.shape("h0", delay_ms=1)
        except BedUnsupported as exc:
            return False, str(exc)
    return True, ""


def leftovers():
    """Every bed namespace and hosts file on this machine: after the beds are down, a killed run's leftovers."""
    names = _run("ip", "netns", "list", check=False).stdout.split("\n")
    found = [line.split()[0] for line in names if line.startswith(PREFIX)]
    if os.path.isdir(NETNS_ETC):
        found += [os.path.join(NETNS_ETC, n) for n in os.listdir(NETNS_ETC) if n.startswith(PREFIX)]
    return found


_availability = None


def check_available():
    """Raises BedUnavailable with the reason when this machine cannot build a bed."""
    global _availability
    if _availability is None:
        _availability = _probe()
    if _availability:
        raise BedUnavailable(_availability)


def _probe():
    if os.geteuid() != 0:
        return "the multi-host test bed needs root (network namespaces)"
    for tool in ("ip", "tc", "unshare"):
        if shutil.which(tool) is None:
            return f"the multi-host test bed needs {tool} (iproute2, util-linux)"
    probe = f"{PREFIX}{os.getpid()}check"
    done = _run("ip", "netns", "add", probe, check=False)
    if done.returncode != 0:
        return f"cannot create a network namespace: {done.stderr.strip()}"
    _run("ip", "netns", "del", probe, check=False)
    return ""


def _in_main_thread():
    return threading.current_thread() is threading.main_thread()


def _raise_keyboard_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")
