"""build: a 200k-op graph through operator overloading (+ * ** relu tanh), ns per op.

test_build: the DAG (peers.build_graph). test_build_chain: a plain chain,
x = ((x * c + z).relu()) ** 2 repeated (peers.build_chain; issue 11's second build
target). Each process builds the graph once; leaves (constants included) are made
before the clock starts. micrograd 0.1.0 pays its cyclic GC here: every node it
makes sits in a closure cycle.
"""
from harness import interleave, size

IMPLS = {"ours": {}, "mg010": {}, "mg010-nogc": {}, "torch-scalar": {}}


def test_build(benchmark):
    interleave(benchmark, "build", {"n_ops": size(200_000, 50_000), "reps": 1},
               impls=IMPLS, rounds=size(9, 2), unit="ns/op", primary="ns_per_op")


def test_build_chain(benchmark):
    interleave(benchmark, "build_chain", {"n_ops": size(200_000, 50_000), "reps": 1},
               impls=IMPLS, rounds=size(9, 2), unit="ns/op", primary="ns_per_op")
