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
