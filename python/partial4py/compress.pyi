from types import ModuleType
from typing import Any

import numpy as np

from ._typing import AnyBuffer, DTypeLike, ResultArray

from ._request import Request
from ._typing import Comm, HostBuffer

__all__ = ["TopKCompressor", "QSGDCompressor", "array_module"]

def array_module(array: object) -> ModuleType: ...

class TopKCompressor:
    size: int
    k: int
    dtype: np.dtype[Any]
    index_dtype: np.dtype[Any]
    residual: ResultArray | None
    def __init__(self, size: int, density: float = 0.01, k: int | None = None, dtype: DTypeLike = ...,
                 index_dtype: DTypeLike = ...) -> None: ...
    def compress(self, gradient: AnyBuffer) -> tuple[ResultArray, ResultArray]: ...
    def reset(self) -> None: ...

class QSGDCompressor:
    size: int
    bits: int
    bucket_size: int
    scale: str
    seed: int
    dtype: np.dtype[Any]
    error_feedback: bool
    residual: np.ndarray[Any, Any] | None
    def __init__(self, size: int, bits: int = 8, bucket_size: int = 512, dtype: DTypeLike = ..., scale: str = "max",
                 seed: int = 0, error_feedback: bool = False) -> None: ...
    def iallreduce(self, gradient: HostBuffer, recvbuf: HostBuffer | None = None, *,
                   comm: Comm = None) -> Request[np.ndarray[Any, Any]]: ...
    def allreduce(self, gradient: HostBuffer, recvbuf: HostBuffer | None = None, *,
                  comm: Comm = None) -> np.ndarray[Any, Any]: ...
    def reset(self) -> None: ...
