"""replay: forward() and backward() over backward's 200k-op graph, built once; ns per node.

Ours only (micrograd 0.1.0 and op-for-op PyTorch cannot replay a graph): in each
fresh process, one backward before any forward (as the backward scenario), the
first forward() (which sorts the graph and keeps the order), then `reps` pairs
of a replay forward() and a backward() over the kept order. Nodes count leaves.
"""
from harness import interleave, size


def test_replay(benchmark):
    interleave(benchmark, "replay", {"n_ops": size(200_000, 50_000), "reps": size(5, 3)},
               impls={"ours": {}}, rounds=size(9, 2), unit="ns/node",
               primary="forward_ns_per_node")
