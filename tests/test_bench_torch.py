"""python -m partial4py.bench torch: every mode, with overlap on and off,
against DDP over gloo in the same run; each row's derived columns follow
from its measured ones, every rank ends with the same parameters, and the
digits are learned (one epoch) to the same accuracy with overlap on and off
in sync and topk mode, whose results do not depend on it."""
import math

import pytest

from mpi_harness import run_mpi

pytest.importorskip("torch", reason="torch is not installed (pip install partial4py[torch])")

ARGV = ["-i", "3", "-x", "1", "-c", "--width", "4", "--batch", "8", "--bucket-kib", "1", "-e", "2", "--epochs", "1"]


@pytest.mark.parametrize("nprocs", [1, 3])
def test_every_mode_and_overlap_is_measured_and_valid(nprocs):
    results = run_mpi(nprocs, "bench_torch", {"argv": ARGV}, timeout=300)
    assert all(r == {**results[0], "rank": r["rank"]} for r in results)
    rows = results[0]["rows"]
    assert results[0]["nprocs"] == nprocs
    assert [(row["mode"], row["overlap"]) for row in rows] == [("ddp", None)] + [
        (mode, overlap) for mode in ("sync", "solo", "majority", "topk") for overlap in (True, False)]
    from partial4py.bench._resnet import ResNet
    float32_bytes = 4 * sum(p.numel() for p in ResNet(4).parameters())
    ddp = rows[0]
    for row in rows:
        assert row["valid"] and row["size"] == float32_bytes, row
        assert math.isclose(row["exposed_us"], row["avg_us"] - row["compute_us"]), row
        assert math.isclose(row["Speedup"], ddp["avg_us"] / row["avg_us"]), row
        assert row["min_us"] <= row["avg_us"] <= row["max_us"], row
        assert 20 < row["accuracy"] <= 100 and row["train_s"] > 0, row  # ten classes: chance is 10%
    accuracy = {(row["mode"], row["overlap"]): row["accuracy"] for row in rows}
    for mode in ("sync", "topk"):
        assert accuracy[mode, True] == accuracy[mode, False], accuracy
