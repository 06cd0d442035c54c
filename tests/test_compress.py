"""The top-k compressor with error feedback (single process)."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import partial4py
from partial4py.compress import TopKCompressor


@settings(max_examples=30, deadline=None)
@given(size=st.integers(1, 500), density=st.floats(0.001, 1.0), steps=st.integers(1, 20),
       seed=st.integers(0, 2**32 - 1))
def test_nothing_is_lost(size, density, steps, seed):
    # Integer-valued float64 gradients: every sum below is exact.
    rng = np.random.default_rng(seed)
    compressor = TopKCompressor(size, density=density, dtype=np.float64)
    sent = np.zeros(size)
    total = np.zeros(size)
    for _ in range(steps):
        gradient = rng.integers(-50, 50, size).astype(np.float64)
        total += gradient
        indices, values = compressor.compress(gradient)
        assert len(indices) == compressor.k
        assert np.all(np.diff(indices) > 0) and indices.dtype == np.int64
        np.add.at(sent, indices, values)
    np.testing.assert_array_equal(sent + compressor.residual, total)


def test_sends_the_largest_magnitudes():
    compressor = TopKCompressor(6, k=2)
    indices, values = compressor.compress(np.array([1, -9, 3, 8, -2, 0], np.float32))
    assert indices.tolist() == [1, 3] and values.tolist() == [-9, 8]
    assert compressor.residual.tolist() == [1, 0, 3, 0, -2, 0]


def test_residual_is_fed_back():
    compressor = TopKCompressor(3, k=1)
    compressor.compress(np.array([5, 4, 0], np.float32))           # sends index 0
    indices, values = compressor.compress(np.array([0, 1, 0], np.float32))
    assert indices.tolist() == [1] and values.tolist() == [5]       # 4 carried + 1 new


@pytest.mark.parametrize("kwargs", [{"density": 0}, {"density": 1.5}, {"k": 0}, {"k": 11}])
def test_rejects_bad_parameters(kwargs):
    with pytest.raises(ValueError):
        TopKCompressor(10, **kwargs)


def test_rejects_wrong_gradients():
    compressor = TopKCompressor(4)
    with pytest.raises(partial4py.InvalidArgumentError):
        compressor.compress(np.zeros(5, np.float32))
    with pytest.raises(partial4py.DatatypeError):
        compressor.compress(np.zeros(4, np.float64))


def test_rejects_non_contiguous_gradients():
    # reshape(-1) would copy them silently at every step
    with pytest.raises(partial4py.InvalidArgumentError, match="C-contiguous"):
        TopKCompressor(4).compress(np.zeros((4, 2), np.float32)[:, 0])
