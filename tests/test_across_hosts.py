"""The collectives across hosts of the test bed (tests/hosts): ranks on 2
and on 4 network namespaces, TCP between hosts, shared memory within one.
The workers and the checks are those of the single-host suites, so a
result here means the same as there; only the network differs."""
import pytest

from on_hosts import bed_fixture, run_on_hosts
from test_partial_conservation import MODES as CONSERVED_MODES, check as check_conserved
from test_partial_consistency import SPECS as AGREEMENT_SPECS, check_agreement
from test_partial_errors import ARGS as BAD_INPUT, check_raised_everywhere
from test_partial_liveness import check_timed_out, liveness_args
from test_partial_progress import check_progress, progress_args

bed2 = bed_fixture(2)
bed4 = bed_fixture(4)

# (hosts, ranks per host)
LAYOUTS = [pytest.param((2, 1), id="2x1"), pytest.param((2, 2), id="2x2"), pytest.param((4, 1), id="4x1")]
DTYPES = ["int32", "int64", "float32", "float64"]


@pytest.fixture
def bed(request, layout):
    return request.getfixturevalue(f"bed{layout[0]}")


def assert_identical(results, key="digests"):
    assert len({repr(r[key]) for r in results}) == 1, "ranks got different bits"


@pytest.mark.parametrize("layout", LAYOUTS)
def test_dense(bed, layout):
    cases = [{"dtype": d, "op": op, "count": count, "seed": 3, "mode": mode}
             for d in DTYPES for op in ("sum", "max") for count in (1, 1009)
             for mode in ("blocking", "nonblocking")]
    assert_identical(run_on_hosts(bed, layout[1], "dense", {"cases": cases}))


@pytest.mark.parametrize("layout", [pytest.param((2, 1), id="2x1"), pytest.param((4, 1), id="4x1")])
def test_dense_traffic_crosses_the_links(bed, layout):
    """Each host must receive at least (P-1)/P of the vector's bytes: the
    part of the result it cannot compute from its own data."""
    count, itemsize = 1 << 18, 8
    before = {h: bed.traffic(h) for h in bed.hosts}
    run_on_hosts(bed, 1, "dense", {"cases": [{"dtype": "float64", "op": "sum", "count": count, "seed": 1,
                                              "mode": "blocking"}]})
    payload = count * itemsize * (len(bed.hosts) - 1) // len(bed.hosts)
    for host in bed.hosts:
        received = bed.traffic(host)["received"] - before[host]["received"]
        assert received >= payload, f"{host} received {received} bytes, the allreduce needs {payload}"


@pytest.mark.parametrize("layout", LAYOUTS)
def test_sparse_every_algorithm(bed, layout):
    cases = [{"dtype": d, "index_dtype": i, "size": 4099, "density": density, "seed": 5, "mode": mode}
             for d, i in (("float32", "int32"), ("int64", "int64")) for density in ("one", 0.01, 0.5)
             for mode in ("blocking", "nonblocking")]
    assert_identical(run_on_hosts(bed, layout[1], "sparse", {"cases": cases}))


@pytest.mark.parametrize("layout", LAYOUTS)
def test_partial_conservation(bed, layout):
    nprocs, calls = layout[0] * layout[1], 60
    specs = [{"mode": mode if mode != 2 else min(2, nprocs), "calls": calls} for mode in CONSERVED_MODES]
    results = run_on_hosts(bed, layout[1], "partial_rounds", {"specs": specs, "seed": nprocs}, timeout=240)
    check_conserved(results, nprocs, calls)


@pytest.mark.parametrize("layout", [pytest.param((4, 1), id="4x1")])
def test_partial_consistency(bed, layout):
    specs = [dict(spec, calls=60) for spec in AGREEMENT_SPECS]
    results = run_on_hosts(bed, 1, "partial_rounds", {"specs": specs, "seed": 104}, timeout=240)
    # The hosts share no memory, so auto counts arrivals with messages.
    check_agreement(results, specs, 4, auto_trigger="point_to_point")


@pytest.mark.parametrize("layout", [pytest.param((4, 1), id="4x1"), pytest.param((2, 2), id="2x2")])
def test_partial_one_sided_trigger_across_hosts(bed, layout):
    """Asked for across hosts, the one-sided trigger either works (the MPI
    has one-sided support over TCP with MPI_THREAD_MULTIPLE), and then
    conserves every contribution, or is refused with UnsupportedError on
    every rank, naming the way out (Open MPI 4.1: osc/rdma needs network
    atomics, osc/pt2pt refuses MPI_THREAD_MULTIPLE)."""
    nprocs, calls = layout[0] * layout[1], 40
    created = run_on_hosts(bed, layout[1], "partial_trigger", {"create_only": True, "trigger": "one_sided"},
                           timeout=120)
    outcomes = [r["outcome"] for r in created]
    if all(o["raised"] == "UnsupportedError" for o in outcomes):
        assert all("use the point_to_point trigger" in o["message"] for o in outcomes), outcomes
        return
    assert all(o["raised"] is None for o in outcomes), outcomes
    specs = [{"mode": mode, "calls": calls, "trigger": "one_sided"} for mode in ("solo", "majority", "sync")]
    results = run_on_hosts(bed, layout[1], "partial_rounds", {"specs": specs, "seed": 7}, timeout=240)
    check_conserved(results, nprocs, calls)
    assert {o["trigger"] for r in results for o in r["outcomes"]} == {"one_sided"}


@pytest.mark.parametrize("layout", [pytest.param((4, 1), id="4x1"), pytest.param((2, 2), id="2x2")])
def test_partial_progress(bed, layout):
    check_progress(run_on_hosts(bed, layout[1], "partial_progress", progress_args("sleep"), timeout=120))


@pytest.mark.parametrize("mode", ["majority", "sync", "solo"])
@pytest.mark.parametrize("layout", [pytest.param((4, 1), id="4x1")])
def test_partial_liveness(bed, layout, mode):
    check_timed_out(run_on_hosts(bed, 1, "partial_liveness", liveness_args(mode), timeout=90), mode)


@pytest.mark.parametrize("layout", [pytest.param((2, 2), id="2x2")])
def test_partial_errors(bed, layout):
    check_raised_everywhere(run_on_hosts(bed, 2, "partial_errors", BAD_INPUT, timeout=180), 4)


def test_results_do_not_depend_on_the_network(bed2, bed4):
    """The same partial4py.allreduce on 2 hosts and on 4 gives bits equal to
    a single host's run of the same case (a sum of integers is exact)."""
    from mpi_harness import run_mpi
    case = [{"dtype": "int64", "op": "sum", "count": 4099, "seed": 9, "mode": "blocking"}]
    single = run_mpi(4, "dense", {"cases": case})[0]["digests"]
    assert run_on_hosts(bed2, 2, "dense", {"cases": case})[0]["digests"] == single
    assert run_on_hosts(bed4, 1, "dense", {"cases": case})[0]["digests"] == single
