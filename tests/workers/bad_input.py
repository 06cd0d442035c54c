"""Bad input to every public entry point, on one rank or on every rank.

args: {"cases": [names], "culprits": "one" | "every"}. With "one", case i
has its bad value on rank i % P only (so every rank is the culprit of some
case); the other ranks make the same call with good arguments. After each
case every rank checks that the communicator still works: a dense
allreduce must give the exact NumPy sum of every rank's input, which it
cannot if some rank was left in a stale collective (then the launch hangs
and the harness's timeout fails the test).
"""
import importlib
import sys
import time

import numpy as np
from mpi4py import MPI

import partial4py
from partial4py.compress import QSGDCompressor, TopKCompressor
from partial4py.sparse import predict_seconds, select_algorithm
from _worker import main, raised, report

COUNT = 8
WORLD = MPI.COMM_WORLD


def send(dtype=np.int64):
    return np.arange(COUNT, dtype=dtype)


def recv(dtype=np.int64, count=COUNT):
    return np.empty(count, dtype)


def readonly(count=COUNT, dtype=np.int64):
    array = np.zeros(count, dtype)
    array.flags.writeable = False
    return array


def noncontiguous(dtype=np.int64):
    return np.arange(2 * COUNT, dtype=dtype)[::2]


# ---- dense -------------------------------------------------------------------
# Each case: (the function, {argument: a maker of its bad value}); a
# culprit rank's call has the good arguments updated with the bad ones.

def dense(function, sendbuf, recvbuf=None, op="sum"):
    result = getattr(partial4py, function)(sendbuf, recvbuf, op=op)
    return result.wait() if function == "iallreduce" else result


DENSE = {
    "dense_dtype_float16": ("allreduce", {"sendbuf": lambda: send(np.float16)}),
    "dense_dtype_complex": ("iallreduce", {"sendbuf": lambda: send(np.complex128)}),
    "dense_dtype_object": ("allreduce", {"sendbuf": lambda: np.array([1, "a"], dtype=object)}),
    "dense_noncontiguous_send": ("allreduce", {"sendbuf": lambda: noncontiguous()}),
    "dense_noncontiguous_recv": ("iallreduce", {"recvbuf": lambda: noncontiguous()}),
    "dense_readonly_recv": ("allreduce", {"recvbuf": lambda: readonly()}),
    "dense_readonly_recv_buffer": ("iallreduce", {"recvbuf": lambda: memoryview(bytes(8 * COUNT)).cast("q")}),
    "dense_recv_size": ("allreduce", {"recvbuf": lambda: recv(count=COUNT - 1)}),
    "dense_recv_dtype": ("iallreduce", {"recvbuf": lambda: recv(np.float64)}),
    "dense_unknown_op": ("allreduce", {"op": lambda: "xor"}),
    "dense_op_number": ("iallreduce", {"op": lambda: 5}),
    "dense_op_mpi_unsupported": ("allreduce", {"op": lambda: MPI.BAND}),
    "dense_send_none": ("allreduce", {"sendbuf": lambda: None}),
    "dense_send_list": ("allreduce", {"sendbuf": lambda: list(range(COUNT))}),
    "dense_send_string": ("iallreduce", {"sendbuf": lambda: "not an array"}),
    "dense_recv_string": ("allreduce", {"recvbuf": lambda: "not an array"}),
    "dense_recv_int": ("iallreduce", {"recvbuf": lambda: 7}),
}


def dense_case(name, bad):
    function, bad_arguments = DENSE[name]
    arguments = {"sendbuf": send()}
    if bad:
        arguments.update({key: make() for key, make in bad_arguments.items()})
    return lambda: dense(function, **arguments)


# ---- sparse ------------------------------------------------------------------

