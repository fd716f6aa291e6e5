"""memory: peak RSS and bytes per node of a 1M-node graph (build's graph, bigger).

RSS per node is (RSS after the build - RSS before) / nodes, in each implementation's
own process; ours also reports its arena's bytes per node (micrograd.engine.stats()).
"""
from harness import interleave, size


def test_memory(benchmark):
    interleave(benchmark, "memory", {"n_ops": size(999_000, 200_000)},
               impls={"ours": {}, "mg010": {}, "torch-scalar": {}},
               rounds=size(2, 1), unit="bytes/node", primary="rss_bytes_per_node")
