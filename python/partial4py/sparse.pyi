from typing import Any

import numpy as np

from ._request import Request
from ._typing import AnyBuffer, Comm, DTypeLike, ResultArray

INDEX_DATATYPES: dict[np.dtype[Any], int]
ALGORITHMS: dict[str, int]

class SparseResult:
    indices: ResultArray | None
    values: ResultArray
    is_dense: bool
    size: int
    algorithm: str
    # Made by sparse_allreduce and isparse_allreduce, not by users.
    def __init__(self, handle: Any, index_dtype: DTypeLike) -> None: ...
    def to_dense(self) -> ResultArray: ...

def check_arguments(index_array: Any, value_array: Any, size: int, algorithm: str,
                    density_threshold: float | None) -> tuple[Any, int, Any, int, int, int, float]: ...
def sparse_allreduce(indices: AnyBuffer, values: AnyBuffer, size: int, *, comm: Comm = None, algorithm: str = "auto",
                     density_threshold: float | None = None) -> SparseResult: ...
def isparse_allreduce(indices: AnyBuffer, values: AnyBuffer, size: int, *, comm: Comm = None,
                      algorithm: str = "auto", density_threshold: float | None = None) -> Request[SparseResult]: ...
def predict_seconds(algorithm: str, size: int, nnz: int, nprocs: int, dtype: DTypeLike = "float32",
                    density_threshold: float | None = None) -> float: ...
def select_algorithm(size: int, nnz: int, nprocs: int, dtype: DTypeLike = "float32",
                     density_threshold: float | None = None) -> str: ...
