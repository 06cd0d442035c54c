"""python -m partial4py.bench {allreduce,sparse,partial} [OSU options]

Run under mpirun, e.g. ``mpirun -n 2 python -m partial4py.bench allreduce -m 8:4096 -f -c``.
"""
import argparse
import importlib

from ._osu import add_osu_options

BENCHMARKS = {
    "allreduce": "dense",
    "sparse": "sparse",
    "regret": "regret",
    "partial": "partial",
}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m partial4py.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="benchmark", required=True)
    modules = {}
    for name, module_name in BENCHMARKS.items():
        module = importlib.import_module(f"{__package__}.{module_name}")
        sub = commands.add_parser(name, help=module.__doc__.splitlines()[0])
        add_osu_options(sub)
        if hasattr(module, "add_options"):
            module.add_options(sub)
        modules[name] = module
    args = parser.parse_args(argv)
    modules[args.benchmark].run(args)


if __name__ == "__main__":
    main()
