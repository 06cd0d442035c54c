"""partial4py.torch with DistributedDataParallel under mpirun, at
P = 1, 2, 3, 5: init_process_group needs no MASTER_ADDR/MASTER_PORT; the
sync comm_hook gives DDP-gloo's parameters within 1e-5; the topk and qsgd
hooks train with every rank identical; partial modes and bad bit widths are
refused."""
import numpy as np
import pytest

from mpi_harness import run_mpi

pytest.importorskip("torch")


@pytest.mark.parametrize("nprocs", [1, 2, 3, 5])
def test_ddp_with_the_comm_hook(nprocs):
    results = run_mpi(nprocs, "torch_ddp", timeout=300)
    for result in results:
        assert not result["had_master"]
        assert result["group"] == [result["rank"], nprocs]
        assert result["backend"] == "gloo"
        np.testing.assert_allclose(result["hooked"], result["reference"], rtol=0, atol=1e-5)
        assert "InvalidArgumentError" in result["refused"]["mro"]
        assert result["topk_losses"][-1] < result["topk_losses"][0]
        assert result["qsgd_losses"][-1] < result["qsgd_losses"][0]
        assert "InvalidArgumentError" in result["bad_bits"]["mro"]
    assert len({r["topk"] for r in results}) == 1, "the topk hook left the ranks' parameters different"
    assert len({r["qsgd"] for r in results}) == 1, "the qsgd hook left the ranks' parameters different"
    assert all(r["reference"] == results[0]["reference"] for r in results)
