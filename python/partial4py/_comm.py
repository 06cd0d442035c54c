"""mpi4py communicators to library communicators.

Each mpi4py communicator gets one library communicator (a private
duplicate), created collectively on first use and cached as an MPI
attribute, so it is freed when the user frees the communicator.
"""
from mpi4py import MPI

from ._binding import check, ffi, lib
from .errors import DatatypeError, InvalidArgumentError, MPILibraryMismatchError, error_class, library_error

_keyval = MPI.KEYVAL_INVALID


class _LibComm:
    __slots__ = ("handle",)

    def __init__(self, handle):
        self.handle = handle


def _release(comm, keyval, attribute):
    lib.lp_comm_destroy(attribute.handle)
    attribute.handle = ffi.NULL


def mpi_library_versions():
    """(libpartial's MPI, mpi4py's MPI) library version strings."""
    buf = ffi.new("char[]", MPI.MAX_LIBRARY_VERSION_STRING + 1)
    check(lib.lp_mpi_library_version(buf, len(buf)))
    # Some MPIs count the terminating NUL in the length that mpi4py slices by.
    theirs = MPI.Get_library_version().rstrip("\x00").strip()
    return ffi.string(buf).decode(errors="replace").strip(), theirs


def _check_same_mpi():
    ours, theirs = mpi_library_versions()
    if ours != theirs:
        raise MPILibraryMismatchError(
            "libpartial and mpi4py use different MPI libraries:\n"
            f"  libpartial: {ours.splitlines()[0]}\n  mpi4py:     {theirs.splitlines()[0]}\n"
            "Rebuild mpi4py against the MPI that libpartial was built with "
            "(MPICC=... pip install --no-binary=mpi4py mpi4py).")


def lib_comm(comm=None):
    """The library communicator for an mpi4py intracommunicator (collective on first use)."""
    if comm is None:
        comm = MPI.COMM_WORLD
    try:
        cached = comm.Get_attr(_keyval)  # the hot path: one attribute lookup
    except Exception:
        cached = None
    if cached is None:
        cached = _create(comm)
    return cached.handle


def _create(comm):
    # These checks are local: without a usable communicator there are no
    # peers to agree with, and no collective has been entered yet.
    global _keyval
    if not isinstance(comm, MPI.Comm):
        raise DatatypeError(f"comm must be an mpi4py.MPI.Intracomm, not {type(comm).__name__}")
    if comm == MPI.COMM_NULL:
        raise InvalidArgumentError("comm is MPI.COMM_NULL (or a communicator that was freed)")
    if not isinstance(comm, MPI.Intracomm):
        what = "an intercommunicator" if isinstance(comm, MPI.Intercomm) else type(comm).__name__
        raise DatatypeError(f"comm must be an mpi4py.MPI.Intracomm, not {what}")
    if _keyval == MPI.KEYVAL_INVALID:
        _check_same_mpi()
        _keyval = MPI.Comm.Create_keyval(delete_fn=_release)
    out = ffi.new("lp_comm_t *")
    check(lib.p4p_comm_create_from_address(MPI._addressof(comm), out))
    cached = _LibComm(out[0])
    comm.Set_attr(_keyval, cached)
    return cached


def agree_on(handle, prepare):
    """Runs the local argument checks of a collective call.

    If they raise on this rank, the failure is first agreed with the other
    ranks (which are entering the same collective), so that every rank
    raises instead of some waiting forever; then it is raised here: the
    original exception if it is a library :class:`Error`, else the library
    class of its code (the one the other ranks raise) caused by it. Where
    ranks failed with different codes, each raises the agreed one.
    """
    try:
        return prepare()
    except Exception as exc:
        error = library_error(exc)
        agreed = lib.lp_comm_agree(handle, error.code, ffi.NULL, 0)
        if agreed != error.code:
            detail = ffi.string(lib.lp_get_last_error()).decode(errors="replace")
            raise error_class(agreed)(f"{detail}; on this rank: {error}") from exc
        if error is exc:
            raise
        raise error from exc


def agree_on_values(handle, described):
    """Collective: raises MismatchError on every rank unless every rank
    passes the same values. described: up to 8 (name, int) pairs; the
    message names the one that differs, with two of its values and the
    lowest rank that passed each."""
    names = [name for name, _ in described]
    values = ffi.new("int64_t[]", [int(value) for _, value in described])
    result = lib.lp_comm_agree(handle, lib.LP_SUCCESS, values, len(names))
    if result == lib.LP_SUCCESS:
        return
    detail = ffi.string(lib.lp_get_last_error()).decode(errors="replace")
    # The C detail calls the value "argument <index>".
    for index, name in enumerate(names):
        detail = detail.replace(f"argument {index} differs", f"{name} differs", 1)
    raise error_class(result)(detail)
