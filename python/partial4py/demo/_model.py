"""The demos' workload: scikit-learn's bundled digits (1797 8x8 images, no
download), sharded over the ranks, and a one-hidden-layer NumPy MLP whose
parameters live in one flat float32 vector, so that a gradient is one
buffer for one collective."""
import numpy as np


def load_shards(rank, size, seed=0):
    """(x_train, y_train) of this rank's shard, and the common test set."""
    from sklearn.datasets import load_digits
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], y[order]
    n_test = len(x) // 5
    x_test, y_test, x_train, y_train = x[:n_test], y[:n_test], x[n_test:], y[n_test:]
    return (x_train[rank::size], y_train[rank::size]), (x_test, y_test)


class MLP:
    """64 -> hidden (tanh) -> 10 (softmax), parameters in ``self.params``."""

    def __init__(self, n_in=64, hidden=64, n_out=10, seed=0):
        self.shapes = [(n_in, hidden), (hidden,), (hidden, n_out), (n_out,)]
        self.sizes = [int(np.prod(s)) for s in self.shapes]
        rng = np.random.default_rng(seed)  # the same seed on every rank: identical replicas
        parts = [rng.normal(0, 1 / np.sqrt(n_in), self.sizes[0]), np.zeros(hidden),
                 rng.normal(0, 1 / np.sqrt(hidden), self.sizes[2]), np.zeros(n_out)]
        self.params = np.concatenate(parts).astype(np.float32)

    def _unpack(self, flat):
        out, offset = [], 0
        for shape, size in zip(self.shapes, self.sizes):
            out.append(flat[offset:offset + size].reshape(shape))
            offset += size
        return out

    def gradient(self, x, y):
        """Mean cross-entropy gradient over the batch, as one flat vector."""
        w1, b1, w2, b2 = self._unpack(self.params)
        hidden = np.tanh(x @ w1 + b1)
        logits = hidden @ w2 + b2
        probs = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs /= probs.sum(axis=1, keepdims=True)
        probs[np.arange(len(y)), y] -= 1
        d_logits = probs / len(y)
        d_hidden = (d_logits @ w2.T) * (1 - hidden**2)
        parts = [x.T @ d_hidden, d_hidden.sum(0), hidden.T @ d_logits, d_logits.sum(0)]
        return np.concatenate([p.reshape(-1) for p in parts]).astype(np.float32)

    def accuracy(self, x, y):
        w1, b1, w2, b2 = self._unpack(self.params)
        return float(((np.tanh(x @ w1 + b1) @ w2 + b2).argmax(axis=1) == y).mean())


def batches(x, y, batch_size, epoch, seed):
    """This epoch's minibatches of a shard, shuffled the same way on every run."""
    order = np.random.default_rng([seed, epoch]).permutation(len(x))
    for start in range(0, len(x) - batch_size + 1, batch_size):
        index = order[start:start + batch_size]
        yield x[index], y[index]
