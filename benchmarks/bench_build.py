"""build: a 200k-op graph through operator overloading (+ * ** relu tanh), ns per op.

Each process builds the graph once (peers.build_graph); leaves are made before
the clock starts. micrograd 0.1.0 pays its cyclic GC here: every node it makes
sits in a closure cycle.
"""
from harness import interleave, size


def test_build(benchmark):
    interleave(benchmark, "build", {"n_ops": size(200_000, 50_000), "reps": 1},
               impls={"ours": {}, "mg010": {}, "mg010-nogc": {}, "torch-scalar": {}},
               rounds=size(9, 2), unit="ns/op", primary="ns_per_op")
