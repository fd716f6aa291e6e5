"""The demo: its two-moons data (checked with math), its training (checked against the
notebook's code under micrograd 0.1.0), and its command line (run as a user runs it)."""
import importlib.util
import math
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

from micrograd.data import moons
from micrograd.demo import train
from micrograd.nn import MLP
from oracle import ORACLE, run_original

ROOT = Path(__file__).resolve().parents[1]
HAS_ORACLE = (ORACLE / "micrograd" / "nn.py").exists()
needs_oracle = pytest.mark.skipif(not HAS_ORACLE, reason="micrograd 0.1.0 not installed "
                                  "in .oracle (make test installs it)")

# ---------------------------------------------------------------- data

def test_moons_are_reproducible_for_a_seed_and_differ_across_seeds():
    assert moons(50, seed=3) == moons(50, seed=3)
    assert moons(50, seed=3)[0] != moons(50, seed=4)[0]


def test_moons_leave_the_global_random_state_alone():
    random.seed(9)
    state = random.getstate()
    moons(100)
    assert random.getstate() == state


@pytest.mark.parametrize("n", [2, 7, 100])
def test_moons_label_half_the_points_minus_one_and_the_rest_one(n):
    X, y = moons(n)
    assert len(X) == len(y) == n
    assert (y.count(-1), y.count(1)) == (n // 2, n - n // 2)


def test_noiseless_moons_lie_evenly_spaced_on_their_half_circles():
    X, y = moons(41, noise=0.0, seed=1)
    outer = sorted(math.atan2(b, a) for (a, b), c in zip(X, y) if c == -1)
    inner = sorted(math.atan2(-(b - 0.5), 1 - a) for (a, b), c in zip(X, y) if c == 1)
    # outer: (cos t, sin t); inner: (1 - cos t, 0.5 - sin t); t = pi*i/(n-1), i = 0..n-1
    assert outer == pytest.approx([math.pi * i / 19 for i in range(20)], abs=1e-12)
    assert inner == pytest.approx([math.pi * i / 20 for i in range(21)], abs=1e-12)


def test_moons_are_shuffled():
    _, y = moons(100)
    assert y != sorted(y)


def test_moons_noise_is_gaussian_with_the_requested_spread():
    clean, _ = moons(4000, noise=0.0, seed=5)
    noisy, _ = moons(4000, noise=0.1, seed=5)       # same shuffle, then noise
    d = [b - a for p, q in zip(clean, noisy) for a, b in zip(p, q)]
    mean = sum(d) / len(d)
    std = math.sqrt(sum((x - mean) ** 2 for x in d) / len(d))
    assert abs(mean) < 0.005 and abs(std - 0.1) < 0.005   # > 4 standard errors


@pytest.mark.parametrize("kwargs", [{"n_samples": 1}, {"n_samples": 2.0}, {"noise": -0.1}])
def test_moons_reject_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        moons(**kwargs)


# ---------------------------------------------------------------- training vs 0.1.0

NOTEBOOK = """
import gc, random
from micrograd.engine import Value
from micrograd.nn import MLP
gc.disable()                      # ~7x faster; does not change any number
X, y = {X!r}, {y!r}
random.seed(1337)
model = MLP(2, [16, 16, 1])

# the demo notebook's loss() and optimisation loop, verbatim but for numpy batching
def loss(batch_size=None):
    Xb, yb = X, y
    inputs = [list(map(Value, xrow)) for xrow in Xb]
    scores = list(map(model, inputs))
    losses = [(1 + -yi*scorei).relu() for yi, scorei in zip(yb, scores)]
    data_loss = sum(losses) * (1.0 / len(losses))
    alpha = 1e-4
    reg_loss = alpha * sum((p*p for p in model.parameters()))
    total_loss = data_loss + reg_loss
    accuracy = [(yi > 0) == (scorei.data > 0) for yi, scorei in zip(yb, scores)]
    return total_loss, sum(accuracy) / len(accuracy)

result = {{"losses": [], "accuracies": [], "repr": repr(model),
          "nparams": len(model.parameters())}}
for k in range({steps}):
    total_loss, acc = loss()
    model.zero_grad()
    total_loss.backward()
    learning_rate = 1.0 - 0.9*k/100
    for p in model.parameters():
        p.data -= learning_rate * p.grad
    result["losses"].append(total_loss.data)
    result["accuracies"].append(acc)
"""


@needs_oracle
def test_twenty_demo_steps_match_the_notebook_under_micrograd_0_1_0():
    X, y = moons(100, noise=0.1, seed=1337)
    theirs = run_original(NOTEBOOK.format(X=X, y=y, steps=20))
    random.seed(1337)
    model = MLP(2, [16, 16, 1])
    history = train(model, X, y, 20, horizon=100)
    assert repr(model) == theirs["repr"]
    assert len(model.parameters()) == theirs["nparams"] == 337
    assert [h[0] for h in history] == pytest.approx(theirs["losses"], rel=0, abs=1e-9)
    assert [h[1] for h in history] == theirs["accuracies"]
    assert theirs["losses"][-1] < theirs["losses"][0]            # it did train


# ---------------------------------------------------------------- command line

STEP = re.compile(r"^step +(\d+)  loss ([\d.]+)  accuracy +([\d.]+)%  +[\d.]+ ms$", re.M)


def demo(*args, prelude=None):
    """python -m micrograd.demo ARGS from the repository root, as a user runs it;
    with `prelude`, that code runs first in the same interpreter."""
    cmd = ["-m", "micrograd.demo"] if prelude is None else ["-c", f"import runpy, sys\n"
           f"{prelude}\nrunpy.run_module('micrograd.demo', run_name='__main__')"]
    return subprocess.run([sys.executable, *cmd, *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def steps(out):
    return [(int(k), float(loss), float(acc)) for k, loss, acc in STEP.findall(out.stdout)]


def test_default_run_trains_100_steps_to_full_training_accuracy():
    out = demo()
    assert out.returncode == 0, out.stderr
    assert [s[0] for s in steps(out)] == list(range(100))
    assert "100 points" in out.stdout and "337 parameters" in out.stdout
    done = re.search(r"done: 100 steps in [\d.]+ s \(([\d.]+) steps/s, ([\d.]+) ms/step\); "
                     r"trained model: loss [\d.]+, accuracy ([\d.]+)%", out.stdout)
    assert done and float(done[3]) == 100.0
    assert float(done[1]) * float(done[2]) == pytest.approx(1000, rel=0.02)


def test_steps_option_sets_the_number_of_steps():
    out = demo("--steps", 3)
    assert out.returncode == 0, out.stderr
    assert [s[0] for s in steps(out)] == [0, 1, 2] and "done: 3 steps" in out.stdout


def test_seed_option_makes_runs_reproducible_and_different_across_seeds():
    a, b, c = demo("--steps", 2, "--seed", 1), demo("--steps", 2, "--seed", 1), \
        demo("--steps", 2, "--seed", 2)
    assert steps(a) == steps(b) and len(steps(a)) == 2
    assert steps(a)[0][1] != steps(c)[0][1]


def test_samples_option_sets_the_number_of_points():
    out = demo("--steps", 1, "--samples", 10)
    assert out.returncode == 0, out.stderr
    assert "10 points" in out.stdout and len(steps(out)) == 1


def test_hidden_option_sets_the_layer_sizes():
    out = demo("--steps", 1, "--hidden", "4,4")
    assert "MLP(2, [4, 4, 1])" in out.stdout
    assert f"{(2 * 4 + 4) + (4 * 4 + 4) + (4 + 1)} parameters" in out.stdout


def test_activation_option_changes_the_hidden_activation():
    relu, tanh = demo("--steps", 1), demo("--steps", 1, "--activation", "tanh")
    assert tanh.returncode == 0, tanh.stderr
    assert "tanh hidden layers" in tanh.stdout
    assert steps(tanh)[0][1] != steps(relu)[0][1]      # same init, other activation


@pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None,
                    reason="matplotlib not installed (pip install matplotlib)")
def test_plot_option_writes_a_png(tmp_path):
    out = demo("--steps", 2, "--plot", tmp_path / "boundary.png")
    assert out.returncode == 0, out.stderr
    png = (tmp_path / "boundary.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert width > 100 and height > 100


def test_plot_without_matplotlib_exits_before_training_with_an_install_hint(tmp_path):
    out = demo("--plot", tmp_path / "b.png", prelude="sys.modules['matplotlib'] = None")
    assert out.returncode == 1
    assert "pip install matplotlib" in out.stderr and "viz" in out.stderr
    assert "Traceback" not in out.stderr and not steps(out)


@needs_oracle
def test_compare_option_reports_speed_ratio_and_agreement_with_0_1_0():
    out = demo("--steps", 2, "--compare")
    assert out.returncode == 0, out.stderr
    assert re.search(r"micrograd 0\.1\.0: [\d.]+ ms/step, this package: [\d.]+ ms/step "
                     r"\(first 2 steps\): [\d.]+x faster", out.stdout)
    assert "losses agree within 1e-09: yes" in out.stdout
    assert "accuracies equal: yes" in out.stdout


def test_compare_with_an_activation_the_original_lacks_is_skipped():
    out = demo("--steps", 1, "--activation", "sigmoid", "--compare")
    assert out.returncode == 0 and "compare: skipped" in out.stdout


@pytest.mark.parametrize("args", [
    ["--steps", "0"], ["--steps", "-3"], ["--steps", "ten"], ["--seed", "1.5"],
    ["--samples", "1"], ["--hidden", "16,,16"], ["--hidden", "0"], ["--hidden", "a"],
    ["--activation", "gelu"], ["--plot", "boundary.jpg"], ["--plot", "/no/such/dir/b.png"],
    ["--steps"], ["--bogus"]])
def test_bad_option_values_give_a_usage_error_not_a_traceback(args):
    out = demo(*args)
    assert out.returncode == 2
    assert out.stderr.startswith("usage: ") and "error:" in out.stderr
    assert "Traceback" not in out.stderr and not out.stdout