SPARSE = {  # name -> (function, {argument: bad value maker})
    "sparse_index_out_of_range": ("sparse", {"indices": lambda: np.array([3, 10, 1])}),
    "sparse_negative_index": ("isparse", {"indices": lambda: np.array([3, -1, 1])}),
    "sparse_negative_size": ("sparse", {"size": lambda: -1}),
    "sparse_size_2_64": ("sparse", {"size": lambda: 2**64}),
    "isparse_size_2_63": ("isparse", {"size": lambda: 2**63}),
    "sparse_size_float": ("sparse", {"size": lambda: 10.0}),
    "sparse_size_bool": ("isparse", {"size": lambda: True}),
    "sparse_size_string": ("sparse", {"size": lambda: "10"}),
    "sparse_length_mismatch": ("sparse", {"values": lambda: np.ones(2, np.float32)}),
    "sparse_float_indices": ("isparse", {"indices": lambda: np.array([3.0, 1.0, 3.0])}),
    "sparse_value_dtype_float16": ("sparse", {"values": lambda: np.ones(3, np.float16)}),
    "sparse_unknown_algorithm": ("sparse", {"algorithm": lambda: "bogus"}),
    "isparse_algorithm_list": ("isparse", {"algorithm": lambda: ["dense"]}),
    "sparse_threshold_nan": ("sparse", {"density_threshold": lambda: float("nan")}),
    "sparse_threshold_negative": ("isparse", {"density_threshold": lambda: -1}),
    "sparse_threshold_string": ("sparse", {"density_threshold": lambda: "x"}),
    "isparse_threshold_string": ("isparse", {"density_threshold": lambda: "0.5"}),
    "sparse_threshold_inf": ("sparse", {"density_threshold": lambda: float("inf")}),
    "sparse_threshold_huge_int": ("isparse", {"density_threshold": lambda: 10**400}),
    "sparse_threshold_list": ("sparse", {"density_threshold": lambda: [0.5]}),
    "sparse_2d_indices": ("sparse", {"indices": lambda: np.array([[3, 1, 3]])}),
    "isparse_2d_values": ("isparse", {"values": lambda: np.ones((1, 3), np.float32)}),
    "sparse_indices_none": ("sparse", {"indices": lambda: None}),
    "isparse_values_none": ("isparse", {"values": lambda: None}),
    "isparse_noncontiguous_values": ("isparse", {"values": lambda: np.ones(6, np.float32)[::2]}),
}


def sparse_case(name, bad):
    function, bad_arguments = SPARSE[name]
    arguments = {"indices": np.array([3, 1, 3]), "values": np.array([1.0, 2.0, 3.0], np.float32),
                 "size": 10, "algorithm": "auto", "density_threshold": None}
    if bad:
        arguments.update({key: make() for key, make in bad_arguments.items()})
    if function == "sparse":
        return lambda: partial4py.sparse_allreduce(**arguments)
    return lambda: partial4py.isparse_allreduce(**arguments).wait()


# ---- quantized ---------------------------------------------------------------

QUANTIZED = {  # name -> (function, {argument: bad value maker})
    "quantized_bits_3": ("quantized", {"bits": lambda: 3}),
    "iquantized_bits_string": ("iquantized", {"bits": lambda: "8"}),
    "quantized_bits_2_40": ("quantized", {"bits": lambda: 2**40}),
    "quantized_bucket_size_zero": ("iquantized", {"bucket_size": lambda: 0}),
    "quantized_bucket_size_float": ("quantized", {"bucket_size": lambda: 64.0}),
    "quantized_seed_negative": ("quantized", {"seed": lambda: -1}),
    "iquantized_seed_2_64": ("iquantized", {"seed": lambda: 2**64}),
    "quantized_scale_unknown": ("quantized", {"scale": lambda: "mean"}),
    "quantized_scale_list": ("iquantized", {"scale": lambda: ["max"]}),
    "quantized_dtype_int64": ("quantized", {"sendbuf": lambda: send(np.int64)}),
    "iquantized_dtype_float16": ("iquantized", {"sendbuf": lambda: send(np.float16)}),
    "quantized_recv_size": ("quantized", {"recvbuf": lambda: recv(np.float32, COUNT + 1)}),
    "iquantized_recv_dtype": ("iquantized", {"recvbuf": lambda: recv(np.float64)}),
    "quantized_recv_readonly": ("quantized", {"recvbuf": lambda: readonly(dtype=np.float32)}),
    "quantized_send_none": ("iquantized", {"sendbuf": lambda: None}),
    "quantized_residual_size": ("quantized", {"residual": lambda: recv(np.float32, COUNT - 1)}),
    "iquantized_residual_dtype": ("iquantized", {"residual": lambda: recv(np.float64)}),
    "quantized_residual_readonly": ("quantized", {"residual": lambda: readonly(dtype=np.float32)}),
    "qsgd_gradient_size": ("qsgd", {"sendbuf": lambda: np.ones(COUNT + 2, np.float32)}),
    "qsgd_gradient_dtype": ("qsgd", {"sendbuf": lambda: np.ones(COUNT, np.float64)}),
    "qsgd_gradient_noncontiguous": ("qsgd", {"sendbuf": lambda: np.ones(2 * COUNT, np.float32)[::2]}),
}


