from typing import Any, TypeVar, overload

import numpy as np
import numpy.typing as npt

from ._request import Request
from ._typing import Comm, DeviceBuffer, HostBuffer, InPlace, Op, ResultArray

_S = TypeVar("_S", bound=np.generic)

# sendbuf=MPI.IN_PLACE: recvbuf is required and holds the input.
@overload
def allreduce(sendbuf: InPlace, recvbuf: npt.NDArray[_S], op: Op = "sum", *,
              comm: Comm = None) -> npt.NDArray[_S]: ...
@overload
def allreduce(sendbuf: InPlace, recvbuf: HostBuffer, op: Op = "sum", *, comm: Comm = None) -> npt.NDArray[Any]: ...
@overload
def allreduce(sendbuf: InPlace, recvbuf: DeviceBuffer, op: Op = "sum", *, comm: Comm = None) -> ResultArray: ...
@overload
def allreduce(sendbuf: npt.NDArray[_S], recvbuf: HostBuffer | None = None, op: Op = "sum", *,
              comm: Comm = None) -> npt.NDArray[_S]: ...
@overload
def allreduce(sendbuf: HostBuffer, recvbuf: HostBuffer | None = None, op: Op = "sum", *,
              comm: Comm = None) -> npt.NDArray[Any]: ...
@overload
def allreduce(sendbuf: DeviceBuffer, recvbuf: DeviceBuffer | None = None, op: Op = "sum", *,
              comm: Comm = None) -> ResultArray: ...
@overload
def iallreduce(sendbuf: InPlace, recvbuf: npt.NDArray[_S], op: Op = "sum", *,
               comm: Comm = None) -> Request[npt.NDArray[_S]]: ...
@overload
def iallreduce(sendbuf: InPlace, recvbuf: HostBuffer, op: Op = "sum", *,
               comm: Comm = None) -> Request[npt.NDArray[Any]]: ...
@overload
def iallreduce(sendbuf: InPlace, recvbuf: DeviceBuffer, op: Op = "sum", *,
               comm: Comm = None) -> Request[ResultArray]: ...
@overload
def iallreduce(sendbuf: npt.NDArray[_S], recvbuf: HostBuffer | None = None, op: Op = "sum", *,
               comm: Comm = None) -> Request[npt.NDArray[_S]]: ...
@overload
def iallreduce(sendbuf: HostBuffer, recvbuf: HostBuffer | None = None, op: Op = "sum", *,
               comm: Comm = None) -> Request[npt.NDArray[Any]]: ...
@overload
def iallreduce(sendbuf: DeviceBuffer, recvbuf: DeviceBuffer | None = None, op: Op = "sum", *,
               comm: Comm = None) -> Request[ResultArray]: ...
