"""python -m partial4py.bench {allreduce,sparse,quantized,regret,partial,torch} [OSU options]

OSU-style benchmarks of partial4py, each against its dense MPI_Allreduce
baseline measured in the same run. Run them under mpirun, for example
``mpirun -n 2 python -m partial4py.bench allreduce -m 8:4096 -f -c``; each
subcommand's --help lists its options.
"""
import argparse
import importlib

from ._osu import add_osu_options

BENCHMARKS = {
    "allreduce": "dense",
    "sparse": "sparse",
    "quantized": "quantized",
    "regret": "regret",
    "partial": "partial",
    "torch": "training",
}


def first_paragraph(text):
    """A docstring's first paragraph as one line, the whole sentence, with
    % escaped for argparse's help formatting."""
    return " ".join(text.strip().split("\n\n")[0].split()).replace("%", "%%")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m partial4py.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="benchmark", required=True)
    modules = {}
    for name, module_name in BENCHMARKS.items():
        module = importlib.import_module(f"{__package__}.{module_name}")
        sub = commands.add_parser(name, help=first_paragraph(module.__doc__), description=module.__doc__)
        add_osu_options(sub)
        if hasattr(module, "add_options"):
            module.add_options(sub)
        modules[name] = module
    args = parser.parse_args(argv)
    modules[args.benchmark].run(args)


if __name__ == "__main__":
    main()
