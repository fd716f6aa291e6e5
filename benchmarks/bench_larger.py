"""larger: one training step of bigger MLPs (mean squared error to one-hot targets).

MLP(64, [64, 64, 10]) on a batch of 32, and MLP(784, [128, 10]) on a batch of 8
(quick mode: batches of 8 and 1). micrograd 0.1.0 takes seconds per step here, so
it runs one step per process, without warm-up. ours-fast (the fast path, graph
built once) warms up with two steps, as in bench_demo.py.
"""
import pytest

from harness import interleave, size

MODELS = {"mlp64": (64, [64, 64, 10], size(32, 8)), "mlp784": (784, [128, 10], size(8, 1))}


@pytest.mark.parametrize("model", MODELS)
def test_larger(benchmark, model):
    nin, nouts, batch = MODELS[model]
    interleave(benchmark, "larger", {"nin": nin, "nouts": nouts, "batch": batch, "warmup": 1},
               impls={"ours": {"steps": size(5, 2)},
                      "ours-fast": {"steps": size(50, 10), "warmup": 2},
                      "mg010": {"steps": 1, "warmup": 0},
                      "mg010-nogc": {"steps": 1, "warmup": 0},
                      "torch-scalar": {"steps": 1, "warmup": 0},
                      "torch-vec": {"steps": size(50, 10), "warmup": 5}},
               rounds=size(3, 1), unit="ms/step", primary="ms_per_step")
