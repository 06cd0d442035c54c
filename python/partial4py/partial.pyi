from types import TracebackType
from typing import Any

import numpy as np

from ._request import Request
from ._typing import AnyBuffer, Comm, DTypeLike, InPlace, Op, ResultArray

MODES: dict[str, int]
MAX_STALENESS: int
ALGORITHMS: dict[str, int]
TRIGGERS: dict[str, int]
STATS_KEYS: tuple[str, ...]

def predict_seconds(algorithm: str, count: int, nprocs: int, dtype: DTypeLike = "float32") -> float: ...
def select_algorithm(count: int, nprocs: int, dtype: DTypeLike = "float32") -> str: ...
def select_trigger(*, comm: Comm = None) -> str: ...
def release_all() -> None: ...

class PartialInfo:
    round: int
    contributions: int
    fresh: int
    quorum_met: bool
    late: bool
    result: ResultArray
    # Made by PartialAllreduce's calls, not by users.
    def __init__(self, c_info: Any, result: ResultArray) -> None: ...

class PartialAllreduce:
    count: int
    dtype: np.dtype[Any]
    mode: str | int
    timeout: float | None
    quorum: int
    algorithm: str
    trigger: str
    def __init__(self, count: int, dtype: DTypeLike = ..., *, comm: Comm = None, mode: str | int = "solo",
                 max_staleness: int | None = None, timeout: float | None = None, op: Op = "sum",
                 algorithm: str = "auto", trigger: str = "auto") -> None: ...
    def allreduce(self, sendbuf: AnyBuffer | InPlace, recvbuf: AnyBuffer | None = None) -> PartialInfo: ...
    def start(self, sendbuf: AnyBuffer | InPlace, recvbuf: AnyBuffer | None = None) -> Request[PartialInfo]: ...
    def flush(self, recvbuf: AnyBuffer | None = None) -> PartialInfo: ...
    def stats(self) -> dict[str, int | str]: ...
    def close(self) -> None: ...
    @property
    def closed(self) -> bool: ...
    def __enter__(self) -> PartialAllreduce: ...
    def __exit__(self, exc_type: type[BaseException] | None, exc_value: BaseException | None,
                 traceback: TracebackType | None) -> None: ...
