"""Shared by the GPU workers: each rank's GPU, and GPU arrays that reach the
library only through one protocol, as other libraries' arrays do."""
import cupy
from mpi4py import MPI


def use_own_gpu():
    """Makes GPU (world rank mod GPUs) current, as a job script would."""
    cupy.cuda.Device(MPI.COMM_WORLD.Get_rank() % cupy.cuda.runtime.getDeviceCount()).use()


def on_this_gpu(array):
    """array, checked to be a CuPy array on the current GPU, copied to the host."""
    assert isinstance(array, cupy.ndarray), type(array)
    assert array.device.id == cupy.cuda.runtime.getDevice(), (array.device.id, cupy.cuda.runtime.getDevice())
    return cupy.asnumpy(array)


class InterfaceOnly:
    """A CuPy array seen only through __cuda_array_interface__ (as Numba's
    and PyTorch's arrays are), optionally marked read-only."""

    def __init__(self, array, read_only=False):
        self.array, self.read_only = array, read_only

    @property
    def __cuda_array_interface__(self):
        interface = dict(self.array.__cuda_array_interface__)
        interface["data"] = (interface["data"][0], self.read_only)
        return interface


class DLPackOnly:
    """A CuPy array seen only through DLPack."""

    def __init__(self, array):
        self.array = array

    def __dlpack__(self, **kwargs):
        return self.array.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        return self.array.__dlpack_device__()
