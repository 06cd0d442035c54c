"""Runs one MPI program across a test bed, then tears the bed down:

    sudo python3 tests/hosts --hosts 4 --ranks-per-host 2 --rate 1gbit -- -n 8 ./my_program args

Everything after ``--`` goes to the launcher (mpirun or mpiexec, from
--mpiexec or $MPIEXEC) after the bed's own options. The exit code is the
program's; the bytes each host sent and received are printed to stderr.
"""
import argparse
import os
import shlex
import subprocess
import sys

if not __package__:  # run as `python3 tests/hosts`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    __package__ = "hosts"

from .bed import Bed, BedUnavailable  # noqa: E402
from .launch import for_mpi  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python3 tests/hosts", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=2, help="How many hosts (h0, h1, ...). Default: 2.")
    parser.add_argument("--ranks-per-host", type=int, default=1, help="Slots on each host. Default: 1.")
    parser.add_argument("--rate", help="A rate limit on every link, in each direction: 1gbit, 100mbit, ...")
    parser.add_argument("--mpiexec", default=os.environ.get("MPIEXEC", "mpirun"),
                        help="The MPI launcher. Default: $MPIEXEC, else mpirun.")
    parser.add_argument("--timeout", type=float, default=600, help="Seconds before the run is killed. Default: 600.")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the launcher's arguments and the program.")
    options = parser.parse_args(argv)
    command = options.command[1:] if options.command[:1] == ["--"] else options.command
    if not command:
        parser.error("give the program after --, e.g. -- -n 2 ./a.out")
    mpiexec = shlex.split(options.mpiexec)
    version = subprocess.run(mpiexec + ["--version"], capture_output=True, text=True, timeout=60)
    try:
        with Bed(options.hosts) as bed:
            if options.rate:
                for host in bed.hosts:
                    bed.shape(host, rate=options.rate)
            launch = for_mpi(bed, mpiexec, version.stdout + version.stderr, options.ranks_per_host)
            try:
                code = subprocess.run(launch + command, timeout=options.timeout).returncode
            except subprocess.TimeoutExpired:
                print(f"timed out after {options.timeout} s", file=sys.stderr)
                code = 124
            for host in bed.hosts:
                print(f"{host}: {bed.traffic(host)}", file=sys.stderr)
    except BedUnavailable as exc:
        print(f"no test bed: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
