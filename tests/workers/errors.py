"""Bad input on one rank: every rank must raise, and the communicator must
still work afterwards."""
import numpy as np
from mpi4py import MPI

import partial4py
from _worker import main, raised, report


def bad_call(kind, rank, size):
    culprit = rank == size - 1
    good = np.arange(8, dtype=np.int64)
    if kind == "dtype":
        send = good.astype(np.float16) if culprit else good
        return lambda: partial4py.allreduce(send)
    if kind == "noncontiguous":
        send = np.arange(16, dtype=np.int64)[::2] if culprit else good
        return lambda: partial4py.allreduce(send)
    if kind == "readonly":
        recv = np.empty(8, np.int64)
        recv.flags.writeable = not culprit
        return lambda: partial4py.allreduce(good, recv)
    if kind == "count":
        send = np.arange(7 if culprit else 8, dtype=np.int64)
        return lambda: partial4py.allreduce(send)
    if kind == "datatype_mismatch":
        send = good.astype(np.int32) if culprit else good
        return lambda: partial4py.allreduce(send)
    if kind == "op":
        return lambda: partial4py.allreduce(good, op="xor" if culprit else "sum")
    if kind == "recv_size":
        recv = np.empty(4 if culprit else 8, np.int64)
        return lambda: partial4py.iallreduce(good, recv).wait()
    if kind == "not_an_array":
        send = "not an array" if culprit else good
        return lambda: partial4py.allreduce(send)
    raise AssertionError(kind)


def body(args):
    comm = MPI.COMM_WORLD
    rank, size = comm.Get_rank(), comm.Get_size()
    outcomes = [raised(bad_call(kind, rank, size)) for kind in args["kinds"]]
    after = partial4py.allreduce(np.ones(3, np.int64))
    report(outcomes=outcomes, healthy=bool((after == size).all()))


main(body)
