"""The mpi4py-style surface: comm (and what followed it) keyword-only with a
deprecated positional form, MPI.IN_PLACE, Request.done / with / waitall /
waitany, and buffers taken through one acquire() (CPU torch tensors without
a copy). Multi-rank checks run under mpirun; the decorator and the buffer
acquisition are also checked in this process."""
import inspect
import warnings

import numpy as np
import pytest
from mpi4py import MPI

import partial4py
from conftest import PROCS
from mpi_harness import run_mpi
from partial4py._buffers import HOST, acquire
from partial4py._keywords import keyword_only

COLLECTIVES = ["allreduce", "iallreduce", "sparse_allreduce", "isparse_allreduce", "PartialAllreduce"]


def by_color(results):
    return {r["color"] for r in results}


# -- keyword-only comm ---------------------------------------------------------


@pytest.mark.parametrize("nprocs", PROCS)
@pytest.mark.parametrize("split", [False, True])
def test_positional_comm_warns_and_still_reduces(nprocs, split):
    results = run_mpi(nprocs, "surface_keywords", {"seed": nprocs, "split": split})
    if split and nprocs > 1:
        assert by_color(results) == {0, 1}
    for r in results:
        for name in COLLECTIVES:
            call = r["calls"][name]
            assert call["positional_equal"] and call["keyword_equal"], (name, call)
            assert call["keyword_warnings"] == []
            assert len(call["positional_warnings"]) == 1, call
            message = call["positional_warnings"][0]
            assert "'comm'" in message and f"{name}(..., comm=" in message


@pytest.mark.parametrize("name", ["allreduce", "iallreduce", "sparse_allreduce", "isparse_allreduce"])
def test_signatures_are_keyword_only_from_comm(name):
    parameters = inspect.signature(getattr(partial4py, name)).parameters
    after = list(parameters)[list(parameters).index("comm"):]
    assert all(parameters[p].kind is inspect.Parameter.KEYWORD_ONLY for p in after)


def test_partial_allreduce_and_optimizer_signatures():
    parameters = inspect.signature(partial4py.PartialAllreduce).parameters
    assert [p for p in parameters if parameters[p].kind is not inspect.Parameter.KEYWORD_ONLY] == ["count", "dtype"]
    torch_module = pytest.importorskip("partial4py.torch")
    parameters = inspect.signature(torch_module.DistributedOptimizer).parameters
    assert [p for p in parameters if parameters[p].kind is not inspect.Parameter.KEYWORD_ONLY] == \
        ["optimizer", "params", "mode"]


@keyword_only
def _example(a, b=2, *, c=3, d=4):
    return a, b, c, d


def test_keyword_only_binds_the_old_order_and_names_each_parameter():
    with pytest.warns(DeprecationWarning, match=r"'c', 'd' to _example\(\) by position.*_example\(\.\.\., c=\.\.\., d=\.\.\.\)"):
        assert _example(1, 2, 30, 40) == (1, 2, 30, 40)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _example(1, c=5) == (1, 2, 5, 4)


def test_keyword_only_rejects_what_the_function_would():
    with pytest.raises(TypeError, match="multiple values for argument 'c'"):
        _example(1, 2, 3, c=3)
    with pytest.raises(TypeError):
        _example(1, 2, 3, 4, 5)


def test_keyword_only_keeps_the_signature_and_docs():
    assert str(inspect.signature(_example)) == "(a, b=2, *, c=3, d=4)"
    assert partial4py.allreduce.__doc__.startswith("Reduces")
    assert partial4py.allreduce.__wrapped__.__name__ == "allreduce"


# -- MPI.IN_PLACE --------------------------------------------------------------


@pytest.mark.parametrize("nprocs", PROCS)
def test_in_place(nprocs):
    results = run_mpi(nprocs, "surface_in_place", {"seed": 10 + nprocs})
    for r in results:
        assert all(r["checks"].values()), r["checks"]
        for case, outcome in r["missing"].items():
            assert outcome["raised"] == "InvalidArgumentError", (case, outcome)
        message = results[0]["missing"]["allreduce_everywhere"]["message"]
        assert "IN_PLACE" in message and "recvbuf" in message and "uint8" not in message


def test_in_place_on_subcommunicators():
    results = run_mpi(5, "surface_in_place", {"seed": 4, "split": True})
    assert by_color(results) == {0, 1}
    for r in results:
        assert all(r["checks"].values()), r["checks"]


# -- Request -------------------------------------------------------------------


@pytest.mark.parametrize("nprocs", PROCS)
def test_requests(nprocs):
    results = run_mpi(nprocs, "surface_requests", {"seed": 20 + nprocs})
    for r in results:
        facts = r["facts"]
        assert facts.pop("undefined") == MPI.UNDEFINED
        assert facts.pop("waitany_undefined_result") is None
        assert all(facts.values()), facts


