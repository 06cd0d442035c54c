"""Checks on the scalar arguments of the collectives.

Each value must be of the right kind and fit the C parameter it becomes
(int is 32-bit, int64_t 64-bit). The collectives run these checks in their
agreed preparation step, so a bad value fails every rank with
:class:`InvalidArgumentError`, instead of failing one rank with cffi's
OverflowError after the other ranks have entered the C collective.
"""
import operator

import numpy as np

from .errors import InvalidArgumentError

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
_NAMED = {INT32_MAX: "2**31 - 1", INT64_MAX: "2**63 - 1"}


def integer(value, name, low, high):
    """value as an int in low..high. A bool is not an integer here."""
    if isinstance(value, (bool, np.bool_)):
        raise InvalidArgumentError(f"{name} must be an integer, not a bool")
    try:
        value = operator.index(value)
    except TypeError:
        raise InvalidArgumentError(f"{name} must be an integer, not {type(value).__name__}") from None
    if not low <= value <= high:
        raise InvalidArgumentError(f"{name} {value} is not in {low}..{_NAMED.get(high, high)}")
    return value


def real(value, name):
    """value as a float; nan and the infinities are for the caller to judge.
    Strings (which float() would parse) and bools are not numbers here."""
    if isinstance(value, (str, bytes, bytearray, bool, np.bool_)):
        raise InvalidArgumentError(f"{name} must be a number, not {type(value).__name__}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InvalidArgumentError(f"{name} must be a number, not {type(value).__name__}") from None
    except OverflowError:
        raise InvalidArgumentError(f"{name} {value} is too large for a double") from None
