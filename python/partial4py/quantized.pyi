from typing import Literal, TypeVar, overload

import numpy as np
import numpy.typing as npt

from ._request import Request
from ._typing import Comm, DeviceBuffer, HostBuffer, InPlace, ResultArray

_F = TypeVar("_F", np.float32, np.float64)

_Bits = Literal[2, 4, 8]
_Scale = Literal["max", "l2"]
SCALES: dict[str, int]
BITS: tuple[int, ...]

# sendbuf=MPI.IN_PLACE: recvbuf is required and holds the input.
@overload
def quantized_allreduce(sendbuf: InPlace, recvbuf: npt.NDArray[_F], *, bits: _Bits = 8, bucket_size: int = 512,
                        seed: int = 0, scale: _Scale = "max", residual: HostBuffer | None = None, comm: Comm = None) -> npt.NDArray[_F]: ...
@overload
def quantized_allreduce(sendbuf: npt.NDArray[_F], recvbuf: npt.NDArray[_F] | None = None, *, bits: _Bits = 8,
                        bucket_size: int = 512, seed: int = 0, scale: _Scale = "max",
                        residual: HostBuffer | None = None, comm: Comm = None) -> npt.NDArray[_F]: ...
@overload
def quantized_allreduce(sendbuf: DeviceBuffer | InPlace, recvbuf: DeviceBuffer | None = None, *, bits: _Bits = 8,
                        bucket_size: int = 512, seed: int = 0, scale: _Scale = "max",
                        residual: HostBuffer | None = None, comm: Comm = None) -> ResultArray: ...
@overload
def iquantized_allreduce(sendbuf: InPlace, recvbuf: npt.NDArray[_F], *, bits: _Bits = 8, bucket_size: int = 512,
                         seed: int = 0, scale: _Scale = "max", residual: HostBuffer | None = None, comm: Comm = None) -> Request[npt.NDArray[_F]]: ...
@overload
def iquantized_allreduce(sendbuf: npt.NDArray[_F], recvbuf: npt.NDArray[_F] | None = None, *, bits: _Bits = 8,
                         bucket_size: int = 512, seed: int = 0, scale: _Scale = "max",
                         residual: HostBuffer | None = None, comm: Comm = None) -> Request[npt.NDArray[_F]]: ...
@overload
def iquantized_allreduce(sendbuf: DeviceBuffer | InPlace, recvbuf: DeviceBuffer | None = None, *, bits: _Bits = 8,
                         bucket_size: int = 512, seed: int = 0, scale: _Scale = "max",
                         residual: HostBuffer | None = None, comm: Comm = None) -> Request[ResultArray]: ...
def wire_bytes(count: int, bits: int = 8, bucket_size: int = 512) -> int: ...
