"""Quantized allreduce cases: each rank rebuilds every rank's input and
checks its result against the exact sum, within the error that the
quantization can make (one level per stage), and the statistics of many
calls against the documented bias and variance bounds."""
import numpy as np
from mpi4py import MPI

import partial4py
import partial4py.compress
from _worker import digest, main, rank_input, report, run_cases


def levels(bits):
    return 2 ** (bits - 1) - 1


def bucket_starts(count, bucket_size):
    return np.arange(0, count, bucket_size)


def scales(x, bucket_size, scale):
    """Each bucket's float32 scale, as the library computes it."""
    x = x.astype(np.float32)
    starts = bucket_starts(x.size, bucket_size)
    if scale == "max":
        return np.maximum.reduceat(np.abs(x), starts).astype(np.float64)
    return np.sqrt(np.add.reduceat(x.astype(np.float64) ** 2, starts)).astype(np.float32).astype(np.float64)


def owners(nbuckets, nprocs):
    """The rank that reduces each bucket: block j holds buckets nb*j//P up to nb*(j+1)//P."""
    firsts = [nbuckets * j // nprocs for j in range(nprocs + 1)]
    return np.searchsorted(firsts, np.arange(nbuckets), side="right") - 1


def bounds(inputs, bits, bucket_size, scale):
    """(error bound, variance bound) per element of the result.

    Stage one: each rank but the owner rounds by less than one level step
    s/L of its bucket, with variance at most step^2/4. Stage two: the owner
    rounds the sum by less than S/L, S a bound on the scale of that sum.
    """
    count, nprocs, L = inputs[0].size, len(inputs), levels(bits)
    starts = bucket_starts(count, bucket_size)
    lengths = np.diff(np.append(starts, count))
    owner = owners(starts.size, nprocs)
    steps = np.stack([scales(x, bucket_size, scale) / L for x in inputs])  # rank x bucket
    quantized = np.arange(nprocs)[:, None] != owner[None, :]
    stage_one = np.where(quantized, steps, 0.0)
    if scale == "max":
        sum_scale = (steps * L).sum(axis=0)
    else:
        norms = steps * L
        sum_scale = (norms + np.where(quantized, np.sqrt(lengths) * steps, 0.0)).sum(axis=0)
    error = stage_one.sum(axis=0) + sum_scale / L
    variance = (stage_one ** 2).sum(axis=0) / 4 + (sum_scale / L) ** 2 / 4
    magnitude = np.sum([np.abs(x.astype(np.float64)) for x in inputs], axis=0)
    slack = 1e-5 * (magnitude + np.repeat(sum_scale, lengths))  # float32 arithmetic
    return np.repeat(error, lengths) + slack, np.repeat(variance, lengths)


def call(case, send, comm, qseed):
    arguments = {"bits": case["bits"], "bucket_size": case["bucket_size"], "seed": qseed, "scale": case["scale"],
                 "comm": comm}
    mode = case.get("mode", "blocking")
    if mode == "in_place":
        buffer = send.copy()
        result = partial4py.quantized_allreduce(MPI.IN_PLACE, buffer, **arguments)
        assert result is buffer or np.shares_memory(result, buffer)
        return result
    if mode == "nonblocking":
        request = partial4py.iquantized_allreduce(send, **arguments)
        while not request.test():
            pass
        return request.wait()
    return partial4py.quantized_allreduce(send, **arguments)


def inputs_of(case, size):
    return [rank_input(case["seed"], r, case["count"], case["dtype"], -100, 100) for r in range(size)]


def run_case(case, comm):
    size, rank = comm.Get_size(), comm.Get_rank()
    inputs = inputs_of(case, size)
    kept = inputs[rank].copy()
    result = call(case, inputs[rank], comm, case.get("qseed", 0))
    assert np.array_equal(inputs[rank], kept), "the input changed"
    assert result.dtype == np.dtype(case["dtype"]) and result.shape == (case["count"],)
    if size == 1:
        assert np.array_equal(result, kept), "one rank returns its input"
    elif case["count"]:
        exact = np.sum([x.astype(np.float64) for x in inputs], axis=0)
        error, _ = bounds(inputs, case["bits"], case["bucket_size"], case["scale"])
        worst = np.abs(result - exact) - error
        assert worst.max() <= 0, f"error beyond the bound by {worst.max()} at {worst.argmax()}"
    return digest(result)


def statistics(args, comm):
    """Mean and variance of trials calls on the same inputs (seeds from
    first_seed on), against the bounds."""
    size, case = comm.Get_size(), args["case"]
    inputs = inputs_of(case, size)
    seeds = range(args.get("first_seed", 0), args.get("first_seed", 0) + args["trials"])
    results = np.stack([call(case, inputs[comm.Get_rank()], comm, seed) for seed in seeds])
    exact = np.sum([x.astype(np.float64) for x in inputs], axis=0)
    _, variance = bounds(inputs, case["bits"], case["bucket_size"], case["scale"])
    mean = results.astype(np.float64).mean(axis=0)
    sample_variance = results.astype(np.float64).var(axis=0, ddof=1)
    standard_error = np.sqrt(variance / args["trials"])
    # A rounding that shrinks (or grows) magnitudes moves every element the
    # same way relative to its sign: summed over the elements, such a bias
    # stands out far sooner than in any one of them.
    toward_larger = np.sum(np.sign(exact) * (mean - exact)) / np.sqrt(np.sum(variance) / args["trials"])
    return {"z": float(np.max(np.abs(mean - exact) / standard_error)), "magnitude_z": float(toward_larger),
            "bias_over_error": float(np.abs(mean - exact).max() / np.abs(exact).max()),
            "variance_ratio": float(sample_variance.sum() / variance.sum()),
            "max_variance_ratio": float(np.max(sample_variance / variance)),
            "quantized": bool(np.any(sample_variance > 0)),
            "digest": digest(results)}


def edges(args, comm):
    """All-zero buckets stay exact zeros; a NaN or an infinity on one rank
    makes its bucket NaN on every rank, and only that bucket."""
    size, rank = comm.Get_size(), comm.Get_rank()
    case = dict(args["case"], mode="blocking")
    zeros = call(case, np.zeros(case["count"], case["dtype"]), comm, 0)
    inputs = inputs_of(case, size)
    poisoned = {0: np.nan, 2: np.inf, 3: -np.inf}  # bucket -> value, on the last rank
    bucket_size = case["bucket_size"]
    if rank == size - 1:
        for bucket, value in poisoned.items():
            inputs[rank][bucket * bucket_size + 1] = value
    result = call(case, inputs[rank], comm, 0)
    nan_buckets = sorted({int(i) // bucket_size for i in np.flatnonzero(np.isnan(result))})
    whole = all(np.isnan(result[b * bucket_size:(b + 1) * bucket_size]).all() for b in nan_buckets)
    return {"zeros_exact": bool(np.array_equal(zeros, np.zeros_like(zeros)) and not np.signbit(zeros).any()),
            "nan_buckets": nan_buckets, "whole_buckets": whole, "digest": digest(result),
            "others_finite": bool(np.isfinite(np.delete(result, np.flatnonzero(np.isnan(result)))).all())}


def feedback(args, comm):
    """Steps of QSGDCompressor with error feedback: what the results missed
    is in the residuals, so the results plus every rank's residual make the
    exact sum of every gradient of every step."""
    size, rank, case = comm.Get_size(), comm.Get_rank(), args["case"]
    compressor = partial4py.compress.QSGDCompressor(case["count"], bits=case["bits"],
                                                    bucket_size=case["bucket_size"], dtype=case["dtype"],
                                                    scale=case["scale"], seed=3, error_feedback=True)
    results, exact = 0.0, 0.0
    for step in range(args["steps"]):
        inputs = [rank_input(case["seed"] + step, r, case["count"], case["dtype"], -100, 100) for r in range(size)]
        results = results + compressor.allreduce(inputs[rank], comm=comm).astype(np.float64)
        exact = exact + np.sum([x.astype(np.float64) for x in inputs], axis=0)
    residuals = comm.allreduce(compressor.residual.astype(np.float64))
    missed = np.abs(results + residuals - exact).max()
    plain = partial4py.compress.QSGDCompressor(case["count"], bits=case["bits"], dtype=case["dtype"])
    plain_error = np.abs(plain.allreduce(inputs[rank], comm=comm) - np.sum(inputs, axis=0)).max()
    return {"missed": float(missed), "scale": float(np.abs(exact).max()), "digest": digest(results),
            "residual_nonzero": bool(np.any(compressor.residual != 0)), "plain_error": float(plain_error)}


def body(args):
    world = MPI.COMM_WORLD
    if "cases" in args:
        run_cases(args, run_case)
        return
    kind = {"statistics": statistics, "edges": edges, "feedback": feedback}[args["kind"]]
    report(**kind(args, world))


main(body)