def quantized_case(name, bad):
    function, bad_arguments = QUANTIZED[name]
    arguments = {"sendbuf": send(np.float32), "recvbuf": None, "bits": 4, "bucket_size": 8, "seed": 1,
                 "scale": "max"}
    if bad:
        arguments.update({key: make() for key, make in bad_arguments.items()})
    if function == "quantized":
        return lambda: partial4py.quantized_allreduce(**arguments)
    if function == "qsgd":
        compressor = QSGDCompressor(COUNT, bits=4, bucket_size=8, error_feedback=True)
        return lambda: compressor.allreduce(arguments["sendbuf"])
    return lambda: partial4py.iquantized_allreduce(**arguments).wait()


# ---- partial allreduce: creation ----------------------------------------------

CREATE = {
    "create_count_2_64": {"count": 2**64},
    "create_count_2_63": {"count": 2**63},
    "create_count_bytes_wrap": {"count": 2**62, "dtype": np.float32},  # 2**64 bytes: wraps a size_t
    "create_count_negative": {"count": -1},
    "create_count_float": {"count": 8.0},
    "create_count_bool": {"count": True},
    "create_count_string": {"count": "8"},
    "create_count_none": {"count": None},
    "create_dtype_unknown": {"dtype": "notadtype"},
    "create_dtype_float16": {"dtype": np.float16},
    "create_dtype_list": {"dtype": [1, 2]},
    "create_mode_2_40": {"mode": 2**40},
    "create_mode_unknown": {"mode": "fastest"},
    "create_mode_bool": {"mode": True},
    "create_mode_float": {"mode": 2.0},
    "create_quorum_zero": {"mode": 0},
    "create_quorum_above_p": {"mode": "P+1"},
    "create_max_staleness_2_40": {"max_staleness": 2**40},
    "create_max_staleness_negative": {"max_staleness": -5},
    "create_max_staleness_string": {"max_staleness": "x"},
    "create_max_staleness_float": {"max_staleness": 2.5},
    "create_max_staleness_above_bound": {"max_staleness": 1000001},
    "create_timeout_nan": {"timeout": float("nan")},
    "create_timeout_negative": {"timeout": -1},
    "create_timeout_zero": {"timeout": 0},
    "create_timeout_string": {"timeout": "abc"},
    "create_timeout_numeric_string": {"timeout": "30"},
    "create_timeout_huge_int": {"timeout": 10**400},
    "create_op_unknown": {"op": "xor"},
    "create_op_none": {"op": None},
}


def create_case(name, bad):
    options = {"count": COUNT, "dtype": np.float32, "mode": "majority", "max_staleness": None, "timeout": 30,
               "op": "sum"}
    if bad:
        options.update(CREATE[name])
        if options["mode"] == "P+1":
            options["mode"] = WORLD.Get_size() + 1

    def create():
        with partial4py.PartialAllreduce(options.pop("count"), comm=WORLD, **options):
            pass
    return create


# ---- partial allreduce: calls ---------------------------------------------------
# Sync mode: a good call on a rank waits for every rank, so it learns of the
# culprit's bad call, which fails the object on every rank.

PCOUNT = 16
CALL = {  # name -> (method, (sendbuf, recvbuf) makers for the culprit)
    "call_send_size": ("allreduce", lambda: (np.ones(PCOUNT + 1, np.float32), None)),
    "call_send_dtype": ("allreduce", lambda: (np.ones(PCOUNT, np.float64), None)),
    "call_send_none": ("allreduce", lambda: (None, None)),
    "call_recv_readonly": ("allreduce", lambda: (np.ones(PCOUNT, np.float32), readonly(PCOUNT, np.float32))),
    "call_send_noncontiguous": ("allreduce", lambda: (np.ones(2 * PCOUNT, np.float32)[::2], None)),
    "start_recv_noncontiguous": ("start", lambda: (np.ones(PCOUNT, np.float32), np.empty(2 * PCOUNT, np.float32)[::2])),
    "start_send_list": ("start", lambda: ([1.0] * PCOUNT, None)),
    "start_recv_size": ("start", lambda: (np.ones(PCOUNT, np.float32), recv(np.float32, PCOUNT - 1))),
    "flush_recv_size": ("flush", lambda: (None, recv(np.float32, PCOUNT + 1))),
    "flush_recv_readonly": ("flush", lambda: (None, readonly(PCOUNT, np.float32))),
    "flush_recv_dtype": ("flush", lambda: (None, recv(np.int32, PCOUNT))),
    "flush_recv_string": ("flush", lambda: (None, "not an array")),
}


