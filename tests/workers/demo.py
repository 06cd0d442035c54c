"""Runs a compression demo (partial4py.demo topk or qsgd) with the given
command-line options and reports its results."""
import argparse
import contextlib
import importlib
import io

from mpi4py import MPI

from _worker import main, report


def body(args):
    module = importlib.import_module(f"partial4py.demo.{args['demo']}")
    parser = argparse.ArgumentParser()
    module.add_options(parser)
    options = parser.parse_args(args.get("options", []))
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        results = module.run(options, MPI.COMM_WORLD)
    report(results=results, printed=printed.getvalue())


main(body)
