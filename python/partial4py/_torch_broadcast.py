"""Broadcast helpers for PyTorch training (re-exported by partial4py.torch):
start every rank from the root's parameters and optimizer state, as
Horovod's helpers of the same names do.

Tensors travel as their raw bytes with ``MPI_Bcast``, so every dtype
(bfloat16 and float16 included) arrives bit for bit. Before any tensor
moves, the ranks compare what they are about to broadcast (names, shapes,
dtypes): where they differ, every rank raises MismatchError instead of
some waiting in a broadcast the others never make.
"""
import torch
from mpi4py import MPI

from ._arguments import integer
from .errors import Error, InvalidArgumentError, MismatchError


def _named_tensors(params):
    """(name, tensor) pairs from a state_dict, named_parameters() or tensors."""
    if isinstance(params, dict):
        items = list(params.items())
    else:
        items = list(params)
        if items and all(isinstance(t, torch.Tensor) for t in items):
            items = [(str(i), t) for i, t in enumerate(items)]
    for item in items:
        if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], torch.Tensor)):
            raise InvalidArgumentError("params must be a state_dict, named_parameters() or an iterable of tensors, "
                                       f"not one holding {type(item).__name__}")
    return items


def _layout(items):
    return [(str(name), tuple(t.shape), str(t.dtype)) for name, t in items]


def _agreed(comm, root_rank, prepare=lambda: None):
    """(comm, root, every rank's prepare() result), once the ranks agree
    that every argument is good and name the same root. A rank whose
    arguments are bad, or that named another root, would otherwise leave
    the others waiting in a broadcast it never makes: instead every rank
    raises, naming the rank at fault."""
    comm = MPI.COMM_WORLD if comm is None else comm
    try:
        root = integer(root_rank, "root_rank", 0, comm.Get_size() - 1)
        local, failure = prepare(), None
    except Exception as exc:  # agreed first, then raised on every rank
        kind = type(exc) if isinstance(exc, Error) else InvalidArgumentError
        root, local, failure = None, None, (kind, f"{type(exc).__name__}: {exc}" if kind is not type(exc) else str(exc))
    gathered = comm.allgather((root, failure, local))
    for rank, (_, failed, _) in enumerate(gathered):
        if failed is not None:
            raise failed[0](f"on rank {rank} of {comm.Get_size()}: {failed[1]}")
    roots = [r for r, _, _ in gathered]
    if any(r != roots[0] for r in roots):
        raise MismatchError(f"ranks passed different root_rank values: {roots}")
    return comm, roots[0], [value for _, _, value in gathered]


def _first_difference(values):
    """(rank, description) of the first rank whose value differs from rank 0's, or None."""
    for rank, value in enumerate(values):
        if value != values[0]:
            if isinstance(value, list) and len(value) == len(values[0]):
                ours, theirs = next((a, b) for a, b in zip(values[0], value) if a != b)
            else:
                ours, theirs = values[0], value
            return rank, f"{ours} against {theirs}"
    return None


def _broadcast_tensor(comm, tensor, root):
    """Broadcasts tensor's bytes in place: directly when it is a contiguous
    CPU tensor, else through a contiguous CPU copy."""
    with torch.no_grad():
        target = tensor.detach()
        direct = target.device.type == "cpu" and target.is_contiguous()
        staged = target if direct else target.to("cpu").contiguous()
        if staged.numel():
            comm.Bcast(staged.reshape(-1).view(torch.uint8).numpy(), root=root)
        if not direct:
            target.copy_(staged)


def broadcast_parameters(params, root_rank=0, *, comm=None):
    """Collective: overwrites every rank's tensors with the root's, in place.

    Parameters
    ----------
    params : dict or iterable
        ``model.state_dict()``, ``model.named_parameters()`` or an iterable of
        tensors, in the same order on every rank. CPU and GPU tensors of any
        dtype; a tensor that is not contiguous, or not on the CPU, goes
        through a CPU copy.
    root_rank : int
        The rank whose values every rank gets.
    comm : mpi4py.MPI.Intracomm, optional
        Default ``MPI.COMM_WORLD``.

    Raises
    ------
    MismatchError
        On every rank, where ranks pass different names, shapes, dtypes or
        root_rank values (nothing has been overwritten then).
    InvalidArgumentError
        For a root_rank outside the communicator, or params that hold
        something other than tensors.
    """
    items = []

    def prepare():
        items.extend(_named_tensors(params))
        return _layout(items)

    comm, root, layouts = _agreed(comm, root_rank, prepare)
    difference = _first_difference(layouts)
    if difference is not None:
        raise MismatchError(f"the parameters differ between rank 0 and rank {difference[0]} of {comm.Get_size()}: "
                            f"{difference[1]}")
    for _, tensor in items:
        _broadcast_tensor(comm, tensor, root)


