"""Training steps of a small ResNet with partial4py.torch.DistributedOptimizer, against torch DistributedDataParallel over gloo in the same run.

Every rank trains the same network (``--width``; 32x32 synthetic batches of
``--batch`` images, made once) with SGD, for each of ``-M``: ``ddp``
(DistributedDataParallel, gloo, buckets of ``--bucket-kib``), and our
``sync``, ``solo``, ``majority`` and ``topk`` (the same bucket size), each
with its rounds started from gradient hooks during backward (overlap on)
and in ``step()`` (off). One ``-I`` straggler per step sleeps ``-e`` ms more
before its forward pass. The "compute" loop runs the same steps without
any communication: its time is a rank's that never waits, the limit of the
partial modes, and Exposed is a mode's step time minus it. Then each
configuration trains a fresh network for ``--epochs`` on scikit-learn's
digits (8x8 images, sharded over the ranks, the same straggler; partial
modes flush after each epoch): Accuracy is its test accuracy (the mean over
the ranks, whose BatchNorm statistics are their own) and Train the seconds
that took. The Size column is the gradient's bytes; ``-m`` is not used.
``-c`` checks that every rank ends with the same parameters.
"""
import contextlib
import hashlib
import itertools
import time

from mpi4py import MPI

from ._osu import Report, time_loop
from .partial import stragglers

MODES = ("ddp", "sync", "solo", "majority", "topk")


def add_options(parser):
    parser.add_argument("-M", dest="modes", default=",".join(MODES), help="comma-separated subset of " + ",".join(MODES))
    parser.add_argument("-e", dest="extra_ms", type=float, default=0.0, help="a straggler's extra sleep per step (ms)")
    parser.add_argument("-I", dest="imbalance", default="random:1", help="random:K or fixed:R stragglers")
    parser.add_argument("-S", dest="seed", type=int, default=1)
    parser.add_argument("--overlap", choices=["both", "on", "off"], default="both",
                        help="our modes with rounds started during backward, in step(), or both")
    parser.add_argument("--width", type=int, default=32, help="channels of the first stage")
    parser.add_argument("--batch", type=int, default=16, help="images per rank and step")
    parser.add_argument("--bucket-kib", dest="bucket_kib", type=int, default=256, help="gradient bucket size")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per rank")
    parser.add_argument("--density", type=float, default=0.01, help="topk's density")
    parser.add_argument("--epochs", type=int, default=3, help="epochs on the digits for Accuracy (0: none)")
    parser.add_argument("--lr", type=float, default=0.05, help="SGD's learning rate (momentum 0.9)")
    parser.set_defaults(iterations=20, warmup=3)


class _Steps:
    """One rank's training steps: straggle if chosen, forward, backward, step."""

    def __init__(self, args, comm, model, optimizer, batch):
        self.args, self.comm, self.model, self.optimizer = args, comm, model, optimizer
        self.x, self.y = batch
        self.round = 0

    def __call__(self):
        import torch
        if self.args.extra_ms and self.comm.Get_rank() in stragglers(self.args.imbalance, self.args.seed, self.round,
                                                                     self.comm.Get_size()):
            time.sleep(self.args.extra_ms / 1000)
        self.round += 1
        self.optimizer.zero_grad()
        torch.nn.functional.cross_entropy(self.model(self.x), self.y).backward()
        self.optimizer.step()


def _digits(comm, seed):
    """This rank's shard of the digits' training set and the test set, as
    NumPy arrays (the demos' data)."""
    from ..demo._model import load_shards
    return load_shards(comm.Get_rank(), comm.Get_size(), seed)


