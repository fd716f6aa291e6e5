"""The demo: its two-moons data (checked with math), its training (checked against the
notebook's code under micrograd 0.1.0), and its command line (run as a user runs it),
with its pictures: the plot's two panels and the neuron graph (its numbers checked
against the neuron's math, its structure against the neuron's expression)."""
import importlib.util
import math
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from micrograd.data import moons
from micrograd.demo.moons import figure, train, train_fast
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


needs_matplotlib = pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None,
                                      reason="matplotlib not installed (pip install matplotlib)")


def png_size(path):
    """(width, height) of a PNG file; fails unless it starts as a PNG does."""
    png = path.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


@needs_matplotlib
def test_plot_option_writes_one_png_with_boundary_and_loss_curve_side_by_side(tmp_path):
    out = demo("--steps", 2, "--plot", tmp_path / "boundary.png")
    assert out.returncode == 0, out.stderr
    assert f"decision boundary and loss curve saved to {tmp_path / 'boundary.png'}" in out.stdout
    assert [p.name for p in tmp_path.iterdir()] == ["boundary.png"]
    width, height = png_size(tmp_path / "boundary.png")
    assert height > 100 and width >= 2 * height          # two panels of about 4:3 in a row


@needs_matplotlib
def test_plot_figure_draws_the_training_loss_of_every_step():
    X, y = moons(10, seed=2)
    random.seed(2)
    model = MLP(2, [4, 1])
    losses = [h[0] for h in train(model, X, y, 3)]
    fig = figure(model, X, y, losses)
    boundary, curve = fig.axes
    assert curve.get_xlabel() == "step" and "loss" in curve.get_ylabel()
    [line] = curve.get_lines()
    assert list(line.get_xdata()) == [0, 1, 2] and list(line.get_ydata()) == losses
    assert not boundary.get_lines() and boundary.collections   # contour and points


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
    ["--graph", "neuron.jpg"], ["--graph", "neuron"], ["--graph", "/no/such/dir/n.svg"],
    ["--steps"], ["--bogus"]])
def test_bad_option_values_give_a_usage_error_not_a_traceback(args):
    out = demo(*args)
    assert out.returncode == 2
    assert out.stderr.startswith("usage: ") and "error:" in out.stderr
    assert "Traceback" not in out.stderr and not out.stdout


# ---------------------------------------------------------------- --graph

NODE = re.compile(r'  (\w+) \[label="([^"]*)" shape=(record|ellipse)\]')
EDGE = re.compile(r"  (\w+) -> (\w+)")
RECORD = re.compile(r"\{ (?:(\w+) \| )?data (-?[\d.]+) \| grad (-?[\d.]+) \}")
DRAWN = re.compile(r"graph of the first hidden neuron on point (\d+) \((-?[\d.]+), "
                   r"(-?[\d.]+)\), after one backward step, saved to ")
HAS_GRAPHVIZ = importlib.util.find_spec("graphviz") is not None
HAS_DOT = shutil.which("dot") is not None
NO_GRAPHVIZ = "sys.modules['graphviz'] = None"
NO_DOT = "import os; os.environ['PATH'] = '/nonexistent'"


def neuron_dot(path):
    """(records {name: (label, data, grad)}, ops {name: op}, edges) of the demo's DOT file."""
    records, ops, edges = {}, {}, []
    for line in path.read_text().splitlines()[2:-1]:     # after `digraph {`, `rankdir=LR`
        if m := NODE.fullmatch(line):
            if m[3] == "ellipse":
                ops[m[1]] = m[2]
            else:
                r = RECORD.fullmatch(m[2])
                assert r, m[2]
                records[m[1]] = (r[1], float(r[2]), float(r[3]))
        else:
            m = EDGE.fullmatch(line)
            assert m, f"unexpected DOT line {line!r}"
            edges.append((m[1], m[2]))
    return records, ops, edges


def test_graph_dot_file_holds_one_two_input_relu_neuron(tmp_path):
    out = demo("--steps", 1, "--graph", tmp_path / "neuron.dot")
    assert out.returncode == 0, out.stderr
    records, ops, edges = neuron_dot(tmp_path / "neuron.dot")
    # relu(b + w1*x1 + w2*x2): a * and a + per input, one ReLU; 5 leaves, 5 results
    assert sorted(ops.values()) == ["*", "*", "+", "+", "ReLU"]
    assert len(records) == 10
    assert sorted(r[0] for r in records.values() if r[0]) == ["b", "out", "w1", "w2", "x1", "x2"]
    fan_in = {op: sum(head == op for _, head in edges) for op in ops}
    assert all(fan_in[op] == (1 if ops[op] == "ReLU" else 2) for op in ops)
    assert all(sum(tail == op for tail, _ in edges) == 1 for op in ops)   # one result each
    assert len(edges) == len(ops) + sum(fan_in.values())


