"""``python -m partial4py.info``: what this installation was built with,
and what it finds at run time (MPI, CUDA), for bug reports. It never
fails for want of a GPU: what is missing is printed with the reason."""
import sys

from mpi4py import MPI

from ._binding import ffi, lib
from ._comm import mpi_library_versions
from .errors import Error
from .mpi_cuda import cuda_support

_THREAD_LEVELS = {MPI.THREAD_SINGLE: "single", MPI.THREAD_FUNNELED: "funneled",
                  MPI.THREAD_SERIALIZED: "serialized", MPI.THREAD_MULTIPLE: "multiple"}


def _reason(exc):
    return f"{type(exc).__name__}: {exc}"


def _mpi_cuda():
    try:
        support = cuda_support()
    except Error as exc:  # a bad LP_CUDA_AWARE: report it, do not fail
        return {"mpi_cuda_aware": f"error ({_reason(exc)})", "mpi_cuda_source": "unknown"}
    return {"mpi_cuda_aware": support["cuda_aware"], "mpi_cuda_source": support["source"]}


def _cupy_and_gpu():
    try:
        import cupy
    except Exception as exc:  # absent, or present without a usable CUDA
        return {"cupy": f"not installed ({_reason(exc)})", "gpu": "no device (not looked for: CuPy is not installed)"}
    try:
        count = cupy.cuda.runtime.getDeviceCount()
        names = [cupy.cuda.runtime.getDeviceProperties(i)["name"].decode() for i in range(count)]
    except Exception as exc:  # no driver, or no device
        return {"cupy": cupy.__version__, "gpu": f"no device ({_reason(exc)})"}
    return {"cupy": cupy.__version__, "gpu": f"{count} device(s): {', '.join(names)}" if count else "no device (0 found)"}


def _partial_trigger():
    """What a PartialAllreduce on COMM_WORLD counts arrivals with (collective)."""
    from .partial import select_trigger
    try:
        return {"partial_trigger": select_trigger(comm=MPI.COMM_WORLD)}
    except Error as exc:  # a bad LP_PARTIAL_TRIGGER: report it, do not fail
        return {"partial_trigger": f"error ({_reason(exc)})"}


def _build_options():
    """lp_build_options()'s key=value words, as libpartial_<key>."""
    words = ffi.string(lib.lp_build_options()).decode().split()
    return {f"libpartial_{key}": value for key, _, value in (word.partition("=") for word in words)}


def collect():
    """A dict of facts about the library, MPI, CUDA and the build."""
    v = ffi.new("int[3]")
    lib.lp_get_version(v, v + 1, v + 2)
    ours, theirs = mpi_library_versions()
    vendor, vendor_version = MPI.get_vendor()
    return {
        "libpartial": f"{v[0]}.{v[1]}.{v[2]}",
        "python": sys.version.split()[0],
        "mpi4py": __import__("mpi4py").__version__,
        "mpi_standard": "{}.{}".format(*MPI.Get_version()),
        "mpi_vendor": f"{vendor} {'.'.join(map(str, vendor_version))}",
        "mpi_library": ours.splitlines()[0],
        "mpi_library_matches_mpi4py": ours == theirs,
        "thread_level": _THREAD_LEVELS.get(MPI.Query_thread(), "unknown"),
        "comm_world_size": MPI.COMM_WORLD.Get_size(),
        **_partial_trigger(),
        **_mpi_cuda(),
        **_cupy_and_gpu(),
        **_build_options(),
    }


def main():
    for key, value in collect().items():
        print(f"{key:28s} {value}")


if __name__ == "__main__":
    main()
