"""backward: one backward pass over a 200k-node graph (build's graph), ns per node.

The graph is built outside the clock; nodes counts leaves too.

test_backward_python_ops: backward over build's graph with ops defined in Python
(a sin written micrograd's way) on every other unit, against the same graph without
them: ns per C node and ns per Python node (the method: peers.scenario_backward_pyops).
Ours, and micrograd 0.1.0 for reference (all its nodes are Python).
"""
from harness import interleave, size


def test_backward(benchmark):
    interleave(benchmark, "backward", {"n_ops": size(200_000, 50_000), "reps": 1},
               impls={"ours": {}, "mg010": {}, "mg010-nogc": {}, "torch-scalar": {}},
               rounds=size(9, 2), unit="ns/node", primary="ns_per_node")


def test_backward_python_ops(benchmark):
    interleave(benchmark, "backward_pyops",
               {"n_ops": size(200_000, 50_000), "py_every": 2, "reps": size(5, 3)},
               impls={"ours": {}, "mg010": {}},
               rounds=size(3, 1), unit="ns/Python node", primary="py_ns_per_node")
