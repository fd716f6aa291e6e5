"""backward: one backward pass over a 200k-node graph (build's graph), ns per node.

The graph is built outside the clock; nodes counts leaves too.
"""
from harness import interleave, size


def test_backward(benchmark):
    interleave(benchmark, "backward", {"n_ops": size(200_000, 50_000), "reps": 1},
               impls={"ours": {}, "mg010": {}, "mg010-nogc": {}, "torch-scalar": {}},
               rounds=size(9, 2), unit="ns/node", primary="ns_per_node")
