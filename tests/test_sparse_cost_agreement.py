"""auto runs the same algorithm on every rank by construction: its cost
model is agreed with the other arguments, so ranks whose models differ
(another LP_SPARSE_COST_MODEL file, lp_sparse_set_cost_model on one rank)
raise MismatchError on every rank instead of running different algorithms
and hanging. A model file that is named but cannot be read or parsed is an
error on every rank, never a silent fallback to the defaults. Explicit
algorithms do not use the model and keep working."""
import json

import pytest

from mpi_harness import run_mpi

# Moving data is free and messages are dear: at P = 2 recursive_doubling
# (one message; allgather ties and comes later among the candidates).
MESSAGES_DEAR = {"alpha": 1.0, "beta": 0.0, "gamma": 0.0, "delta": 0.0}
# Only sparse entries cost anything: dense, which sorts none.
ENTRIES_DEAR = {"alpha": 0.0, "beta": 0.0, "gamma": 1.0, "delta": 0.0}
DEFAULT_ALPHA = "4e-06"
TIMEOUT = 60


def model_file(tmp_path, name, content):
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return str(path)


def run(nprocs, models, size=4096, nnz=40, set_model=None):
    return run_mpi(nprocs, "sparse_cost_agreement",
                   {"models": models, "size": size, "nnz": nnz, "set": set_model or {}}, timeout=TIMEOUT)


def assert_auto_fails_everywhere(results, error):
    for result in results:
        auto, explicit, auto_again = result["outcomes"]
        for outcome in (auto, auto_again):
            assert outcome["raised"] == error, (result["rank"], outcome)
            assert "Error" in outcome["mro"], outcome
        assert explicit["raised"] is None, (result["rank"], explicit)
        assert result["algorithms"] == ["allgather"]


def test_models_that_pick_different_algorithms_are_a_mismatch(tmp_path):
    """The reproduction: rank 0's model picks recursive_doubling and rank 1's
    picks dense for the same call; before the fix the job hung."""
    models = [model_file(tmp_path, "messages.json", MESSAGES_DEAR), model_file(tmp_path, "entries.json", ENTRIES_DEAR)]
    results = run(2, models)
    assert [r["own_choice"]["algorithm"] for r in results] == ["recursive_doubling", "dense"]
    assert_auto_fails_everywhere(results, "MismatchError")
    for result in results:
        message = result["outcomes"][0]["message"]
        assert message.startswith("cost model alpha differs across ranks: 0 on rank 1, 1 on rank 0"), message
        assert "LP_SPARSE_COST_MODEL" in message and "lp_sparse_set_cost_model" in message, message


def test_the_same_model_on_every_rank_is_used(tmp_path):
    path = model_file(tmp_path, "messages.json", MESSAGES_DEAR)
    for result in run(3, [path]):
        assert [o["raised"] for o in result["outcomes"]] == [None, None, None], result
        # At P = 3 recursive_doubling folds a rank in and out; allgather's two messages win.
        assert result["algorithms"] == ["allgather"] * 3 == [result["own_choice"]["algorithm"]] * 3
        assert result["get_model"]["raised"] is None


def test_the_setter_on_one_rank_is_a_mismatch():
    results = run(3, [None], set_model={"2": ENTRIES_DEAR})
    assert {r["own_choice"]["algorithm"] for r in results} - {"dense"}, "the defaults should not pick dense"
    assert_auto_fails_everywhere(results, "MismatchError")
    for result in results:
        message = result["outcomes"][0]["message"]
        assert message.startswith(f"cost model alpha differs across ranks: 0 on rank 2, {DEFAULT_ALPHA} on rank 0"), \
            message


def test_the_setter_on_every_rank_replaces_an_unreadable_file(tmp_path):
    missing = str(tmp_path / "missing.json")
    for result in run(2, [missing], set_model={"0": MESSAGES_DEAR, "1": MESSAGES_DEAR}):
        assert [o["raised"] for o in result["outcomes"]] == [None, None, None], result
        assert result["algorithms"] == ["recursive_doubling", "allgather", "recursive_doubling"]


def assert_unreadable(results, culprits, reasons):
    """Every rank raises InvalidArgumentError from auto; a culprit's message
    names its file and why, and its own model queries raise too."""
    assert_auto_fails_everywhere(results, "InvalidArgumentError")
    for result in results:
        message = result["outcomes"][0]["message"]
        if result["rank"] in culprits:
            path, reason = reasons[result["rank"]]
            assert path in message and reason in message, (result["rank"], message)
            assert result["get_model"]["raised"] == "InvalidArgumentError", result["get_model"]
            assert path in result["get_model"]["message"]
            assert result["own_choice"]["raised"] == "InvalidArgumentError", result["own_choice"]
        else:
            assert f"rank {min(culprits)} of" in message, message
            assert result["get_model"]["raised"] is None


def test_a_missing_file_on_one_rank_fails_everywhere(tmp_path):
    # Rank 1 used to fall back to the defaults, which pick dense for this
    # filled-in vector, while rank 0's file picks recursive_doubling: a hang.
    missing = str(tmp_path / "no" / "such.json")
    results = run(2, [model_file(tmp_path, "messages.json", MESSAGES_DEAR), missing], size=4096, nnz=8192)
    assert results[0]["own_choice"]["algorithm"] == "recursive_doubling"
    assert_unreadable(results, {1}, {1: (missing, "No such file or directory")})


MALFORMED = [
    ("not json at all", "not a JSON object"),
    ('{"alpha": "4e-6"}', '"alpha" is not a finite number >= 0'),
    ('{"alpha": -1.0}', '"alpha" is not a finite number >= 0'),
    ('{"alpha": 1e-6, "beta"', "not a JSON object"),
    ('{"alpha": 1e-6x}', '"alpha" is not a finite number >= 0'),
    ('{"mpi": "Open MPI"}', "names none of alpha, beta, gamma, delta"),
    ("{}", "names none of alpha, beta, gamma, delta"),
]


def test_a_malformed_file_on_one_rank_fails_everywhere(tmp_path):
    # Rank 1 used to ignore the bad value and keep the defaults, which pick
    # recursive_doubling here, while rank 0's file picks dense: a hang.
    content, reason = MALFORMED[1]
    bad = model_file(tmp_path, "bad.json", content)
    results = run(2, [model_file(tmp_path, "entries.json", ENTRIES_DEAR), bad], size=512, nnz=2)
    assert results[0]["own_choice"]["algorithm"] == "dense"
    assert_unreadable(results, {1}, {1: (bad, reason)})


@pytest.mark.parametrize("first", [0, 4])
def test_malformed_files_on_every_rank_fail_everywhere(tmp_path, first):
    cases = MALFORMED[first:first + 4] if first == 0 else MALFORMED[first:] + MALFORMED[:1]
    paths = [model_file(tmp_path, f"bad{i}.json", content) for i, (content, _) in enumerate(cases)]
    results = run(4, paths)
    assert_unreadable(results, {0, 1, 2, 3}, {i: (paths[i], reason) for i, (_, reason) in enumerate(cases)})
