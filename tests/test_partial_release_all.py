"""Partial allreduce, the exit path: release_all() releases every object
still open on this rank alone, without the collective close (as it does by
itself at exit, before mpi4py finalizes MPI). Its threads are gone, the
objects' calls and outstanding requests raise ClosedError, close() and a
second release_all() are harmless, and an object created afterwards
reduces exactly."""
import pytest

from mpi_harness import run_mpi

ROUNDS = 5


@pytest.mark.parametrize("nprocs", [1, 2, 3, 4, 5])
def test_release_all_stops_every_object_and_later_ones_work(nprocs):
    results = run_mpi(nprocs, "partial_release_all", {"rounds": ROUNDS}, timeout=90)
    rank_sum = nprocs * (nprocs + 1) // 2
    for result in results:
        assert result["before"] == ROUNDS * rank_sum, result
        assert result["threads_after"] <= result["threads_before"], result
        for call in ("solo_call", "sync_call"):
            assert result[call]["raised"] == "ClosedError", result
        if result["rank"] == 0 and nprocs > 1:
            assert result["request"]["raised"] == "ClosedError", result
        assert result["again"]["raised"] is None, result
        assert all(closed["raised"] is None for closed in result["closed"]), result
        assert result["after"] == [rank_sum] * 8, result
