"""partial4py.cuda_support() on each rank as LP_CUDA_AWARE changes while the
process runs: unset, then each value in args["values"] in turn."""
import os

import partial4py
from _worker import main, raised, report


def body(args):
    os.environ.pop("LP_CUDA_AWARE", None)
    answers = [{"value": None, **partial4py.cuda_support()}]
    for value in args["values"]:
        os.environ["LP_CUDA_AWARE"] = value
        outcome = raised(partial4py.cuda_support)
        answers.append({"value": value, **(partial4py.cuda_support() if outcome["raised"] is None else outcome)})
    os.environ.pop("LP_CUDA_AWARE")
    report(answers=answers, cuda_aware_unset=partial4py.cuda_aware())


main(body)
