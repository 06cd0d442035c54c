"""Faults of the network between hosts of the test bed (tests/hosts): a
link cut in the middle of a partial allreduce with a timeout. The ranks on
both sides of the cut raise TimeoutError from their call and from close(),
within the timeout plus a margin, and nothing hangs."""
import os
import tempfile
import threading
import time

import pytest

from on_hosts import bed_fixture, run_on_hosts

TIMEOUT = 2.0
MARGIN = 5.0

bed2 = bed_fixture(2)
bed4 = bed_fixture(4)


def wait_for_files(directory, names, seconds):
    deadline = time.monotonic() + seconds
    while not all(os.path.exists(os.path.join(directory, n)) for n in names):
        if time.monotonic() > deadline:
            missing = [n for n in names if not os.path.exists(os.path.join(directory, n))]
            raise AssertionError(f"no {missing} within {seconds} s")
        time.sleep(0.02)


def run_with_a_cut(bed, victim, mode):
    """Runs workers/partial_link_cut.py, cutting victim's link once every
    rank is ready and restoring it once every rank has reported."""
    ranks = range(len(bed.hosts))
    signals = tempfile.mkdtemp(prefix="p4p-cut-")
    outcome = {}

    def launch():
        try:
            outcome["results"] = run_on_hosts(bed, 1, "partial_link_cut",
                                              {"mode": mode, "timeout": TIMEOUT, "signal_dir": signals},
                                              timeout=120)
        except BaseException as exc:  # re-raised in the test's thread
            outcome["error"] = exc

    job = threading.Thread(target=launch)
    job.start()
    try:
        wait_for_files(signals, [f"ready-{r}" for r in ranks], 60)
        bed.cut(victim)
        cut_at = time.monotonic()
        open(os.path.join(signals, "cut"), "w").close()
        wait_for_files(signals, [f"reported-{r}" for r in ranks], 2 * (TIMEOUT + MARGIN) + 10)
        outcome["reported_after"] = time.monotonic() - cut_at
    finally:
        bed.restore(victim)
        open(os.path.join(signals, "restored"), "w").close()
        job.join(timeout=150)
    assert not job.is_alive(), "the job did not end after the link was restored"
    if "error" in outcome:
        raise outcome["error"]
    return outcome


@pytest.mark.parametrize("mode", ["solo", "majority", "sync"])
def test_a_cut_link_times_out_on_both_sides(bed2, mode):
    outcome = run_with_a_cut(bed2, "h1", mode)
    for result in outcome["results"]:
        call, close = result["call"], result["close"]
        assert call["raised"] == "TimeoutError" and "Error" in call["mro"], result
        assert call["elapsed"] <= TIMEOUT + MARGIN, result
        assert close["raised"] == "TimeoutError", result
        assert close["elapsed"] <= TIMEOUT + MARGIN, result


def test_one_host_cut_off_from_four(bed4):
    outcome = run_with_a_cut(bed4, "h3", "majority")
    for result in outcome["results"]:
        assert result["call"]["raised"] == "TimeoutError", result
        assert result["close"]["raised"] == "TimeoutError", result
        assert result["close"]["elapsed"] <= TIMEOUT + MARGIN, result

