"""size = 2**40 (int64 indices, no 32-bit arithmetic anywhere), and the cost
model with its calibration command."""
import json

from mpi_harness import run_mpi


def test_size_two_to_the_forty():
    for nprocs in (3, 4):
        results = run_mpi(nprocs, "sparse_huge", {
            "sparse": ["recursive_doubling", "split_allgather", "allgather", "auto"],
            "dense": ["dense", "dsar"]})
        for result in results:
            for outcome in result["outcomes"]:
                assert outcome["raised"] == "OutOfMemoryError", outcome
                assert "Error" in outcome["mro"]


PROBLEMS = [[2**24, 2**24 // 100, 2], [2**20, 2**20, 4], [2**40, 8, 4], [2**16, 20, 8]]


def test_cost_model_defaults_pick_sensible_algorithms():
    picks = run_mpi(1, "sparse_cost", {"problems": PROBLEMS})[0]["picks"]
    assert picks["1048576:1048576:4"] in ("dense", "dsar")            # filled in
    assert picks["1099511627776:8:4"] not in ("dense", "dsar")        # could not even be held
    assert picks["16777216:167772:2"] != "dense"                      # 1 %: sparse wins


def test_calibration_file_is_written_and_read(tmp_path):
    path = tmp_path / "cost.json"
    result = run_mpi(2, "sparse_cost", {"problems": PROBLEMS, "calibrate": str(path)})[0]
    written = json.loads(path.read_text())
    assert written == result["written"]
    for key in ("alpha", "beta", "gamma", "delta"):
        assert written[key] > 0, (key, written)
    # Constants that make moving bytes free and messages dear: every problem
    # now goes to the algorithm with the fewest messages, which proves the
    # library read the file.
    path.write_text(json.dumps({"alpha": 1.0, "beta": 0.0, "gamma": 0.0, "delta": 0.0}))
    seconds_free = run_mpi(1, "sparse_cost", {"problems": PROBLEMS},
                           env={"LP_SPARSE_COST_MODEL": str(path)})[0]["seconds"]
    defaults = run_mpi(1, "sparse_cost", {"problems": PROBLEMS})[0]["seconds"]
    assert seconds_free != defaults
    assert seconds_free["recursive_doubling"] == 1.0   # P=2: one message
    assert seconds_free["allgather"] == 1.0


def test_fit_recovers_constants_that_choose_the_best_everywhere():
    # Messages 4x dearer and merges 2x cheaper than the defaults: grid points
    # of the fit, which starts from the defaults, where they choose wrongly.
    scale = {"alpha": 4.0, "beta": 1.0, "gamma": 0.5, "delta": 1.0}
    fit = run_mpi(1, "sparse_cost", {"fit_truth_scale": scale})[0]["fit"]
    assert fit["before"] > 1.0
    assert fit["after"] == 1.0
    assert fit["restored"]
    assert fit["negative_rejected_with"] == "InvalidArgumentError"