def test_requests_on_subcommunicators():
    results = run_mpi(5, "surface_requests", {"seed": 5, "split": True})
    for r in results:
        r["facts"].pop("undefined"), r["facts"].pop("waitany_undefined_result")
        assert all(r["facts"].values()), r["facts"]


@pytest.mark.parametrize("nprocs", PROCS[1:])  # a request that fails needs a rank that does not join it
def test_request_errors(nprocs):
    results = run_mpi(nprocs, "surface_requests", {"seed": 30, "errors": True})
    first, others = results[0], results[1:]
    assert first["waitall"]["raised"] == "TimeoutError"
    assert all(r["waitall"]["raised"] is None for r in others)
    assert all(r["waitall_waited_the_rest"] for r in results)
    assert first["failed_request_raises_again"]["raised"] == "TimeoutError"
    assert first["waitany"]["raised"] == "TimeoutError"
    body_error = first["with_body_error"]
    assert body_error["kept"] and len(body_error["notes"]) == 1 and "TimeoutError" in body_error["notes"][0]


def test_waitany_and_waitall_on_nothing():
    assert partial4py.waitall([]) == []
    assert partial4py.waitany([]) == (MPI.UNDEFINED, None)
    assert partial4py.waitany(iter([])) == (MPI.UNDEFINED, None)


def test_waitany_skips_completed_requests():
    done = partial4py.iallreduce(np.arange(3))
    assert done.done()  # one rank: complete at once, and done() says so without wait()
    assert partial4py.waitany([done]) == (MPI.UNDEFINED, None)
    pending = partial4py.iallreduce(np.arange(4))
    index, result = partial4py.waitany([done, pending])
    assert index == 1 and np.array_equal(result, np.arange(4))


# -- buffer acquisition --------------------------------------------------------


@pytest.mark.parametrize("nprocs", PROCS)
def test_cpu_torch_tensors_through_every_collective(nprocs):
    pytest.importorskip("torch")
    results = run_mpi(nprocs, "surface_torch", {"seed": 40 + nprocs})
    for r in results:
        facts = r["facts"]
        warnings_seen = facts.pop("optimizer_warnings")
        assert len(warnings_seen) == 1 and "DistributedOptimizer(..., comm=" in warnings_seen[0]
        assert all(facts.values()), facts


def test_cpu_torch_tensors_on_subcommunicators():
    pytest.importorskip("torch")
    results = run_mpi(5, "surface_torch", {"seed": 6, "split": True})
    for r in results:
        r["facts"].pop("optimizer_warnings")
        assert all(r["facts"].values()), r["facts"]


def test_acquire_views_a_cpu_tensor_without_a_copy():
    torch = pytest.importorskip("torch")
    tensor = torch.arange(6, dtype=torch.float32)
    acquired = acquire(tensor, "x", writable=True)
    assert acquired.kind == HOST and acquired.array.ctypes.data == tensor.data_ptr()
    acquired.array[0] = 42
    assert tensor[0] == 42


def test_acquire_tries_the_buffer_protocol_first():
    data = bytearray(16)
    acquired = acquire(memoryview(data).cast("i"), "x")
    assert acquired.kind == HOST and acquired.array.dtype == np.int32 and acquired.array.size == 4


def test_torch_tensors_that_cannot_be_taken():
    torch = pytest.importorskip("torch")
    with pytest.raises(partial4py.InvalidArgumentError, match="not C-contiguous"):
        partial4py.allreduce(torch.arange(10)[::2])
    with pytest.raises(partial4py.DatatypeError, match="DLPack"):
        partial4py.allreduce(torch.ones(3, requires_grad=True))
    with pytest.raises(partial4py.DatatypeError, match="dtype int16"):
        partial4py.allreduce(torch.ones(3, dtype=torch.int16))


def test_mixed_host_and_device_buffers_are_refused():
    torch = pytest.importorskip("torch")
    with pytest.raises(partial4py.DatatypeError, match="must be a NumPy array"):
        partial4py.allreduce(np.arange(3), object())
    # A host tensor as recvbuf of a host array is one kind: fine.
    out = torch.zeros(3, dtype=torch.int64)
    partial4py.allreduce(np.arange(3, dtype=np.int64), out)
    assert out.tolist() == [0, 1, 2]


class _OtherDevice:
    """An array DLPack places on a device that is neither the host nor CUDA."""

    def __dlpack__(self, **kwargs):
        raise AssertionError("not to be exported")

    def __dlpack_device__(self):
        return (14, 0)  # kDLOneAPI


def test_dlpack_devices_other_than_cpu_and_cuda_are_refused():
    with pytest.raises(partial4py.DatatypeError, match="DLPack device type 14"):
        partial4py.allreduce(_OtherDevice())
