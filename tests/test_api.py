"""Single-process checks of the Python surface: the exception hierarchy
matches the C result codes, and argument checks. The info command: test_info.py."""
import numpy as np
import pytest
from mpi4py import MPI

import partial4py
from partial4py import errors
from partial4py._binding import ffi, lib

C_CODES = {
    "LP_ERR_INVALID_ARGUMENT": (errors.InvalidArgumentError, ValueError),
    "LP_ERR_INVALID_TYPE": (errors.DatatypeError, TypeError),
    "LP_ERR_MISMATCH": (errors.MismatchError, ValueError),
    "LP_ERR_INDEX_OUT_OF_RANGE": (errors.IndexOutOfRangeError, ValueError),
    "LP_ERR_NO_MEMORY": (errors.OutOfMemoryError, MemoryError),
    "LP_ERR_TIMEOUT": (errors.TimeoutError, TimeoutError),
    "LP_ERR_CLOSED": (errors.ClosedError, partial4py.Error),
    "LP_ERR_MPI": (errors.MPIError, partial4py.Error),
    "LP_ERR_UNSUPPORTED": (errors.UnsupportedError, NotImplementedError),
    "LP_ERR_INTERNAL": (errors.InternalError, partial4py.Error),
}


@pytest.mark.parametrize("name", sorted(C_CODES))
def test_every_c_code_maps_to_its_exception(name):
    cls, builtin = C_CODES[name]
    code = getattr(lib, name)
    assert cls.code == code
    assert errors.error_class(code) is cls
    assert issubclass(cls, partial4py.Error) and issubclass(cls, builtin)
    assert ffi.string(lib.lp_result_string(code)).decode() not in ("", "unknown result code")


def test_every_c_code_is_covered():
    assert len(C_CODES) == lib.LP_NUM_RESULTS - 1


def test_single_rank_allreduce_is_identity():
    x = np.arange(10, dtype=np.float32)
    assert np.array_equal(partial4py.allreduce(x, comm=MPI.COMM_SELF), x)


def test_request_test_then_wait():
    x = np.arange(5, dtype=np.int32)
    request = partial4py.iallreduce(x, comm=MPI.COMM_SELF)
    while not request.test():
        pass
    assert np.array_equal(request.wait(), x)
    assert np.array_equal(request.wait(), x)  # idempotent


def test_accepts_mpi4py_ops_and_buffer_protocol():
    out = partial4py.allreduce(memoryview(np.arange(4, dtype=np.int64)), op=MPI.MAX, comm=MPI.COMM_SELF)
    assert out.tolist() == [0, 1, 2, 3]


@pytest.mark.parametrize("comm, exc", [("world", partial4py.DatatypeError), (7, partial4py.DatatypeError),
                                       (MPI.COMM_NULL, partial4py.InvalidArgumentError)])
def test_rejects_what_is_not_a_communicator(comm, exc):
    with pytest.raises(exc):
        partial4py.allreduce(np.zeros(2), comm=comm)


def test_a_freed_communicator_is_rejected():
    comm = MPI.COMM_SELF.Dup()
    partial4py.allreduce(np.ones(3), comm=comm)
    comm.Free()
    with pytest.raises(partial4py.InvalidArgumentError):
        partial4py.allreduce(np.ones(3), comm=comm)


@pytest.mark.parametrize("value", [True, 2.0, "3", None, 2**31, -1])
def test_integer_arguments_are_integers_in_range(value):
    from partial4py._arguments import INT32_MAX, integer
    with pytest.raises(partial4py.InvalidArgumentError):
        integer(value, "x", 0, INT32_MAX)


def test_integer_arguments_accept_numpy_integers():
    from partial4py._arguments import INT64_MAX, integer
    assert integer(np.uint64(2**63 - 1), "x", 0, INT64_MAX) == 2**63 - 1


@pytest.mark.parametrize("value", ["0.5", b"1", True, None, [1.0], 10**400])
def test_real_arguments_are_numbers(value):
    from partial4py._arguments import real
    with pytest.raises(partial4py.InvalidArgumentError):
        real(value, "x")


@pytest.mark.parametrize("exc, cls", [(TypeError("t"), partial4py.DatatypeError),
                                      (ValueError("v"), partial4py.InvalidArgumentError),
                                      (OverflowError("o"), partial4py.InvalidArgumentError),
                                      (KeyError("k"), partial4py.InternalError)])
def test_a_builtin_exception_becomes_the_library_class_of_its_code(exc, cls):
    error = errors.library_error(exc)
    assert type(error) is cls and error.__cause__ is exc
    assert errors.library_error(error) is error


def test_bad_values_raise_the_library_class():  # every rank's agreement: test_bad_input.py
    with pytest.raises(partial4py.InvalidArgumentError):
        partial4py.sparse_allreduce(np.array([1]), np.ones(1), 4, comm=MPI.COMM_SELF, density_threshold="x")
    with pytest.raises(partial4py.InvalidArgumentError):
        partial4py.PartialAllreduce(4, comm=MPI.COMM_SELF, max_staleness=2**40)


def test_freed_communicator_releases_its_duplicate():
    before = lib.lp_comm_live_count()
    comm = MPI.COMM_SELF.Dup()
    partial4py.allreduce(np.ones(3), comm=comm)
    assert lib.lp_comm_live_count() == before + 1
    partial4py.allreduce(np.ones(3), comm=comm)  # the cached one, not another
    assert lib.lp_comm_live_count() == before + 1
    comm.Free()  # runs the attribute's delete callback, which must destroy the library communicator
    assert lib.lp_comm_live_count() == before
    fresh = MPI.COMM_SELF.Dup()
    assert partial4py.allreduce(np.ones(3), comm=fresh).tolist() == [1, 1, 1]
    fresh.Free()
    assert lib.lp_comm_live_count() == before
