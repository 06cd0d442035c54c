"""python -m partial4py.demo {eager,topk,qsgd} [options]   (run under mpirun)"""
import argparse

from . import eager, qsgd, topk


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m partial4py.demo", description=__doc__)
    commands = parser.add_subparsers(dest="demo", required=True)
    for name, module in (("eager", eager), ("topk", topk), ("qsgd", qsgd)):
        sub = commands.add_parser(name, help=module.__doc__.splitlines()[0],
                                  description=module.__doc__,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_options(sub)
        sub.set_defaults(module=module)
    args = parser.parse_args(argv)
    args.module.run(args)


if __name__ == "__main__":
    main()
