"""The cffi module and the translation of C result codes into exceptions."""
from ._libpartial import ffi, lib
from .errors import error_class

__all__ = ["ffi", "lib", "check"]


def check(result):
    """Raises the exception for a C result code; returns None on success."""
    if result != lib.LP_SUCCESS:
        detail = ffi.string(lib.lp_get_last_error()).decode(errors="replace")
        summary = ffi.string(lib.lp_result_string(result)).decode()
        raise error_class(result)(detail or summary)
