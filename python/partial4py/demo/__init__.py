"""Demos: ``python -m partial4py.demo eager`` (eager-SGD under load
imbalance) and ``python -m partial4py.demo topk`` (top-k sparse gradients).
Both train a small NumPy MLP on scikit-learn's bundled digits data set."""
