"""OSU-style microbenchmarks for partial4py (``python -m partial4py.bench``).

The output follows the OSU Micro-Benchmarks conventions, as the C
benchmarks in bench/ do, so the same parser reads both. Every benchmark
measures its dense ``MPI_Allreduce`` baseline in the same run.
"""
