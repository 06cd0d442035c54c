"""Dense allreduce cases: each rank reduces its regenerated input and checks
it against NumPy's reduction of every rank's input."""
import numpy as np
from mpi4py import MPI

import partial4py
from _worker import digest, main, rank_input, report

REDUCE = {"sum": np.sum, "prod": np.prod, "min": np.min, "max": np.max}


def run_case(case, comm):
    size, rank = comm.Get_size(), comm.Get_rank()
    dtype, op, count, seed = case["dtype"], case["op"], case["count"], case["seed"]
    low, high = (-3, 3) if op == "prod" else (-1000, 1000)
    inputs = [rank_input(seed, r, count, dtype, low, high) for r in range(size)]
    stacked = np.stack(inputs) if count else np.zeros((size, 0), dtype)
    if np.dtype(dtype).kind == "f":
        expected = REDUCE[op](stacked.astype(np.float64), axis=0)
    else:
        expected = REDUCE[op](stacked, axis=0).astype(dtype)
    mode = case.get("mode", "blocking")
    send = inputs[rank].copy()
    if mode == "blocking":
        result = partial4py.allreduce(send, op=op, comm=comm)
    elif mode == "in_place":
        result = partial4py.allreduce(send, send, op=op, comm=comm)
    else:
        request = partial4py.iallreduce(send, op=op, comm=comm)
        while not request.test():
            pass
        result = request.wait()
    assert result.dtype == np.dtype(dtype) and result.shape == (count,)
    if np.dtype(dtype).kind == "f":
        np.testing.assert_allclose(result, expected, rtol=1e-5 if dtype == "float32" else 1e-12, atol=1e-3)
    else:
        np.testing.assert_array_equal(result, expected)
    return digest(result)


def body(args):
    world = MPI.COMM_WORLD
    comm = world.Split(world.Get_rank() % 2, world.Get_rank()) if args.get("split") else world
    digests = [run_case(case, comm) for case in args["cases"]]
    report(digests=digests, color=world.Get_rank() % 2 if args.get("split") else 0)
    if comm is not world:
        comm.Free()


main(body)
