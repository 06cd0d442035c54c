"""Bad input to every public entry point raises a partial4py.Error, within a
bounded time, and leaves the communicator usable.

Each case runs with its bad value on one rank only (case i on rank i % P,
so rank 0 and the others each take a turn) and on every rank. A collective
call must raise the same class on every rank; a local one (the compressor,
the cost model) only where the value is bad. The worker
(workers/bad_input.py) runs a whole group of cases in one launch and checks
after each one that a dense allreduce still gives the exact sum.
"""
import importlib.util

import pytest

from mpi_harness import run_mpi

ARG = "InvalidArgumentError"
DTYPE = "DatatypeError"
INDEX = "IndexOutOfRangeError"
MEMORY = "OutOfMemoryError"

DENSE = {
    "dense_dtype_float16": DTYPE, "dense_dtype_complex": DTYPE, "dense_dtype_object": DTYPE,
    "dense_noncontiguous_send": ARG, "dense_noncontiguous_recv": ARG,
    "dense_readonly_recv": ARG, "dense_readonly_recv_buffer": ARG,
    "dense_recv_size": ARG, "dense_recv_dtype": DTYPE,
    "dense_unknown_op": ARG, "dense_op_number": ARG, "dense_op_mpi_unsupported": ARG,
    "dense_send_none": DTYPE, "dense_send_list": DTYPE, "dense_send_string": DTYPE,
    "dense_recv_string": DTYPE, "dense_recv_int": DTYPE,
}
SPARSE = {
    "sparse_index_out_of_range": INDEX, "sparse_negative_index": INDEX,
    "sparse_negative_size": ARG, "sparse_size_2_64": ARG, "isparse_size_2_63": ARG, "sparse_size_float": ARG,
    "sparse_size_bool": ARG, "sparse_size_string": ARG,
    "sparse_length_mismatch": ARG, "sparse_float_indices": DTYPE, "sparse_value_dtype_float16": DTYPE,
    "sparse_unknown_algorithm": ARG, "isparse_algorithm_list": ARG,
    "sparse_threshold_nan": ARG, "sparse_threshold_negative": ARG, "sparse_threshold_string": ARG,
    "isparse_threshold_string": ARG, "sparse_threshold_inf": ARG, "sparse_threshold_huge_int": ARG,
    "sparse_threshold_list": ARG,
    "sparse_2d_indices": ARG, "isparse_2d_values": ARG, "sparse_indices_none": DTYPE, "isparse_values_none": DTYPE,
    "isparse_noncontiguous_values": ARG,
}
QUANTIZED = {
    "quantized_bits_3": ARG, "iquantized_bits_string": ARG, "quantized_bits_2_40": ARG,
    "quantized_bucket_size_zero": ARG, "quantized_bucket_size_float": ARG, "quantized_seed_negative": ARG,
    "iquantized_seed_2_64": ARG, "quantized_scale_unknown": ARG, "quantized_scale_list": ARG,
    "quantized_dtype_int64": DTYPE, "iquantized_dtype_float16": DTYPE, "quantized_recv_size": ARG,
    "iquantized_recv_dtype": DTYPE, "quantized_recv_readonly": ARG, "quantized_send_none": DTYPE,
    "quantized_residual_size": ARG, "iquantized_residual_dtype": DTYPE, "quantized_residual_readonly": ARG,
    "qsgd_gradient_size": ARG, "qsgd_gradient_dtype": DTYPE, "qsgd_gradient_noncontiguous": ARG,
}
CREATE = {
    "create_count_2_64": ARG, "create_count_2_63": ARG, "create_count_bytes_wrap": MEMORY, "create_count_negative": ARG, "create_count_float": ARG,
    "create_count_bool": ARG, "create_count_string": ARG, "create_count_none": ARG,
    "create_dtype_unknown": DTYPE, "create_dtype_float16": DTYPE, "create_dtype_list": DTYPE,
    "create_mode_2_40": ARG, "create_mode_unknown": ARG, "create_mode_bool": ARG, "create_mode_float": ARG,
    "create_quorum_zero": ARG, "create_quorum_above_p": ARG,
    "create_max_staleness_2_40": ARG, "create_max_staleness_negative": ARG, "create_max_staleness_string": ARG,
    "create_max_staleness_float": ARG, "create_max_staleness_above_bound": ARG,
    "create_timeout_nan": ARG, "create_timeout_negative": ARG, "create_timeout_zero": ARG,
    "create_timeout_string": ARG, "create_timeout_numeric_string": ARG, "create_timeout_huge_int": ARG,
    "create_op_unknown": ARG, "create_op_none": ARG,
}
CALL = {
    "call_send_size": ARG, "call_send_dtype": DTYPE, "call_send_none": DTYPE, "call_recv_readonly": ARG,
    "call_send_noncontiguous": ARG, "start_recv_noncontiguous": ARG, "start_send_list": DTYPE,
    "start_recv_size": ARG, "flush_recv_size": ARG, "flush_recv_readonly": ARG, "flush_recv_dtype": DTYPE,
    "flush_recv_string": DTYPE,
}
LOCAL = {
    "topk_size_zero": ARG, "topk_size_string": ARG, "topk_size_float": ARG, "topk_density_nan": ARG,
    "topk_density_string": ARG, "topk_k_above_size": ARG, "topk_k_float": ARG, "topk_dtype_unknown": DTYPE,
    "topk_index_dtype_float": DTYPE, "topk_index_dtype_unknown": DTYPE, "topk_compress_list": DTYPE,
    "topk_compress_size": ARG, "topk_compress_noncontiguous": ARG,
    "qsgd_size_zero": ARG, "qsgd_bits_5": ARG, "qsgd_dtype_int32": DTYPE, "qsgd_scale_unknown": ARG,
    "qsgd_seed_negative": ARG,
    "cost_unknown_algorithm": ARG, "cost_negative_size": ARG, "cost_nprocs_2_40": ARG, "cost_dtype_unknown": DTYPE,
}
TORCH = {
    "torch_bucket_bytes_string": ARG, "torch_bucket_bytes_zero": ARG, "torch_bucket_bytes_float": ARG,
    "torch_no_trainable_parameters": ARG, "torch_float16_parameters": DTYPE, "torch_mode_unknown": ARG,
    "torch_max_staleness_2_40": ARG, "torch_timeout_string": ARG,
    "torch_backward_passes_zero": ARG, "torch_backward_passes_float": ARG,
    "torch_topk_density_string": ARG, "torch_topk_bucket_bytes_string": ARG,
    "torch_qsgd_bits_3": ARG, "torch_qsgd_bits_string": ARG,
}
# Checked locally, before any collective: COMM_NULL (a freed communicator is
# one) is a bad value, anything but an intracommunicator a bad type.
COMM = {f"{comm}_{call}": expected
        for comm, expected in {"comm_null": ARG, "comm_freed": ARG, "comm_intercomm": DTYPE,
                               "comm_string": DTYPE, "comm_int": DTYPE}.items()
        for call in ("allreduce", "iallreduce", "sparse", "isparse", "partial", "quantized")}

