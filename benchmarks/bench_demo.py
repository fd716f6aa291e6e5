"""demo: one training step of the moons demo, unchanged user code, ms per step.

MLP(2, [16, 16, 1]) on 100 points, SVM max-margin loss + 1e-4 L2, zero_grad,
backward, SGD (value_step in micrograd/bench/scenarios.py, the code `python -m
micrograd.bench` times too, is the notebook's code). Slow peers time fewer steps
per process; every implementation warms up with one step unless noted.
Our row runs the notebook's code unchanged: nn.Neuron makes each neuron's sum
with engine.dot (one C call for the nodes micrograd's sum(...) makes).
ours-fast is the same model and loss through the fast path (scenarios.fast_step):
the graph built once, then forward() replays it; its second step, the first
replay, also sorts the graph once, so it warms up with two steps.
"""
from harness import interleave, size


def test_demo(benchmark):
    interleave(benchmark, "demo", {"samples": 100, "warmup": 1},
               impls={"ours": {"steps": size(20, 5)},
                      "ours-fast": {"steps": size(98, 50), "warmup": 2},
                      "mg010": {"steps": size(2, 1), "warmup": size(1, 0)},
                      "mg010-nogc": {"steps": size(3, 1), "warmup": size(1, 0)},
                      "torch-scalar": {"steps": size(3, 1)},
                      "torch-vec": {"steps": size(100, 20), "warmup": 5}},
               rounds=size(5, 2), unit="ms/step", primary="ms_per_step")
