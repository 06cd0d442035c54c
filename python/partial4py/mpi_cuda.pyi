from typing import Literal, TypedDict

__all__ = ["cuda_support", "cuda_aware"]

class _CudaSupport(TypedDict):
    cuda_aware: bool
    source: Literal["none", "openmpi", "mpich", "environment"]

def cuda_support() -> _CudaSupport: ...
def cuda_aware() -> bool: ...