GROUPS = {"dense": DENSE, "sparse": SPARSE, "quantized": QUANTIZED, "create": CREATE, "call": CALL, "local": LOCAL,
          "torch": TORCH, "comm": COMM}
# No collective: only the rank with the bad value raises.
LOCAL_CASES = set(LOCAL)
HAVE_TORCH = importlib.util.find_spec("torch") is not None
SECONDS_PER_CASE = 20

# One rank: P=4, so the culprits are ranks 0..3 in turn (P=3 with torch,
# whose import is slow on a small machine). Every rank: P=3. A rank cannot
# pass a communicator its peers use without having it, so the communicator
# cases run on every rank only.
PARAMS = [pytest.param(group, "one", 3 if group == "torch" else 4, id=f"{group}-one")
          for group in GROUPS if group != "comm"] + \
         [pytest.param(group, "every", 3, id=f"{group}-every") for group in GROUPS]
TIMEOUT = {"torch": 150}  # seconds per launch; 60 for the others


def test_at_least_forty_cases():
    assert sum(map(len, GROUPS.values())) >= 40


@pytest.mark.parametrize("group,culprits,nprocs", PARAMS)
def test_bad_input_raises_a_library_error(group, culprits, nprocs):
    if group == "torch" and not HAVE_TORCH:
        pytest.skip("torch is not installed")
    expected = GROUPS[group]
    results = run_mpi(nprocs, "bad_input", {"cases": list(expected), "culprits": culprits},
                      timeout=TIMEOUT.get(group, 60))
    for i, name in enumerate(expected):
        outcomes = [result["outcomes"][i] for result in results]
        for rank, outcome in enumerate(outcomes):
            where = (name, culprits, f"rank {rank}", outcome)
            assert outcome["case"] == name, where
            assert outcome["healthy"], where
            assert outcome["seconds"] < SECONDS_PER_CASE, where
            if name in LOCAL_CASES and not outcome["bad"]:
                assert outcome["raised"] is None, where
                continue
            assert outcome["raised"] is not None, where
            assert "Error" in outcome["mro"], where
            assert outcome["raised"] == expected[name], where
        if name not in LOCAL_CASES:
            assert len({outcome["raised"] for outcome in outcomes}) == 1, (name, outcomes)
