"""benchmarks/peers.py's fast path trains the same model as its user-code path.

ours-fast (graph built once, forward() replays it, optim.SGD) and ours (the user
code, a new graph every step) start from the same draws and take the same steps,
so their per-step losses agree to a relative 1e-9 (grads may be summed in
another order). A few small steps: these are not timings, nothing about speed
is checked.
"""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import peers  # noqa: E402

JOBS = {
    "demo": {"scenario": "demo", "samples": 20},
    "larger": {"scenario": "larger", "nin": 6, "nouts": [5, 4, 3], "batch": 3},
}


@pytest.mark.parametrize("name", JOBS)
def test_fast_path_losses_match_user_code(name):
    job = {**JOBS[name], "warmup": 0, "steps": 5}
    run = peers.SCENARIOS[job["scenario"]]
    ours = run(peers.Scalars("ours"), job)[1]["losses"]
    fast = run(peers.Scalars("ours-fast"), job)[1]["losses"]
    assert len(fast) == len(ours) == 5
    assert fast == pytest.approx(ours, rel=1e-9, abs=0)


def test_benchmarks_time_the_steps_python_m_micrograd_bench_times():
    """The training scenarios are written once, in micrograd/bench/scenarios.py."""
    from micrograd.bench import cli
    here = Path(__file__).resolve().parent.parent / "micrograd" / "bench" / "scenarios.py"
    assert Path(peers.scenarios.__file__).resolve() == here
    used = {job["scenario"] for _, _, job, _ in cli.scenarios(False)}
    assert used <= set(peers.scenarios.SCENARIOS)
    for name, run in peers.scenarios.SCENARIOS.items():
        assert peers.SCENARIOS[name] is run


# ---------------------------------------------------------------- the batch scenarios

import peers_batch  # noqa: E402

try:
    from micrograd.engine import Batch  # noqa: F401
except ImportError:
    Batch = None

# each with the eager user code's scenario and job as its reference (same draws, data, rates)
BATCH = {"moons": ({"loss": "hinge", "nin": 2, "nouts": [16, 16, 1], "batch": 7},
                   {"scenario": "demo", "samples": 7}),
         "mse": ({"loss": "mse", "nin": 6, "nouts": [5, 4, 3], "batch": 3, "lr": 0.01},
                 {"scenario": "larger", "nin": 6, "nouts": [5, 4, 3], "batch": 3})}
BATCH_IMPLS = ["numpy", "torch-vec", "ours-fast",
               pytest.param("ours-batch", marks=pytest.mark.skipif(
                   Batch is None, reason="this engine has no micrograd.engine.Batch"))]


@pytest.mark.parametrize("impl", BATCH_IMPLS)
@pytest.mark.parametrize("name", BATCH)
def test_every_batch_row_trains_the_user_codes_model(name, impl, monkeypatch):
    if impl == "torch-vec":
        pytest.importorskip("torch")
    for var in peers_batch.BLAS_THREADS:        # numpy's row sets them: restored after
        monkeypatch.setenv(var, "1")
    batch_job, eager_job = BATCH[name]
    steps = {"warmup": 0, "steps": 5}
    want = peers.SCENARIOS[eager_job["scenario"]](peers.Scalars("ours"), {**eager_job, **steps})
    got = peers.SCENARIOS["batch"](peers.Scalars(impl), {**batch_job, "scenario": "batch",
                                                         **steps})
    assert len(got[0]["ms_per_step"]) == 5
    assert got[1]["losses"] == pytest.approx(want[1]["losses"], rel=1e-9, abs=0)


def test_the_flop_count_is_two_per_multiply_add_three_passes():
    # MLP(3, [4, 2]) on 5 rows: 3*4 + 4*2 multiply-adds per row and pass
    assert peers_batch.flops(3, [4, 2], 5) == 2 * 3 * 5 * (3 * 4 + 4 * 2)
