"""python -m partial4py.bench --help: every subcommand is in the usage line,
and each one's summary is a whole sentence that stands on its own."""
import re
import subprocess
import sys

from mpi_harness import launch_env

SUBCOMMANDS = ["allreduce", "sparse", "quantized", "regret", "partial", "torch"]


def bench_help(*args):
    return subprocess.run([sys.executable, "-m", "partial4py.bench", *args, "--help"], capture_output=True,
                          text=True, timeout=120, env=launch_env(), check=True).stdout


def test_usage_lists_every_subcommand():
    text = bench_help()
    usage = text.split("\n\n")[1]  # the module's own usage line
    for name in SUBCOMMANDS:
        assert name in usage, usage


def test_subcommand_summaries_are_whole_sentences():
    text = bench_help()
    listing = text.split("positional arguments:")[1].split("options:")[0]
    summaries = re.split(r"\n    (?=\w)", listing)[1:]
    assert [s.split()[0] for s in summaries] == SUBCOMMANDS, listing
    for summary in summaries:
        sentence = " ".join(summary.split()[1:])
        assert sentence.endswith("."), sentence
    for name in SUBCOMMANDS:
        assert bench_help(name).startswith("usage:")
