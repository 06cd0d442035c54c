import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

from hypothesis import settings  # noqa: E402

# Each example launches MPI processes: few examples, no deadline.
settings.register_profile("mpi", max_examples=3, deadline=None, derandomize=False)
# CI: the same examples on every run, so that a failure there reproduces.
settings.register_profile("ci", max_examples=3, deadline=None, derandomize=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "mpi"))

PROCS = [1, 2, 3, 4, 5]
