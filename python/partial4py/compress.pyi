from types import ModuleType
from typing import Any

import numpy as np

from ._typing import AnyBuffer, DTypeLike, ResultArray

__all__ = ["TopKCompressor", "array_module"]

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
