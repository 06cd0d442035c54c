# Stub-only type aliases shared by the partial4py stubs (there is no
# _typing module at run time; nothing imports it outside the stubs).
from typing import Any, Protocol, Union

import numpy.typing as npt
from mpi4py import MPI
from typing_extensions import Buffer, TypeAlias

class CudaArrayInterface(Protocol):
    """A GPU array in the CUDA Array Interface (CuPy, Numba, PyTorch CUDA tensors)."""
    @property
    def __cuda_array_interface__(self) -> dict[str, Any]: ...

class DLPackDevice(Protocol):
    """An array that says which device it is on through DLPack."""
    def __dlpack_device__(self) -> tuple[int, int]: ...

# What a collective takes as a buffer: a NumPy array, anything with the
# buffer protocol (host), or a GPU array.
HostBuffer: TypeAlias = Buffer
DeviceBuffer: TypeAlias = Union[CudaArrayInterface, DLPackDevice]
AnyBuffer: TypeAlias = Union[Buffer, CudaArrayInterface, DLPackDevice]
# A result array: numpy.ndarray for host input, a CuPy array for GPU input
# (CuPy is optional and untyped, hence Any).
ResultArray: TypeAlias = Any
# 'sum', 'prod', 'min', 'max' (any case) or the matching mpi4py MPI.Op.
Op: TypeAlias = Union[str, MPI.Op]
# What numpy.dtype() accepts.
DTypeLike: TypeAlias = npt.DTypeLike
Comm: TypeAlias = Union[MPI.Intracomm, None]
# MPI.IN_PLACE, the in-place sendbuf of allreduce and iallreduce.
InPlace: TypeAlias = MPI.InPlaceType
