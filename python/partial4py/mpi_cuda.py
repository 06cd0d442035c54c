"""Whether MPI can be handed CUDA device pointers (see docs/install.md).

Asked anew on every call, never cached: ``LP_CUDA_AWARE`` may change while
the program runs, and the query is cheap."""
from ._binding import check, ffi, lib

__all__ = ["cuda_support", "cuda_aware"]


def cuda_support():
    """``{"cuda_aware": bool, "source": str}``: the answer and what gave it,
    one of ``"openmpi"`` or ``"mpich"`` (the MPI's own query), ``"none"``
    (this MPI has no query: taken as not CUDA-aware) or ``"environment"``
    (``LP_CUDA_AWARE=0|1``). Any other value of ``LP_CUDA_AWARE`` raises
    :class:`InvalidArgumentError`."""
    aware = ffi.new("int *")
    source = ffi.new("lp_cuda_source_t *")
    check(lib.lp_query_cuda_support(aware, source))
    return {"cuda_aware": bool(aware[0]), "source": ffi.string(lib.lp_cuda_source_name(source[0])).decode()}


def cuda_aware():
    """Whether MPI accepts device pointers: ``cuda_support()["cuda_aware"]``."""
    return cuda_support()["cuda_aware"]
