"""``python -m partial4py.info``: what this installation was built with,
for bug reports."""
import sys

from mpi4py import MPI

from ._binding import ffi, lib
from ._comm import mpi_library_versions

_THREAD_LEVELS = {MPI.THREAD_SINGLE: "single", MPI.THREAD_FUNNELED: "funneled",
                  MPI.THREAD_SERIALIZED: "serialized", MPI.THREAD_MULTIPLE: "multiple"}


def collect():
    """A dict of facts about the library, MPI and the build."""
    v = ffi.new("int[3]")
    lib.lp_get_version(v, v + 1, v + 2)
    ours, theirs = mpi_library_versions()
    return {
        "libpartial": f"{v[0]}.{v[1]}.{v[2]}",
        "python": sys.version.split()[0],
        "mpi4py": __import__("mpi4py").__version__,
        "mpi_standard": "{}.{}".format(*MPI.Get_version()),
        "mpi_library": ours.splitlines()[0],
        "mpi_library_matches_mpi4py": ours == theirs,
        "thread_level": _THREAD_LEVELS.get(MPI.Query_thread(), "unknown"),
        "comm_world_size": MPI.COMM_WORLD.Get_size(),
    }


def main():
    for key, value in collect().items():
        print(f"{key:28s} {value}")


if __name__ == "__main__":
    main()