def test_graph_shows_data_and_grads_of_the_first_point_the_neuron_passes(tmp_path):
    out = demo("--steps", 1, "--graph", tmp_path / "neuron.dot")
    assert out.returncode == 0, out.stderr
    drawn = DRAWN.search(out.stdout)
    k, X = int(drawn[1]), moons(100, noise=0.1, seed=1337)[0]
    assert (float(drawn[2]), float(drawn[3])) == pytest.approx(X[k], abs=5e-5)
    v = {label: (data, grad) for label, data, grad in neuron_dot(tmp_path / "neuron.dot")[0]
         .values() if label}
    assert (v["x1"][0], v["x2"][0]) == pytest.approx(X[k], abs=5e-5)
    (w1, _), (w2, _), (b, _) = v["w1"], v["w2"], v["b"]
    act = b + w1 * X[k][0] + w2 * X[k][1]
    assert act > 0 and v["out"] == pytest.approx((act, 1.0), abs=1e-3)
    assert all(b + w1 * x1 + w2 * x2 < 1e-3 for x1, x2 in X[:k])   # earlier points: relu 0
    # d out/d x_i = w_i, d out/d w_i = x_i, d out/d b = 1, where relu passes
    assert v["x1"][1] == pytest.approx(w1, abs=1e-4) and v["x2"][1] == pytest.approx(w2, abs=1e-4)
    assert v["w1"][1] == pytest.approx(X[k][0], abs=1e-4)
    assert v["w2"][1] == pytest.approx(X[k][1], abs=1e-4)
    assert v["b"][1] == 1.0


def test_graph_dot_file_needs_neither_graphviz_nor_dot(tmp_path):
    out = demo("--steps", 1, "--graph", tmp_path / "neuron.dot",
               prelude=f"{NO_GRAPHVIZ}\n{NO_DOT}")
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "neuron.dot").read_text().startswith("digraph {")


@pytest.mark.skipif(not (HAS_GRAPHVIZ and HAS_DOT), reason="needs the graphviz package "
                    "(pip install graphviz) and the dot program (apt install graphviz)")
@pytest.mark.parametrize("ext, magic", [("svg", b"<?xml"), ("png", b"\x89PNG\r\n\x1a\n"),
                                        ("pdf", b"%PDF-")])
def test_graph_renders_in_the_format_of_the_file_extension(tmp_path, ext, magic):
    out = demo("--steps", 1, "--graph", tmp_path / f"neuron.{ext}")
    assert out.returncode == 0, out.stderr
    assert [p.name for p in tmp_path.iterdir()] == [f"neuron.{ext}"]   # no stray DOT source
    image = (tmp_path / f"neuron.{ext}").read_bytes()
    assert image.startswith(magic)
    if ext == "svg":                     # 10 Values and 5 ops, each a node; labels shown
        assert image.count(b'class="node"') == 15
        assert all(f">{t}<".encode() in image for t in ["x1", "w2", "b", "out", "ReLU"])


@pytest.mark.parametrize("prelude, hints", [
    (NO_GRAPHVIZ, ["pip install graphviz", "micrograd-c[viz]"]),
    (NO_DOT, ["'dot' program", "apt install graphviz"])])
def test_graph_without_graphviz_exits_before_training_with_an_install_hint(tmp_path, prelude,
                                                                           hints):
    out = demo("--graph", tmp_path / "neuron.svg", prelude=prelude)
    assert out.returncode == 1
    assert all(hint in out.stderr for hint in hints + ["--graph FILE.dot"])
    assert "Traceback" not in out.stderr and not steps(out)
    assert not (tmp_path / "neuron.svg").exists()


# ---------------------------------------------------------------- --fast



def test_fast_path_matches_the_notebooks_losses_and_accuracies_step_by_step():
    X, y = moons(100, noise=0.1, seed=1337)
    random.seed(1337)
    slow = train(MLP(2, [16, 16, 1]), X, y, 30, horizon=100)
    random.seed(1337)
    model = MLP(2, [16, 16, 1], fused=True)
    fast = train_fast(model, X, y, 30, horizon=100)
    assert [h[0] for h in fast] == pytest.approx([h[0] for h in slow], rel=1e-9, abs=0)
    assert [h[1] for h in fast] == [h[1] for h in slow]
    assert fast[-1][0] < fast[0][0]


def test_fast_option_trains_100_steps_to_full_training_accuracy():
    out = demo("--fast")
    assert out.returncode == 0, out.stderr
    assert "one point's graph over the batch (--fast)" in out.stdout
    assert [s[0] for s in steps(out)] == list(range(100))
    assert re.search(r"done: 100 steps .* accuracy 100\.0%$", out.stdout, re.M)


def test_fast_option_gives_the_default_runs_printed_losses():
    slow, fast = demo("--steps", 5), demo("--steps", 5, "--fast")
    assert fast.returncode == 0, fast.stderr
    assert steps(fast) == steps(slow) and len(steps(fast)) == 5


def test_help_names_both_examples():
    out = demo("--help")
    assert out.returncode == 0 and "[moons]" in out.stdout and "digits --help" in out.stdout
    assert "--fast" in out.stdout


def test_moons_named_first_is_the_default_example():
    named, default = demo("moons", "--steps", 2), demo("--steps", 2)
    assert named.returncode == 0, named.stderr
    assert steps(named) == steps(default) and len(steps(named)) == 2
