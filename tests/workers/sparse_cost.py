"""The cost model as this process sees it (LP_SPARSE_COST_MODEL is read once
per process), and optionally the calibration command's output."""
import json

from mpi4py import MPI

import partial4py.calibrate
from partial4py.sparse import select_algorithm, predict_seconds
from _worker import main, report

ALGORITHMS = ("recursive_doubling", "split_allgather", "dsar", "allgather", "dense")


def fitted_regret(truth_scale):
    """Times made by the model itself under scaled constants: fitting from the
    defaults must find constants that choose the best algorithm everywhere."""
    calibrate = partial4py.calibrate
    defaults = calibrate.cost_model()
    truth = {name: defaults[name] * truth_scale[name] for name in calibrate.NAMES}
    calibrate.set_cost_model(truth)
    cells = [(2**e, max(1, int(d * 2**e)), p,
              {a: predict_seconds(a, 2**e, max(1, int(d * 2**e)), p) for a in ALGORITHMS})
             for e in (16, 20, 24) for d in (0.001, 0.01, 0.1, 0.5) for p in (2, 4)]
    calibrate.set_cost_model(defaults)
    before = calibrate.regrets(cells, defaults)
    _, after = calibrate.fit(cells, defaults)
    try:
        calibrate.set_cost_model(dict(defaults, beta=-1.0))
        rejected = None
    except Exception as error:  # the library's own exception type is what is checked
        rejected = type(error).__name__
    return {"before": max(before), "after": max(after), "restored": calibrate.cost_model() == defaults,
            "negative_rejected_with": rejected}


def body(args):
    if args.get("fit_truth_scale"):
        report(fit=fitted_regret(args["fit_truth_scale"]))
        return
    written = None
    if args.get("calibrate"):
        partial4py.calibrate.main(["-o", args["calibrate"]])
        MPI.COMM_WORLD.Barrier()  # rank 0 writes the file
        with open(args["calibrate"]) as f:
            written = json.load(f)
    picks = {f"{size}:{nnz}:{nprocs}": select_algorithm(size, nnz, nprocs)
             for size, nnz, nprocs in args["problems"]}
    seconds = {name: predict_seconds(name, *args["problems"][0]) for name in ALGORITHMS}
    report(picks=picks, seconds=seconds,
           written=written)


main(body)
