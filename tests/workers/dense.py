"""Dense allreduce cases: each rank reduces its regenerated input and checks
it against NumPy's reduction of every rank's input."""
import numpy as np

import partial4py
from _worker import digest, main, rank_input, run_cases

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


main(lambda args: run_cases(args, run_case))
