"""Demos: ``python -m partial4py.demo eager`` (eager-SGD under load
imbalance), ``python -m partial4py.demo topk`` (top-k sparse gradients) and
``python -m partial4py.demo qsgd`` (quantized gradients). All train a small NumPy MLP on scikit-learn's bundled digits data set."""