def _train_on_digits(args, comm, model, steps, digits, flush):
    """(mean test accuracy over the ranks, seconds) of ``--epochs`` epochs."""
    import torch

    from ..demo._model import batches

    def images(x):
        return torch.from_numpy(x).reshape(-1, 1, 8, 8)
    (x, y), (x_test, y_test) = digits
    # Shards differ by one image at most: every rank takes the smallest one's steps.
    per_epoch = comm.allreduce(len(x) // args.batch, op=MPI.MIN)
    comm.Barrier()
    started = time.perf_counter()
    for epoch in range(args.epochs):
        for x_batch, y_batch in itertools.islice(batches(x, y, args.batch, epoch, args.seed), per_epoch):
            steps.x, steps.y = images(x_batch), torch.from_numpy(y_batch)
            steps()
        flush()
    comm.Barrier()
    seconds = time.perf_counter() - started
    model.eval()
    with torch.no_grad():
        accuracy = float((model(images(x_test)).argmax(1) == torch.from_numpy(y_test)).double().mean())
    model.train()
    return comm.allreduce(accuracy) / comm.Get_size(), seconds


def _same_on_every_rank(model, comm):
    digest = hashlib.sha256(b"".join(p.detach().numpy().tobytes() for p in model.parameters())).hexdigest()
    return len(set(comm.allgather(digest))) == 1


def run(args, comm=MPI.COMM_WORLD):
    import torch

    import partial4py.torch as ptorch

    from ._resnet import ResNet
    torch.set_num_threads(args.threads)
    rank = comm.Get_rank()
    generator = torch.Generator().manual_seed(1000 + rank)
    synthetic = (torch.randn(args.batch, 3, 32, 32, generator=generator),
                 torch.randint(0, 10, (args.batch,), generator=generator))
    digits = _digits(comm, args.seed) if args.epochs > 0 else None
    bucket_bytes = args.bucket_kib * 1024

    def fresh_model(channels=3):
        torch.manual_seed(args.seed)  # the same initial parameters on every rank
        return ResNet(args.width, channels)

    def sgd(params, lr=0.01):
        return torch.optim.SGD(params, lr=lr, momentum=0.9)

    nbytes = 4 * sum(p.numel() for p in fresh_model().parameters())
    modes = args.modes.split(",")
    report = Report("OSU-style Training Step Test (partial4py.torch.DistributedOptimizer, ResNet)", args, comm,
                    notes=[f"ResNet width {args.width}, {nbytes // 4} parameters, batch {args.batch}/rank, "
                           f"{args.threads} torch thread(s)/rank, buckets {args.bucket_kib} KiB, SGD",
                           f"Straggler: +{args.extra_ms:g} ms/step, {args.imbalance}",
                           "Compute: the same steps without communication, a rank that never waits",
                           "Exposed: step time minus compute; Speedup: DDP's step time over this one's",
                           f"Accuracy: on the digits' test set after {args.epochs} epoch(s), lr {args.lr:g}; "
                           "Train: their seconds"],
                    extra_columns=["Compute(us)", "Exposed(us)", "DDP(us)", "Speedup", "Accuracy(%)", "Train(s)"],
                    params={"width": args.width, "batch": args.batch, "bucket_kib": args.bucket_kib,
                            "extra_ms": args.extra_ms, "imbalance": args.imbalance, "threads": args.threads,
                            "epochs": args.epochs, "lr": args.lr})

    def measure(wrap, flush=lambda optimizer: None, train=True):
        """(step timing, accuracy, seconds, valid) of one configuration;
        wrap(model) gives (the module to call, its optimizer), to be closed."""
        model = fresh_model()
        module, optimizer = wrap(model)
        with _closing(optimizer):
            timing = time_loop(_Steps(args, comm, module, optimizer, synthetic), args, comm)
            flush(optimizer)
            valid = _same_on_every_rank(model, comm)
        accuracy, seconds = float("nan"), 0.0
        if train and digits is not None:
            model = fresh_model(channels=1)
            module, optimizer = wrap(model, lr=args.lr)
            with _closing(optimizer):
                steps = _Steps(args, comm, module, optimizer, synthetic)
                accuracy, seconds = _train_on_digits(args, comm, module, steps, digits, lambda: flush(optimizer))
                valid &= _same_on_every_rank(model, comm)
        return timing, 100 * accuracy, seconds, valid

    compute, *_ = measure(lambda model, lr=0.01: (model, sgd(model.parameters(), lr)), train=False)
    ddp = None
    if "ddp" in modes:
        ptorch.init_process_group(backend="gloo", comm=comm)

        def ddp_wrap(model, lr=0.01):
            module = torch.nn.parallel.DistributedDataParallel(model, bucket_cap_mb=bucket_bytes / 2**20)
            return module, sgd(module.parameters(), lr)
        ddp, accuracy, seconds, valid = measure(ddp_wrap)
        torch.distributed.destroy_process_group()
        _row(report, "ddp", None, nbytes, ddp, compute, ddp, accuracy, seconds, valid)
    overlaps = {"both": (True, False), "on": (True,), "off": (False,)}[args.overlap]
    for mode in (m for m in modes if m != "ddp"):
        for overlap in overlaps:
            def ours(model, lr=0.01):
                return model, ptorch.DistributedOptimizer(sgd(model.parameters(), lr), mode=mode, comm=comm,
                                                          bucket_bytes=bucket_bytes, overlap=overlap,
                                                          density=args.density, timeout=300)
            timing, accuracy, seconds, valid = measure(ours, flush=lambda optimizer: optimizer.flush())
            _row(report, mode, overlap, nbytes, timing, compute, ddp, accuracy, seconds, valid)
    report.finish()


def _closing(optimizer):
    """Closes a DistributedOptimizer at the end of the block; a plain torch
    optimizer has nothing to close."""
    return contextlib.closing(optimizer) if hasattr(optimizer, "close") else contextlib.nullcontext()


def _row(report, mode, overlap, nbytes, timing, compute, ddp, accuracy, seconds, valid):
    name = mode if overlap is None else f"{mode}, overlap {'on' if overlap else 'off'}"
    report.note(f"mode {name}")
    ddp_us = ddp[0] if ddp else float("nan")
    report.row(nbytes, timing, (compute[0], timing[0] - compute[0], ddp_us, ddp_us / timing[0], accuracy, seconds),
               valid, mode=mode, overlap=overlap, steps_per_s=1e6 / timing[0], compute_us=compute[0],
               exposed_us=timing[0] - compute[0], ddp_us=ddp_us, accuracy=accuracy, train_s=seconds)
