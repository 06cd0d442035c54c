"""The compression demos train the digits MLP to the dense baseline's
accuracy while sending fewer bytes, and every rank reports the same."""
from mpi_harness import run_mpi


def by_kind(results):
    return {r["kind"]: r for r in results}


def test_qsgd_4_bit_trains_within_half_a_point_of_dense():
    results = run_mpi(4, "demo", {"demo": "qsgd", "options": ["--bits", "8,4", "--epochs", "12"]}, timeout=180)
    # Every rank applies the same sums to the same model: the same accuracy.
    assert len({str([(k["kind"], k["accuracy"]) for k in r["results"]]) for r in results}) == 1, results
    kinds = by_kind(results[0]["results"])
    dense, four, eight = kinds["dense"], kinds["qsgd-4"], kinds["qsgd-8"]
    assert dense["accuracy"] > 0.9, dense
    assert abs(four["accuracy"] - dense["accuracy"]) <= 0.005, (four, dense)
    assert abs(eight["accuracy"] - dense["accuracy"]) <= 0.005, (eight, dense)
    assert dense["bytes_per_step"] / four["bytes_per_step"] > 7.5
    assert "qsgd-4 sends" in results[0]["printed"]


def test_topk_demo_trains_within_a_point_of_dense():
    results = run_mpi(4, "demo", {"demo": "topk", "options": ["--epochs", "12"]}, timeout=180)
    kinds = by_kind(results[0]["results"])
    assert abs(kinds["topk"]["accuracy"] - kinds["dense"]["accuracy"]) <= 0.01, kinds
    assert kinds["dense"]["bytes_per_step"] / kinds["topk"]["bytes_per_step"] > 40
