"""Bad input to a partial allreduce on one rank: at creation (mismatched
count, dtype, mode, algorithm or trigger, an unknown mode, algorithm or trigger) and at call
time (wrong buffers). Every rank must raise, none may hang, and a failed object still closes."""
import numpy as np
from mpi4py import MPI

import partial4py
from _worker import main, raised, report

COUNT = 16


def creation_case(kind, comm):
    bad = comm.Get_rank() == comm.Get_size() - 1
    options = {"count": COUNT, "dtype": np.float32, "mode": "majority", "algorithm": "halving_doubling",
               "trigger": "one_sided"}
    if bad:
        options.update({"count": {"count": COUNT + 1}, "dtype": {"dtype": np.float64},
                        "mode": {"mode": "sync"}, "unknown_mode": {"mode": "fastest"},
                        "quorum": {"mode": comm.Get_size() + 1}, "algorithm": {"algorithm": "ring"},
                        "unknown_algorithm": {"algorithm": "butterfly"}, "trigger": {"trigger": "point_to_point"},
                        "unknown_trigger": {"trigger": "semaphore"}}[kind])

    def create():
        pa = partial4py.PartialAllreduce(options["count"], dtype=options["dtype"], comm=comm,
                                         mode=options["mode"], algorithm=options["algorithm"],
                                         trigger=options["trigger"], timeout=30)
        pa.close()
    return raised(create)


def bad_buffers(kind):
    return {
        "send_size": (np.ones(COUNT + 1, np.float32), np.empty(COUNT, np.float32)),
        "send_dtype": (np.ones(COUNT, np.float64), np.empty(COUNT, np.float32)),
        "recv_readonly": (np.ones(COUNT, np.float32), np.frombuffer(bytes(4 * COUNT), np.float32)),
        "recv_noncontiguous": (np.ones(COUNT, np.float32), np.empty(2 * COUNT, np.float32)[::2]),
        "send_not_array": ([1.0] * COUNT, np.empty(COUNT, np.float32)),
    }[kind]


def call_case(kind, mode, comm):
    """The last rank's third call is bad; the others call until they raise."""
    bad = comm.Get_rank() == comm.Get_size() - 1
    pa = partial4py.PartialAllreduce(COUNT, dtype=np.float32, comm=comm, mode=mode, max_staleness=4, timeout=30)
    good = (np.ones(COUNT, np.float32), np.empty(COUNT, np.float32))

    def calls():
        for call in range(50):
            send, recv = bad_buffers(kind) if bad and call == 2 else good
            if call % 2:
                pa.start(send, recv).wait()
            else:
                pa.allreduce(send, recv)
    outcome = raised(calls)
    outcome["after"] = raised(lambda: pa.allreduce(*good))  # the object stays failed
    pa.close()
    outcome["closed"] = raised(lambda: pa.allreduce(*good))
    return outcome


def body(args):
    comm = MPI.COMM_WORLD
    outcomes = {}
    for kind in args["creation"]:
        outcomes[f"create-{kind}"] = creation_case(kind, comm)
    for mode in args["modes"]:
        for kind in args["call"]:
            outcomes[f"call-{mode}-{kind}"] = call_case(kind, mode, comm)
    # The library and the communicator are still usable afterwards.
    with partial4py.PartialAllreduce(1, dtype=np.int64, comm=comm, mode="sync", timeout=30) as pa:
        healthy = int(pa.allreduce(np.ones(1, np.int64)).result[0]) == comm.Get_size()
    report(outcomes=outcomes, healthy=healthy)


main(body)
