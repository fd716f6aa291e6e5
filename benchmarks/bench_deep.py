"""deep: backward through a 1M-deep chain (tanh, + x, tanh, ...), ns per node.

micrograd 0.1.0 sorts its graph recursively and fails with RecursionError: that
is its result row (one round, it does not get faster). PyTorch's engine is iterative.
"""
from harness import interleave, size


def test_deep(benchmark):
    interleave(benchmark, "deep", {"depth": size(1_000_000, 100_000)},
               impls={"ours": {}, "mg010": {"rounds": 1}, "torch-scalar": {}},
               rounds=size(2, 1), unit="ns/node", primary="ns_per_node")