def call_case(name, bad):
    method, make = CALL[name]
    sendbuf, recvbuf = make() if bad else (np.ones(PCOUNT, np.float32), None)

    def call():
        with partial4py.PartialAllreduce(PCOUNT, dtype=np.float32, comm=WORLD, mode="sync", timeout=30) as pa:
            if method == "allreduce":
                pa.allreduce(sendbuf, recvbuf)
            elif method == "start":
                pa.start(sendbuf, recvbuf).wait()
            else:
                pa.flush(recvbuf)
    return call


# ---- local entry points: the compressor and the cost model -----------------------

def gradient():
    return np.ones(100, np.float32)


LOCAL = {
    "topk_size_zero": lambda: TopKCompressor(0),
    "topk_size_string": lambda: TopKCompressor("100"),
    "topk_size_float": lambda: TopKCompressor(100.5),
    "topk_density_nan": lambda: TopKCompressor(100, density=float("nan")),
    "topk_density_string": lambda: TopKCompressor(100, density="0.1"),
    "topk_k_above_size": lambda: TopKCompressor(100, k=101),
    "topk_k_float": lambda: TopKCompressor(100, k=2.5),
    "topk_dtype_unknown": lambda: TopKCompressor(100, dtype="notadtype"),
    "topk_index_dtype_float": lambda: TopKCompressor(100, index_dtype=np.float32),
    "topk_index_dtype_unknown": lambda: TopKCompressor(100, index_dtype="notadtype"),
    "topk_compress_list": lambda: TopKCompressor(100).compress([1.0] * 100),
    "topk_compress_size": lambda: TopKCompressor(100).compress(np.ones(99, np.float32)),
    "topk_compress_noncontiguous": lambda: TopKCompressor(100).compress(np.ones(200, np.float32)[::2]),
    "qsgd_size_zero": lambda: QSGDCompressor(0),
    "qsgd_bits_5": lambda: QSGDCompressor(100, bits=5),
    "qsgd_dtype_int32": lambda: QSGDCompressor(100, dtype=np.int32),
    "qsgd_scale_unknown": lambda: QSGDCompressor(100, scale="mean"),
    "qsgd_seed_negative": lambda: QSGDCompressor(100, seed=-1),
    "cost_unknown_algorithm": lambda: predict_seconds("bogus", 1000, 10, 4),
    "cost_negative_size": lambda: select_algorithm(-1, 10, 4),
    "cost_nprocs_2_40": lambda: select_algorithm(1000, 10, 2**40),
    "cost_dtype_unknown": lambda: predict_seconds("dense", 1000, 10, 4, dtype="notadtype"),
}


def good_local(name):
    if name.startswith("topk_compress"):
        return lambda: TopKCompressor(100).compress(gradient())
    if name.startswith("topk"):
        return lambda: TopKCompressor(100)
    if name.startswith("qsgd"):
        return lambda: QSGDCompressor(100)
    return lambda: select_algorithm(1000, 10, 4)


def local_case(name, bad):
    return LOCAL[name] if bad else good_local(name)


# ---- the torch optimizer (construction is collective in every mode) --------------

TORCH = {
    "torch_bucket_bytes_string": {"bucket_bytes": "x"},
    "torch_bucket_bytes_zero": {"bucket_bytes": 0},
    "torch_bucket_bytes_float": {"bucket_bytes": 64.5},
    "torch_no_trainable_parameters": {"frozen": True},
    "torch_float16_parameters": {"half": True},
    "torch_mode_unknown": {"mode": "fastest"},
    "torch_max_staleness_2_40": {"max_staleness": 2**40},
    "torch_timeout_string": {"timeout": "abc"},
    "torch_backward_passes_zero": {"backward_passes_per_step": 0},
    "torch_backward_passes_float": {"backward_passes_per_step": 1.5},
    "torch_topk_density_string": {"mode": "topk", "density": "x"},
    "torch_topk_bucket_bytes_string": {"mode": "topk", "bucket_bytes": "x"},
    "torch_qsgd_bits_3": {"mode": "qsgd", "bits": 3},
    "torch_qsgd_bits_string": {"mode": "qsgd", "bits": "4"},
}


