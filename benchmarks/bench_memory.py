"""memory: peak RSS and bytes per node of a 1M-node graph (build's graph, bigger).

RSS per node is (RSS after the build - RSS before) / nodes, in each implementation's
own process; ours also reports its arena's bytes per node (micrograd.engine.stats()).

test_memory_leaf: RSS per leaf held by Python, 200k `Value(random)` kept in a list
made before the baseline (its 8 B per entry not counted; peers.scenario_memory_leaf).
"""
from harness import interleave, size


def test_memory(benchmark):
    interleave(benchmark, "memory", {"n_ops": size(999_000, 200_000)},
               impls={"ours": {}, "mg010": {}, "torch-scalar": {}},
               rounds=size(2, 1), unit="bytes/node", primary="rss_bytes_per_node")


def test_memory_leaf(benchmark):
    interleave(benchmark, "memory_leaf", {"n_leaves": size(200_000, 100_000)},
               impls={"ours": {}, "mg010": {}},
               rounds=size(3, 1), unit="bytes/leaf", primary="rss_bytes_per_leaf")
