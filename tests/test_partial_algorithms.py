"""Partial allreduce, the reduction algorithms: ring and halving_doubling
give exact int64 sums (NumPy's) and the same bits on every rank, for any
count (smaller than P included) and P, on sub-communicators too; auto
follows the cost model; and the counters show the dependent steps and
messages of a round growing as the algorithm says (log P for
halving_doubling)."""
import json
import math
import os
import subprocess
import sys

import pytest
from hypothesis import given, settings, strategies as st

from mpi_harness import run_mpi

ALGORITHMS = ["ring", "halving_doubling"]


def expected_steps(algorithm, nprocs):
    if nprocs == 1:
        return 0
    if algorithm == "ring":
        return 2 * (nprocs - 1)
    group = 2 ** int(math.log2(nprocs))
    return 2 * int(math.log2(group)) + 2 * (nprocs > group)


def expected_messages_per_round(algorithm, nprocs):
    """Summed over ranks, for a vector that fits one MPI message."""
    if nprocs == 1:
        return 0
    if algorithm == "ring":
        return nprocs * 2 * (nprocs - 1)
    group = 2 ** int(math.log2(nprocs))
    extra = nprocs - group
    return group * 2 * int(math.log2(group)) + 2 * extra  # the fold and the unfold: one message per extra rank each


def check_exact_and_identical(results, cases, algorithm):
    for index, case in enumerate(cases):
        outcomes = [r["outcomes"][index] for r in results]
        assert all(o["exact"] for o in outcomes), case
        assert all(o["digests"] == outcomes[0]["digests"] for o in outcomes), f"ranks disagree on {case}"
        if results[0]["size"] > 1:
            assert {o["algorithm"] for o in outcomes} == {algorithm}


def cases_of(counts, seed, nprocs, algorithm):
    edge = [0, 1, max(nprocs - 1, 1), 3 * nprocs + 1]
    return [{"count": count, "calls": 6, "seed": seed + i, "algorithm": algorithm}
            for i, count in enumerate(edge + counts)] + \
           [{"count": 999, "calls": 6, "seed": seed, "algorithm": algorithm, "dtype": "float32"}]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("nprocs", [1, 2, 3, 4, 5, 6, 7, 8])
@settings(max_examples=2, deadline=None)
@given(counts=st.lists(st.integers(0, 5000), min_size=1, max_size=3), seed=st.integers(0, 2**30))
def test_exact_sums_and_identical_bits(nprocs, algorithm, counts, seed):
    cases = cases_of(counts, seed, nprocs, algorithm)
    results = run_mpi(nprocs, "partial_algorithms", {"cases": cases}, timeout=180)
    check_exact_and_identical(results, cases, algorithm)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("nprocs", [5, 7])
def test_on_sub_communicators(nprocs, algorithm):
    cases = cases_of([257], 11, nprocs, algorithm)
    results = run_mpi(nprocs, "partial_algorithms", {"cases": cases, "split": True}, timeout=180)
    for color in (0, 1):
        group = [r for r in results if r["color"] == color]
        assert group and all(r["size"] == len(group) for r in group)
        check_exact_and_identical(group, cases, algorithm)


@pytest.mark.parametrize("nprocs", [2, 3, 4, 5, 8, 16, 32])
def test_counters_of_a_1kib_round(nprocs):
    """auto at 1 KiB: at most 2 ceil(log2 P) + 2 dependent steps, and
    exactly the steps and messages of the algorithm the model picks."""
    calls = 10
    case = {"count": 256, "calls": calls, "seed": 5, "dtype": "float32"}
    results = run_mpi(nprocs, "partial_algorithms", {"cases": [case]}, timeout=300)
    from partial4py.partial import select_algorithm
    algorithm = select_algorithm(256, nprocs, "float32")
    messages = 0
    for result in results:
        outcome = result["outcomes"][0]
        before, after = outcome["before"], outcome["after"]
        assert outcome["algorithm"] == after["algorithm_last_round"] == algorithm
        assert after["rounds"] - before["rounds"] == calls + 1  # the flush is a round too
        assert after["reduction_steps_last_round"] == expected_steps(algorithm, nprocs)
        assert after["reduction_steps_last_round"] <= 2 * math.ceil(math.log2(nprocs)) + 2
        # The trigger's atomics, one per call with one_sided; none with point_to_point.
        assert after["rma_operations"] - before["rma_operations"] == (calls if after["trigger"] == "one_sided" else 0)
        messages += after["reduction_messages_sent"] - before["reduction_messages_sent"]
    assert messages == (calls + 1) * expected_messages_per_round(algorithm, nprocs)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_forced_algorithm_counts(algorithm):
    """A forced algorithm at P=6 (not a power of two) takes its own steps."""
    case = {"count": 256, "calls": 4, "seed": 3, "algorithm": algorithm}
    results = run_mpi(6, "partial_algorithms", {"cases": [case]}, timeout=180)
    total = sum(r["outcomes"][0]["after"]["reduction_messages_sent"] for r in results)
    assert total == 5 * expected_messages_per_round(algorithm, 6)
    assert {r["outcomes"][0]["after"]["reduction_steps_last_round"] for r in results} == \
        {expected_steps(algorithm, 6)}


