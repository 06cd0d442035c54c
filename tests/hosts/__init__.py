"""A multi-host test bed on one machine: network namespaces as hosts (see docs/testbed.md)."""
from .bed import PREFIX, SUBNET, Bed, BedUnavailable, BedUnsupported, check_available, leftovers, netem_available
from .launch import for_mpi, mpich, open_mpi

__all__ = ["PREFIX", "Bed", "BedUnavailable", "BedUnsupported", "SUBNET", "check_available", "leftovers",
           "netem_available", "for_mpi", "mpich", "open_mpi"]
