"""Runs many partial-allreduce rounds with random per-rank delays and checks
each result exactly (int64), or records float results for bit-identity.

Every int64 contribution identifies its rank and call: 1 in the rank's slot,
call+1 and (call+1)**2 in two more slots of the rank, and a constant tail
that a vector split across rounds would make uneven. A round's result must
therefore decode, for each rank, into a whole, contiguous run of its calls,
following the run of the previous round; the runs of all rounds plus the
flush must cover every call exactly once."""
import time

import numpy as np
from mpi4py import MPI

import partial4py
from _worker import digest, main, report

TAIL_FILL = 7


def contribution(rank, size, call, count):
    v = np.zeros(count, np.int64)
    v[rank] = 1
    v[size + rank] = call + 1
    v[2 * size + rank] = (call + 1) ** 2
    v[3 * size:] = TAIL_FILL
    return v


class Ledger:
    """Decodes int64 round results against the closed-form reference."""

    def __init__(self, size, count):
        self.size, self.count = size, count
        self.consumed = [0] * size        # calls of each rank accounted so far
        self.total = np.zeros(count, np.int64)

    def account(self, result, info):
        size = self.size
        calls = 0
        for r in range(size):
            n, first = int(result[r]), self.consumed[r]
            run = np.arange(first + 1, first + n + 1, dtype=np.int64)
            assert result[size + r] == run.sum(), f"rank {r}'s calls in round {info.round} are not a whole run"
            assert result[2 * size + r] == (run ** 2).sum(), f"rank {r}'s calls in round {info.round} split"
            self.consumed[r] += n
            calls += n
        assert calls == info.contributions, (calls, info)
        tail = result[3 * size:]
        assert (tail == TAIL_FILL * info.contributions).all(), f"a vector was split in round {info.round}: {tail}"
        self.total += result

    def check_conservation(self, calls):
        expected = sum(contribution(r, self.size, c, self.count) for r in range(self.size) for c in range(calls))
        assert self.consumed == [calls] * self.size, self.consumed
        np.testing.assert_array_equal(self.total, expected)


def run(comm, spec, seed):
    size, rank = comm.Get_size(), comm.Get_rank()
    mode, calls, dtype = spec["mode"], spec["calls"], spec.get("dtype", "int64")
    count = 3 * size + spec.get("tail", 5)
    rng = np.random.default_rng([seed, rank])
    # Each rank has its own pace, and now and then a much longer pause.
    pace = spec.get("delay", 3e-4) * (1 + rank)
    pa = partial4py.PartialAllreduce(count, dtype=dtype, comm=comm, mode=mode,
                                     max_staleness=spec.get("max_staleness", 3), timeout=60,
                                     algorithm=spec.get("algorithm", "auto"), trigger=spec.get("trigger", "auto"))
    ledger = Ledger(size, count)
    rounds, late = [], 0
    recv = np.empty(count, dtype)
    floats = rng.standard_normal((calls, count)).astype(dtype) if dtype != "int64" else None
    for call in range(calls):
        time.sleep(rng.uniform(0, pace) + (0.004 if rng.random() < 0.03 else 0))
        send = contribution(rank, size, call, count) if floats is None else floats[call]
        if call % 5 == 4:
            request = pa.start(send, recv)
            while not request.test():
                time.sleep(1e-4)
            info = request.wait()
        else:
            info = pa.allreduce(send, recv)
        assert info.round == call, (info, call)
        assert info.quorum_met
        late += info.late
        if floats is None:
            ledger.account(recv, info)
        rounds.append([info.round, info.contributions, info.fresh, digest(recv)])
    info = pa.flush(recv)
    assert info.round == calls, info
    if floats is None:
        ledger.account(recv, info)
        ledger.check_conservation(calls)
    rounds.append([info.round, info.contributions, info.fresh, digest(recv)])
    quorum, algorithm, trigger = pa.quorum, pa.algorithm, pa.trigger
    pa.close()
    return {"mode": mode, "quorum": quorum, "algorithm": algorithm, "trigger": trigger, "rounds": rounds, "late": late,
            "total": ledger.total.tolist() if floats is None else None}


def body(args):
    comm = MPI.COMM_WORLD
    outcomes = [run(comm, spec, args.get("seed", 1) + i) for i, spec in enumerate(args["specs"])]
    report(outcomes=outcomes, size=comm.Get_size())


main(body)
