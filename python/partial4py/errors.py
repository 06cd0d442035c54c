"""The exception hierarchy. Every library error is a :class:`Error`; the
ones caused by bad arguments are also ``ValueError`` or ``TypeError``."""
import builtins


class Error(Exception):
    """Base class of every libpartial error. ``code`` is the C result code."""

    code = 10  # LP_ERR_INTERNAL unless a subclass says otherwise


class InvalidArgumentError(Error, ValueError):
    code = 1


class DatatypeError(Error, TypeError):
    code = 2


class MismatchError(Error, ValueError):
    """Ranks passed different counts, sizes, datatypes or modes."""

    code = 3


class IndexOutOfRangeError(Error, ValueError):
    code = 4


class OutOfMemoryError(Error, MemoryError):
    code = 5


class TimeoutError(Error, builtins.TimeoutError):
    code = 6


class ClosedError(Error):
    code = 7


class MPIError(Error):
    code = 8


class UnsupportedError(Error, NotImplementedError):
    code = 9


class InternalError(Error):
    code = 10


class MPILibraryMismatchError(Error, RuntimeError):
    """libpartial and mpi4py were built against different MPI libraries."""

    code = 8


_BY_CODE = {cls.code: cls for cls in (
    InvalidArgumentError, DatatypeError, MismatchError, IndexOutOfRangeError,
    OutOfMemoryError, TimeoutError, ClosedError, MPIError, UnsupportedError, InternalError)}


def error_class(code):
    return _BY_CODE.get(code, InternalError)


def code_of(exc):
    """The C result code that stands for a Python exception."""
    if isinstance(exc, Error):
        return exc.code
    if isinstance(exc, TypeError):
        return DatatypeError.code
    if isinstance(exc, (ValueError, OverflowError)):  # OverflowError: a value outside a C type
        return InvalidArgumentError.code
    if isinstance(exc, MemoryError):
        return OutOfMemoryError.code
    return InternalError.code


def library_error(exc):
    """exc if it is an :class:`Error`, else the library's class for its code
    (the one the other ranks of a collective raise), caused by it."""
    if isinstance(exc, Error):
        return exc
    error = error_class(code_of(exc))(f"{type(exc).__name__}: {exc}")
    error.__cause__ = exc
    return error
