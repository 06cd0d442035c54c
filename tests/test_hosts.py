"""The multi-host test bed itself (tests/hosts): it brings hosts up and
always tears them down, launches MPI across them, carries the traffic over
its links and nowhere else, and shapes them."""
import subprocess
import sys
import time

import pytest

import hosts
from on_hosts import require_bed, run_on_hosts


@pytest.fixture(autouse=True)
def _bed_available():
    require_bed()


def netns_names():
    return set(subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split())


def root_links():
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    return {line.split(":")[1].strip().split("@")[0] for line in out.splitlines()}


def test_up_and_down_leave_nothing_behind():
    namespaces_before, links_before = netns_names(), root_links()
    with hosts.Bed(3) as bed:
        assert {bed.namespace(h) for h in bed.hosts} | {bed.hub} <= netns_names()
        for host in bed.hosts:
            mapping = subprocess.run(bed.exec_prefix(host) + ["cat", "/etc/hosts"], capture_output=True,
                                     text=True, timeout=30).stdout
            assert mapping == bed.hosts_mapping()
            name = subprocess.run(bed.exec_prefix(host) + ["hostname"], capture_output=True, text=True,
                                  timeout=30).stdout.strip()
            assert name == host
    assert netns_names() == namespaces_before
    assert root_links() == links_before
    assert hosts.leftovers() == []


def test_a_failure_inside_still_tears_down():
    with pytest.raises(RuntimeError, match="inside"):
        with hosts.Bed(2) as bed:
            sleeper = subprocess.Popen(bed.exec_prefix("h1") + ["sleep", "300"])
            raise RuntimeError("inside")
    assert sleeper.wait(timeout=10) != 0  # killed by down(), not left running
    assert hosts.leftovers() == []


def test_sigterm_tears_down():
    """A runner that stops the job with SIGTERM leaves no namespace behind."""
    script = ("import sys, time; sys.path.insert(0, %r); import hosts\n"
              "with hosts.Bed(2) as bed:\n    print(bed.name, flush=True)\n    time.sleep(60)\n"
              % str(hosts.__path__[0].rsplit("/", 1)[0]))
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    name = proc.stdout.readline().strip()
    assert name and any(n.startswith(name) for n in netns_names())
    proc.terminate()
    proc.wait(timeout=30)
    assert not any(n.startswith(name) for n in netns_names())
    assert hosts.leftovers() == []


def test_hosts_reach_each_other_and_nothing_else():
    with hosts.Bed(2) as bed:
        routes = subprocess.run(bed.exec_prefix("h0") + ["ip", "route"], capture_output=True, text=True,
                                timeout=30).stdout
        assert "default" not in routes and str(hosts.SUBNET) in routes
        # A TCP connection from h1 to h0 by name, through the hosts mapping.
        server = subprocess.Popen(bed.exec_prefix("h0") + [sys.executable, "-c",
                                  "import socket; s = socket.create_server(('h0', 5999)); s.settimeout(20);"
                                  "c, _ = s.accept(); c.sendall(c.recv(5))"])
        try:
            client = ("import socket, time\nfor _ in range(100):\n    try:\n"
                      "        c = socket.create_connection(('h0', 5999), timeout=5); break\n"
                      "    except OSError: time.sleep(0.1)\nc.sendall(b'hello'); print(c.recv(5).decode())")
            echoed = subprocess.run(bed.exec_prefix("h1") + [sys.executable, "-c", client], capture_output=True,
                                    text=True, timeout=30)
            assert echoed.stdout.strip() == "hello", echoed.stderr
        finally:
            server.wait(timeout=30)


def test_the_agent_refuses_a_host_not_on_the_bed():
    with hosts.Bed(2) as bed:
        agent = hosts.launch.write_agent(bed)
        done = subprocess.run([agent, "example.org", "true"], capture_output=True, text=True, timeout=30)
        assert done.returncode == 255 and "no host 'example.org'" in done.stderr


def test_mpi_ranks_land_on_their_hosts():
    with hosts.Bed(2) as bed:
        placed = [r["host"] for r in run_on_hosts(bed, 2, "placement")]
        assert placed == ["h0", "h0", "h1", "h1"]


def test_a_rate_limit_holds():
    """1 MiB through a 20 Mbit/s link takes at least its line time (0.42 s),
    and not many times more."""
    with hosts.Bed(2) as bed:
        bed.shape("h1", rate="20mbit")
        server = subprocess.Popen(bed.exec_prefix("h0") + [sys.executable, "-c",
                                  "import socket; s = socket.create_server(('h0', 5998)); s.settimeout(30);"
                                  "c, _ = s.accept(); n = 0\nwhile n < 1 << 20: n += len(c.recv(1 << 16))\n"
                                  "c.sendall(b'k')"])
        client = ("import socket, time\nfor _ in range(100):\n    try:\n"
                  "        c = socket.create_connection(('h0', 5998), timeout=30); break\n"
                  "    except OSError: time.sleep(0.1)\nt = time.monotonic(); c.sendall(bytes(1 << 20));"
                  "c.recv(1); print(time.monotonic() - t)")
        try:
            done = subprocess.run(bed.exec_prefix("h1") + [sys.executable, "-c", client], capture_output=True,
                                  text=True, timeout=60)
        finally:
            server.wait(timeout=60)
        seconds = float(done.stdout)
        line_time = (1 << 20) * 8 / 20e6
        assert line_time * 0.8 <= seconds <= line_time * 5, seconds


def test_delay_and_loss_need_netem():
    available, reason = hosts.netem_available()
    if not available:
        with hosts.Bed(1) as bed, pytest.raises(hosts.BedUnsupported, match="netem"):
            bed.shape("h0", delay_ms=5)
        pytest.skip(reason)
    with hosts.Bed(2) as bed:
        bed.shape("h1", delay_ms=50)
        started = time.monotonic()
        subprocess.run(bed.exec_prefix("h1") + [sys.executable, "-c",
                       "import socket\ntry: socket.create_connection(('h0', 1), timeout=5)\n"
                       "except OSError: pass"], timeout=30)
        assert time.monotonic() - started >= 0.1  # SYN and RST each wait 50 ms
