"""batch: one minibatch training step through micrograd-c's Batch (issue 17), ms per step.

One example's graph of MLP(..., fused=True), run over the rows of a batch as lanes
(peers_batch.py), interleaved with nn.Linear float64 on the same number of threads, a
hand-written numpy step on one BLAS thread and, at the small sizes, the replay path (a
graph of B copies, as digits' old BatchGraph): the moons demo's step (hinge + L2, SGD,
the demo's learning rates), then mean squared errors to one-hot targets. Every row
starts from micrograd's draws on the same data: the report checks their losses agree.
A row Batch lacks (an engine without it) is left out. batch_memory: the RSS of a Batch
of 1024 rows and the time to build one example's graph. Quick mode: three of the cases,
fewer steps and rounds.
"""
import pytest

from harness import interleave, size

try:
    from micrograd.engine import Batch  # noqa: F401
except ImportError:                     # an engine before issue 17: the baselines only
    Batch = None

# name: (nin, nouts, rows, loss, lr, the replay path and 2-thread rows too)
CASES = {
    "moons": (2, [16, 16, 1], 100, "hinge", None, "replay"),
    "mlp64-32": (64, [64, 64, 10], 32, "mse", 1e-3, "replay"),
    "mlp784-64": (784, [128, 10], 64, "mse", 1e-3, ""),
    "mlp784-128": (784, [128, 10], 128, "mse", 1e-3, "threads"),
    "mlp784-512": (784, [128, 10], 512, "mse", 1e-3, ""),
    "mlp784x256-64": (784, [256, 256, 10], 64, "mse", 1e-6, ""),
}
QUICK_CASES = ["moons", "mlp64-32", "mlp784-128"]     # quick mode: under a minute
STEPS = size(20, 5)


def impls(extra):
    rows = {"ours-batch": {"steps": STEPS, "warmup": 2},
            "torch-vec": {"steps": STEPS, "warmup": 3},
            "numpy": {"steps": STEPS, "warmup": 3}}
    if extra == "threads":
        rows["ours-batch-2t"] = {"impl": "ours-batch", "threads": 2, "steps": STEPS, "warmup": 2}
        rows["torch-vec-2t"] = {"impl": "torch-vec", "threads": 2, "steps": STEPS, "warmup": 3}
    if extra == "replay":
        rows["ours-replay"] = {"impl": "ours-fast", "steps": STEPS, "warmup": 2}
    if Batch is None:
        rows = {k: v for k, v in rows.items() if v.get("impl", k) != "ours-batch"}
    return rows


@pytest.mark.parametrize("case", size(list(CASES), QUICK_CASES))
def test_batch(benchmark, case):
    nin, nouts, rows, loss, lr, extra = CASES[case]
    params = {"nin": nin, "nouts": nouts, "batch": rows, "loss": loss, "lr": lr}
    interleave(benchmark, "batch", params, impls(extra), rounds=size(5, 1),
               unit="ms/step", primary="ms_per_step")


@pytest.mark.skipif(Batch is None, reason="this engine has no micrograd.engine.Batch")
def test_batch_memory(benchmark):
    interleave(benchmark, "batch_memory",
               {"nin": 784, "nouts": [128, 10], "rows": 1024, "build": [784, [256, 256, 10]],
                "reps": size(3, 1)},
               impls={"ours-batch": {}}, rounds=size(3, 1), unit="MB", primary="batch_rss_mb")