def torch_case(name, bad):
    import torch
    from partial4py.torch import DistributedOptimizer
    mode = "topk" if "topk" in name else "qsgd" if "qsgd" in name else "sync"
    options = {"mode": mode, "bucket_bytes": 64, "max_staleness": 8, "timeout": 30, "density": 0.5, "bits": 4,
               "frozen": False, "half": False}
    if bad:
        options.update(TORCH[name])
    frozen, half = options.pop("frozen"), options.pop("half")

    def construct():
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.Linear(5, 1))  # several 64-byte buckets
        model = model.half() if half else model
        for p in model.parameters():
            p.requires_grad_(not frozen)
        with DistributedOptimizer(torch.optim.SGD(model.parameters(), lr=0.1), model.parameters(), comm=WORLD,
                                  **options):
            pass
    return construct


# ---- communicators (on every rank only: a rank without the communicator
# cannot take part in the others' collective) -------------------------------

def freed():
    comm = WORLD.Dup()
    partial4py.allreduce(send(), comm=comm)  # it has a library communicator, freed with it
    comm.Free()
    return comm


def intercomm():
    half = WORLD.Split(WORLD.Get_rank() % 2, WORLD.Get_rank())
    inter = half.Create_intercomm(0, WORLD, 1 - WORLD.Get_rank() % 2, tag=7)
    half.Free()
    return inter


COMMS = {"comm_null": lambda: MPI.COMM_NULL, "comm_freed": freed, "comm_intercomm": intercomm,
         "comm_string": lambda: "world", "comm_int": lambda: 0}
COMM_CALLS = {
    "allreduce": lambda comm: partial4py.allreduce(send(), comm=comm),
    "iallreduce": lambda comm: partial4py.iallreduce(send(), comm=comm).wait(),
    "sparse": lambda comm: partial4py.sparse_allreduce(np.array([1]), np.ones(1), 4, comm=comm),
    "isparse": lambda comm: partial4py.isparse_allreduce(np.array([1]), np.ones(1), 4, comm=comm).wait(),
    "partial": lambda comm: partial4py.PartialAllreduce(4, comm=comm).close(),
    "quantized": lambda comm: partial4py.quantized_allreduce(np.ones(4, np.float32), comm=comm),
}
COMM_CASES = {f"{comm}_{call}": (comm, call) for comm in COMMS for call in COMM_CALLS}


def comm_case(name, bad):
    assert bad, "communicator cases run with the bad value on every rank"
    comm_name, call = COMM_CASES[name]
    comm = COMMS[comm_name]()

    def run():
        try:
            COMM_CALLS[call](comm)
        finally:
            if isinstance(comm, MPI.Intercomm):
                comm.Free()
    return run


GROUPS = {"dense": (DENSE, dense_case), "sparse": (SPARSE, sparse_case),
          "quantized": (QUANTIZED, quantized_case), "create": (CREATE, create_case),
          "call": (CALL, call_case), "local": (LOCAL, local_case), "torch": (TORCH, torch_case),
          "comm": (COMM_CASES, comm_case)}


def make_case(name, bad):
    for table, maker in GROUPS.values():
        if name in table:
            return maker(name, bad)
    raise AssertionError(f"unknown case {name}")


def healthy(step):
    """A dense allreduce after the case gives the exact sum on every rank."""
    rank, size = WORLD.Get_rank(), WORLD.Get_size()
    mine = np.arange(COUNT, dtype=np.int64) * (rank + 1) + 1000 * step
    expected = sum(np.arange(COUNT, dtype=np.int64) * (r + 1) + 1000 * step for r in range(size))
    return bool(np.array_equal(partial4py.allreduce(mine), expected))


def body(args):
    rank, size = WORLD.Get_rank(), WORLD.Get_size()
    if any(name in TORCH for name in args["cases"]):
        # Importing torch and its first optimizer takes seconds: not part of any case's time.
        torch = importlib.import_module("torch")
        importlib.import_module("partial4py.torch")
        torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=0.1)
        WORLD.Barrier()
    outcomes = []
    for i, name in enumerate(args["cases"]):
        bad = args["culprits"] == "every" or rank == i % size
        print(f"rank {rank}: case {name} (bad: {bad})", file=sys.stderr, flush=True)  # names a hang's case
        start = time.monotonic()
        outcome = raised(make_case(name, bad))
        outcome.update(case=name, bad=bad, seconds=time.monotonic() - start, healthy=healthy(i))
        outcomes.append(outcome)
    report(outcomes=outcomes)


if __name__ == "__main__":
    main(body)