def test_environment_picks_the_algorithm():
    results = run_mpi(3, "partial_algorithms", {"cases": [{"count": 64, "calls": 3, "seed": 1}]},
                      env={"LP_PARTIAL_ALGORITHM": "ring"})
    assert {r["outcomes"][0]["algorithm"] for r in results} == {"ring"}


def test_a_bad_environment_name_raises_on_every_rank():
    results = run_mpi(3, "partial_algorithms", {"create_only": True}, env={"LP_PARTIAL_ALGORITHM": "butterfly"})
    for result in results:
        assert "InvalidArgumentError" in result["outcome"]["mro"], result
        assert "LP_PARTIAL_ALGORITHM=butterfly" in result["outcome"]["message"]


def model_seconds(algorithm, count, width, nprocs, alpha, beta, delta):
    """The cost model of docs/partial.md, written out independently."""
    if nprocs == 1:
        return 0.0
    n = count * width
    if algorithm == "ring":
        p = nprocs
        return 2 * (p - 1) * alpha + 2 * (p - 1) / p * n * beta + (p - 1) / p * n * delta
    group = 2 ** int(math.log2(nprocs))
    f = 1 if nprocs > group else 0
    return ((2 * math.log2(group) + 2 * f) * alpha + (2 * (group - 1) / group + 2 * f) * n * beta
            + ((group - 1) / group + f + 1) * n * delta)


def test_auto_follows_the_cost_model(tmp_path):
    constants = {"alpha": 5e-6, "beta": 1e-9, "delta": 2e-10}
    model = tmp_path / "model.json"
    model.write_text(json.dumps(constants))
    grid = [(count, nprocs) for count in (0, 1, 256, 4096, 65536, 1 << 20, 1 << 24)
            for nprocs in (1, 2, 3, 4, 6, 8, 32)]
    script = ("import json, sys\nfrom partial4py.partial import predict_seconds, select_algorithm\n"
              f"grid = {grid!r}\n"
              "print(json.dumps([[select_algorithm(c, p, 'float32'), predict_seconds('ring', c, p, 'float32'),"
              " predict_seconds('halving_doubling', c, p, 'float32'), predict_seconds('auto', c, p, 'float32')]"
              " for c, p in grid]))")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True,
                         env={**os.environ, "LP_SPARSE_COST_MODEL": str(model)})
    chosen_both = set()
    for (count, nprocs), (chosen, ring, halving, auto) in zip(grid, json.loads(out.stdout)):
        want_ring = model_seconds("ring", count, 4, nprocs, **constants)
        want_halving = model_seconds("halving_doubling", count, 4, nprocs, **constants)
        assert ring == pytest.approx(want_ring, rel=1e-12, abs=1e-18)
        assert halving == pytest.approx(want_halving, rel=1e-12, abs=1e-18)
        assert chosen == ("halving_doubling" if want_halving < want_ring else "ring"), (count, nprocs)
        assert auto == min(ring, halving)
        chosen_both.add(chosen)
    assert chosen_both == set(ALGORITHMS)  # the grid crosses the switch point


def test_bad_names_raise():
    from partial4py import InvalidArgumentError
    from partial4py.partial import predict_seconds
    with pytest.raises(InvalidArgumentError, match="butterfly"):
        predict_seconds("butterfly", 10, 2)
