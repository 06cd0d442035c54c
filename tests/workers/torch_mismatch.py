"""A DistributedOptimizer whose mode kind or buckets differ on one rank:
every rank must raise MismatchError naming what differs, within the
harness's timeout, and the communicator must still work afterwards.
args["cases"]: [name, rank that differs]."""
import numpy as np
import torch
from mpi4py import MPI

import partial4py
import partial4py.torch
from _worker import main, raised, report


def construct(mode, extra_first=False, extra_last=False):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.Linear(5, 1))
    params = list(model.parameters())
    # An extra parameter first lands in the last bucket, last in the first.
    params = [torch.nn.Parameter(torch.ones(3))] * extra_first + params + [torch.nn.Parameter(torch.ones(2))] * extra_last
    partial4py.torch.DistributedOptimizer(torch.optim.SGD(params, lr=0.1), mode=mode, bucket_bytes=64,
                                          timeout=30).close()


CASES = {
    # (what every rank passes, what the differing rank passes)
    "topk_on_one_rank": ({"mode": "sync"}, {"mode": "topk"}),
    "sync_on_one_rank": ({"mode": "topk"}, {"mode": "sync"}),
    "qsgd_on_one_rank": ({"mode": "topk"}, {"mode": "qsgd"}),
    "topk_extra_bucket": ({"mode": "topk"}, {"mode": "topk", "extra_first": True}),
    "sync_extra_parameter_first": ({"mode": "sync"}, {"mode": "sync", "extra_first": True}),
    "solo_extra_parameter_last": ({"mode": "solo"}, {"mode": "solo", "extra_last": True}),
}


def body(args):
    rank = MPI.COMM_WORLD.Get_rank()
    outcomes = {}
    for name, culprit in args["cases"]:
        common, different = CASES[name]
        outcomes[name] = raised(lambda: construct(**(different if rank == culprit else common)))
    healthy = partial4py.allreduce(np.ones(2, np.int64)).tolist() == [MPI.COMM_WORLD.Get_size()] * 2
    report(outcomes=outcomes, healthy=healthy)


main(body)
