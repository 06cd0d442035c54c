"""Sparse allreduce cases: each rank regenerates every rank's (indices,
values) from (seed, rank), runs every algorithm, and checks the result
against NumPy's dense sum of all ranks' inputs. Digests of the results go
back to the launcher, which checks that every rank got the same bits."""
import gc

import numpy as np
from mpi4py import MPI

import partial4py
from _worker import digest, main, report, run_cases

ALGORITHMS = ["recursive_doubling", "split_allgather", "dsar", "allgather", "dense", "auto"]
AUTO_CHOICES = []  # per auto call: [what this rank's own count would choose, what auto chose]


def sparse_input(case, rank):
    """Unsorted, with repeats: nnz draws of indices in [0, size)."""
    rng = np.random.default_rng([case["seed"], rank])
    size, dtype = case["size"], np.dtype(case["dtype"])
    density = case["density"]
    if isinstance(density, list):  # one density per rank, cycled
        density = density[rank % len(density)]
    if density == "one":
        nnz = 1
    else:
        # Ranks differ in how many entries they hold; up to 1.5 x size, so
        # that the densest cases cover every index and repeat some.
        nnz = int(round(density * size * rng.uniform(0.5, 1.5)))
    if density != "one" and density >= 1.0:
        indices = np.concatenate([rng.permutation(size), rng.integers(0, size, nnz - size if nnz > size else 0)])
    else:
        indices = rng.integers(0, size, nnz)
    if dtype.kind == "f":
        values = rng.uniform(-1000, 1000, indices.size).astype(dtype)
    else:
        values = rng.integers(-1000, 1000, indices.size, endpoint=True).astype(dtype)
    return indices.astype(case["index_dtype"]), values


def reference(case, nprocs):
    wide = np.float64 if np.dtype(case["dtype"]).kind == "f" else np.int64
    total = np.zeros(case["size"], wide)
    for r in range(nprocs):
        indices, values = sparse_input(case, r)
        np.add.at(total, indices, values.astype(wide))
    return total


def check_result(result, case, expected, algorithm):
    dtype = np.dtype(case["dtype"])
    assert result.values.dtype == dtype, (result.values.dtype, dtype)
    assert result.size == case["size"]
    if algorithm != "auto":
        assert result.algorithm == algorithm, (result.algorithm, algorithm)
    if result.is_dense:
        assert result.indices is None and result.values.shape == (case["size"],)
    else:
        assert result.indices.dtype == np.dtype(case["index_dtype"])
        assert result.indices.shape == result.values.shape
        assert np.all(np.diff(result.indices.astype(np.int64)) > 0), "indices not sorted and unique"
    check_values(result.to_dense(), case, expected)


def check_values(dense, case, expected):
    dtype = np.dtype(case["dtype"])
    assert dense.dtype == dtype and dense.shape == (case["size"],)
    if dtype.kind == "f":
        # Within the rounding of the float64 reference.
        tolerance = 2e-2 if dtype == np.float32 else 1e-9
        np.testing.assert_allclose(dense, expected, rtol=1e-5, atol=tolerance)
    else:
        np.testing.assert_array_equal(dense, expected.astype(dtype))


def run_case(case, comm):
    rank, nprocs = comm.Get_rank(), comm.Get_size()
    expected = reference(case, nprocs)
    indices, values = sparse_input(case, rank)
    digests = []
    for algorithm in case.get("algorithms", ALGORITHMS):
        if case["mode"] == "nonblocking":
            request = partial4py.isparse_allreduce(indices, values, case["size"], comm=comm, algorithm=algorithm)
            while not request.test():
                pass
            result = request.wait()
        else:
            result = partial4py.sparse_allreduce(indices, values, case["size"], comm=comm, algorithm=algorithm)
        check_result(result, case, expected, algorithm)
        if algorithm == "auto":
            # What this rank's own entry count alone would have chosen, beside the choice.
            own = partial4py.sparse.select_algorithm(case["size"], indices.size, nprocs, case["dtype"])
            AUTO_CHOICES.append([own, result.algorithm])
        # The arrays are views of the C result's memory: they must outlive
        # the result object.
        dense, result_indices = result.to_dense(), result.indices
        del result
        gc.collect()
        check_values(dense, case, expected)
        digests.append(digest(dense) + ("" if result_indices is None else digest(result_indices)))
    return digests


def concurrent_on_two_comms(cases, world):
    """The same cases on a split half and on a duplicate of world, both in
    flight at once, completed in the opposite order."""
    half = world.Split(world.Get_rank() % 2, world.Get_rank())
    dup = world.Dup()
    digests = []
    for case in cases:
        requests = []
        for comm in (half, dup):
            indices, values = sparse_input(case, comm.Get_rank())
            requests.append((comm, partial4py.isparse_allreduce(indices, values, case["size"], comm=comm,
                                                                algorithm=case["algorithms"][0])))
        for comm, request in reversed(requests):
            result = request.wait()
            check_result(result, case, reference(case, comm.Get_size()), case["algorithms"][0])
            digests.append(digest(result.to_dense()))
    half.Free()
    dup.Free()
    return digests


def body(args):
    world = MPI.COMM_WORLD
    if args.get("concurrent"):
        report(digests=concurrent_on_two_comms(args["cases"], world), color=world.Get_rank() % 2)
        return
    run_cases(args, run_case, auto_choices=AUTO_CHOICES)


main(body)
