"""MPI.IN_PLACE as sendbuf on communicator(args): allreduce and iallreduce
(int64 exactly, float64 against NumPy's float64 sum), PartialAllreduce's
allreduce and start in sync mode; and IN_PLACE without recvbuf, on every
rank or on rank 0 only (the other ranks then pass a valid call)."""
import numpy as np
from mpi4py import MPI

import partial4py
from _worker import communicator, main, raised, rank_input, report

COUNT = 101


def body(args):
    comm, color, members = communicator(args)
    seed, rank = args["seed"], comm.Get_rank()

    def mine(dtype):
        return rank_input(seed, members[rank], COUNT, dtype)

    def everyone(dtype, reduce=np.sum):
        return reduce(np.stack([rank_input(seed, r, COUNT, dtype) for r in members]), axis=0)

    checks = {}
    for name, dtype in (("int64", np.int64), ("int32", np.int32)):
        buf = mine(dtype)
        result = partial4py.allreduce(MPI.IN_PLACE, buf, comm=comm)
        checks[f"allreduce_{name}"] = bool(np.array_equal(buf, everyone(dtype)) and np.shares_memory(result, buf))
        buf = mine(dtype)
        partial4py.allreduce(MPI.IN_PLACE, buf, op="max", comm=comm)
        checks[f"allreduce_max_{name}"] = bool(np.array_equal(buf, everyone(dtype, np.max)))
        buf = mine(dtype)
        result = partial4py.iallreduce(MPI.IN_PLACE, buf, comm=comm).wait()
        checks[f"iallreduce_{name}"] = bool(np.array_equal(buf, everyone(dtype)) and np.shares_memory(result, buf))
    for name, call in (("allreduce", partial4py.allreduce),
                       ("iallreduce", lambda *a, **k: partial4py.iallreduce(*a, **k).wait())):
        buf = mine(np.float64)
        call(MPI.IN_PLACE, buf, comm=comm)
        reference = np.sum(np.stack([rank_input(seed, r, COUNT, np.float64) for r in members]), axis=0)
        checks[f"{name}_float64"] = bool(np.allclose(buf, reference, rtol=1e-12, atol=1e-9))
    with partial4py.PartialAllreduce(COUNT, np.int64, comm=comm, mode="sync", timeout=30.0) as pa:
        buf = mine(np.int64)
        info = pa.allreduce(MPI.IN_PLACE, buf)
        checks["partial_allreduce"] = bool(np.array_equal(buf, everyone(np.int64)) and info.result is buf)
        buf = mine(np.int64)
        info = pa.start(MPI.IN_PLACE, buf).wait()
        checks["partial_start"] = bool(np.array_equal(buf, everyone(np.int64)) and info.result is buf)
    missing = {
        "allreduce_everywhere": raised(lambda: partial4py.allreduce(MPI.IN_PLACE, comm=comm)),
        "iallreduce_everywhere": raised(lambda: partial4py.iallreduce(MPI.IN_PLACE, comm=comm).wait()),
    }
    # Rank 0 alone omits recvbuf: the others' valid calls must raise too, not hang.
    buf = mine(np.int64)
    recvbuf = None if rank == 0 else buf
    missing["allreduce_rank0"] = raised(lambda: partial4py.allreduce(MPI.IN_PLACE, recvbuf, comm=comm))
    missing["iallreduce_rank0"] = raised(lambda: partial4py.iallreduce(MPI.IN_PLACE, recvbuf, comm=comm).wait())
    with partial4py.PartialAllreduce(COUNT, np.int64, comm=comm, mode="sync", timeout=30.0) as pa:
        missing["partial_everywhere"] = raised(lambda: pa.allreduce(MPI.IN_PLACE))
    report(checks=checks, missing=missing, color=color)


main(body)
