"""DistributedOptimizer's construction is collective in every mode: a rank
in topk mode among partial ones, or a rank whose parameters make other
buckets, raises MismatchError on every rank instead of leaving its peers
waiting in a collective it never enters."""
import pytest

from mpi_harness import run_mpi

pytest.importorskip("torch", reason="torch is not installed (pip install partial4py[torch])")

CASES = {
    "topk_on_one_rank": "compression (0 none, 1 topk, 2 qsgd) differs across ranks",
    "sync_on_one_rank": "compression (0 none, 1 topk, 2 qsgd) differs across ranks",
    "qsgd_on_one_rank": "compression (0 none, 1 topk, 2 qsgd) differs across ranks",
    "topk_extra_bucket": "the number of buckets differs across ranks",
    "sync_extra_parameter_first": "the number of buckets differs across ranks",
    # An extra parameter in the first bucket changes its size: its
    # PartialAllreduce creation would name the count, but the layout goes first.
    "solo_extra_parameter_last": "the number of gradient elements differs across ranks",
}


@pytest.mark.parametrize("nprocs, culprit", [(2, 1), (3, 0), (5, 3)])
def test_a_layout_that_differs_raises_mismatch_on_every_rank(nprocs, culprit):
    results = run_mpi(nprocs, "torch_mismatch", {"cases": [[name, culprit] for name in CASES]}, timeout=180)
    for r in results:
        assert r["healthy"], r
        for name, message in CASES.items():
            outcome = r["outcomes"][name]
            assert outcome["raised"] == "MismatchError", (r["rank"], name, outcome)
            assert outcome["message"].startswith(message), (r["rank"], name, outcome)
            assert f"on rank {culprit}" in outcome["message"], (r["rank"], name, outcome)