def broadcast_object(obj, root_rank=0, *, comm=None):
    """Collective: returns the root's ``obj`` on every rank (pickled; the
    other ranks' ``obj`` is ignored).

    Parameters
    ----------
    obj : object
        Anything picklable, on the root.
    root_rank : int
        The rank that sends.
    comm : mpi4py.MPI.Intracomm, optional
        Default ``MPI.COMM_WORLD``.

    Returns
    -------
    object
        The root's object (on the root, ``obj`` itself).

    Raises
    ------
    MismatchError
        On every rank, where the ranks pass different root_rank values.
    InvalidArgumentError
        For a root_rank outside the communicator.
    """
    comm, root, _ = _agreed(comm, root_rank)
    received = comm.bcast(obj, root=root)
    return obj if comm.Get_rank() == root else received


def broadcast_optimizer_state(optimizer, root_rank=0, *, comm=None):
    """Collective: gives every rank the root's optimizer state and
    hyperparameters (``optimizer.state_dict()``), loaded in place.

    The state's tensors (Adam's moments, say) are broadcast as bytes; the
    rest of the state dict is pickled. A rank whose optimizer has no state
    yet (no step taken) gets the root's.

    Parameters
    ----------
    optimizer : torch.optim.Optimizer
        The same kind of optimizer over the same parameters on every rank;
        a partial4py.torch.DistributedOptimizer is taken too.
    root_rank : int
        The rank whose state every rank gets.
    comm : mpi4py.MPI.Intracomm, optional
        Default ``MPI.COMM_WORLD``.

    Raises
    ------
    MismatchError
        On every rank, where the ranks' parameter groups differ in size, or
        the ranks pass different root_rank values.
    InvalidArgumentError
        For a root_rank outside the communicator, or an optimizer without
        ``state_dict`` / ``load_state_dict``.
    """
    states = []

    def prepare():
        if not (hasattr(optimizer, "state_dict") and hasattr(optimizer, "load_state_dict")):
            raise InvalidArgumentError("optimizer must have state_dict and load_state_dict, not "
                                       f"{type(optimizer).__name__}")
        states.append(optimizer.state_dict())
        return [len(group["params"]) for group in states[0]["param_groups"]]

    comm, root, groups = _agreed(comm, root_rank, prepare)
    difference = _first_difference(groups)
    if difference is not None:
        raise MismatchError(f"the optimizers' parameter groups differ between rank 0 and rank {difference[0]}: "
                            f"{difference[1]} parameters")
    state = states[0]
    # The structure (which parameters have state, which entries, their
    # shapes and dtypes) comes from the root; then each tensor as bytes.
    is_root = comm.Get_rank() == root
    skeleton = comm.bcast(_state_skeleton(state) if is_root else None, root=root)
    loaded = {"param_groups": skeleton["param_groups"], "state": {}}
    for key, entries in skeleton["state"]:
        slot = {}
        for name, entry in entries:
            if isinstance(entry, _TensorSpec):
                tensor = state["state"][key][name] if is_root else torch.empty(entry.shape, dtype=entry.dtype)
                _broadcast_tensor(comm, tensor, root)
                slot[name] = tensor
            else:
                slot[name] = entry
        loaded["state"][key] = slot
    optimizer.load_state_dict(loaded)


class _TensorSpec:
    __slots__ = ("shape", "dtype")

    def __init__(self, tensor):
        self.shape, self.dtype = tuple(tensor.shape), tensor.dtype


def _state_skeleton(state):
    entries = [(key, [(name, _TensorSpec(v) if isinstance(v, torch.Tensor) else v) for name, v in slot.items()])
               for key, slot in state["state"].items()]
    return {"param_groups": state["param_groups"], "state": entries}
