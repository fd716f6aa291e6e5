"""python -m micrograd.demo digits: the split, one image's graph run over a batch (checked
against graphs built afresh), the progress bar, and the command line as a user runs it."""
import importlib.util
import io
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

from micrograd.demo import cli, digits
from micrograd.engine import Value
from micrograd.losses import cross_entropy
from micrograd.nn import MLP, load

ROOT = Path(__file__).resolve().parents[1]
HAS_SKLEARN = importlib.util.find_spec("sklearn") is not None
needs_sklearn = pytest.mark.skipif(not HAS_SKLEARN, reason="scikit-learn not installed: "
                                   "pip install 'micrograd-c[data]'")
needs_matplotlib = pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None,
                                      reason="matplotlib not installed (pip install matplotlib)")

EPOCH = re.compile(r"^epoch +(\d+)/(\d+)  loss ([\d.]+)  train +([\d.]+)%  held-out +([\d.]+)%"
                   r"  +[\d.]+ s$", re.M)
DONE = re.compile(r"^done: (\d+) epochs in ([\d.]+) s \(one image's graph built once in "
                  r"([\d.]+) s, then ([\d.]+) s/epoch with the accuracies\); "
                  r"held-out accuracy ([\d.]+)%$", re.M)


def run(*args, prelude=None):
    """python -m micrograd.demo digits ARGS, from the repository root."""
    cmd = ["-m", "micrograd.demo"] if prelude is None else ["-c", f"import runpy, sys\n"
           f"{prelude}\nrunpy.run_module('micrograd.demo', run_name='__main__')"]
    return subprocess.run([sys.executable, *cmd, "digits", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)


def epochs(out):
    return [(int(e), float(loss), float(tr), float(te)) for e, _, loss, tr, te
            in EPOCH.findall(out.stdout)]


# ---------------------------------------------------------------- data


@needs_sklearn
def test_split_is_fixed_by_the_seed_disjoint_and_of_the_asked_size():
    import numpy as np
    X, y, Xt, yt = digits.data(0.2, seed=3)
    X2, y2, Xt2, yt2 = digits.data(0.2, seed=3)
    assert (X == X2).all() and (yt == yt2).all()
    assert not (digits.data(0.2, seed=4)[3] == yt).all()
    assert (len(X), len(Xt)) == (1797 - 359, 359) and X.shape[1] == 64
    assert X.dtype == np.float64 and 0 <= X.min() and X.max() == 1.0
    assert set(yt) == set(range(10))
    train_rows, test_rows = {r.tobytes() for r in X}, {r.tobytes() for r in Xt}
    assert len(train_rows & test_rows) < 5            # the data set has a few duplicates


@needs_sklearn
def test_samples_takes_a_subset():
    X, _, Xt, _ = digits.data(0.25, seed=1, samples=100)
    assert (len(X), len(Xt)) == (75, 25)


# ---------------------------------------------------------------- one image's graph over a batch


def fresh(model, X, y, rows):
    """The mean cross-entropy and the predicted classes of a graph built afresh per image."""
    logits = [model(list(map(Value, X[i].tolist()))) for i in rows]
    loss = cross_entropy(logits, [int(y[i]) for i in rows])
    return loss.data, [max(range(10), key=lambda c: z[c].data) for z in logits]


@needs_sklearn
def test_a_batch_gives_what_graphs_built_afresh_give_batch_after_batch():
    X, y, _, _ = digits.data(0.2, seed=1)
    random.seed(1)
    model = MLP(64, [8, 10], fused=True)
    graph = digits.BatchModel(model)
    for rows in ([0, 1, 2, 3], [7, 5, 9, 11, 13], [2]):     # other images, other sizes
        loss, predicted = graph.run(X[rows], y[rows])
        want_loss, want_classes = fresh(model, X, y, rows)
        assert loss == pytest.approx(want_loss, rel=1e-12)
        assert predicted.tolist() == want_classes


@needs_sklearn
def test_a_training_step_is_the_mean_cross_entropys_step():
    X, y, _, _ = digits.data(0.2, seed=1)
    random.seed(1)
    model = MLP(64, [8, 10], fused=True)
    graph, rows = digits.BatchModel(model), [3, 1, 4, 1, 5]
    graph.run(X[rows], y[rows])
    model.zero_grad()
    graph.batch.backward()
    got = [p.grad for p in model.parameters()]
    model.zero_grad()
    logits = [model(list(map(Value, X[i].tolist()))) for i in rows]
    cross_entropy(logits, [int(y[i]) for i in rows]).backward()
    assert got == pytest.approx([p.grad for p in model.parameters()], rel=1e-9, abs=1e-15)
    assert any(got)


@needs_sklearn
def test_accuracy_counts_every_image_once():
    X, y, _, _ = digits.data(0.2, seed=1)
    random.seed(1)
    model = MLP(64, [8, 10], fused=True)
    _, classes = fresh(model, X, y, range(10))
    right = sum(c == y[i] for i, c in enumerate(classes))
    assert digits.BatchModel(model).accuracy(X[:10], y[:10]) == right / 10


# ---------------------------------------------------------------- progress bar


class Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize("stderr, drawn", [(Terminal, True), (io.StringIO, False)])
def test_builtin_progress_bar_yields_everything_and_draws_only_on_a_terminal(monkeypatch,
                                                                             stderr, drawn):
    monkeypatch.setitem(sys.modules, "tqdm", None)            # as if tqdm were missing
    err = stderr()
    monkeypatch.setattr(sys, "stderr", err)
    assert list(cli.progress(iter("abcd"), 4, "epoch 1/2")) == list("abcd")
    if drawn:
        assert "epoch 1/2 [" in err.getvalue() and "] 4/4 " in err.getvalue()
        assert err.getvalue().endswith("\r")                  # and leaves the line blank
    else:
        assert err.getvalue() == ""


def test_progress_uses_tqdm_when_it_is_installed():
    tqdm = pytest.importorskip("tqdm")
    assert isinstance(cli.progress(range(3), 3, "x"), tqdm.tqdm)


# ---------------------------------------------------------------- command line


@needs_sklearn
@needs_matplotlib
def test_a_short_run_learns_and_writes_the_plot(tmp_path):
    out = run("--epochs", 3, "--samples", 1000, "--hidden", 16, "--plot", tmp_path / "d.png",
              "--save", tmp_path / "m.json")
    assert out.returncode == 0, out.stderr
    assert "1000 images of 8x8 pixels, 800 for training, 200 held out" in out.stdout
    e = epochs(out)
    assert [x[0] for x in e] == [1, 2, 3]
    assert e[-1][1] < e[0][1] and e[-1][2] > e[0][2]            # loss down, accuracy up
    assert e[-1][3] > 50                                        # chance is 10%
    done = DONE.search(out.stdout)
    assert done and float(done[5]) == e[-1][3]
    png = (tmp_path / "d.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert "loss and accuracy curves saved to" in out.stdout
    model = load(MLP(64, [16, 10]), tmp_path / "m.json")        # the trained model
    assert model.layers[1].neurons[0].b.data != 0


@needs_sklearn
@needs_matplotlib
def test_plot_draws_the_loss_and_both_accuracies_per_epoch(tmp_path, monkeypatch):
    figures = []
    monkeypatch.setattr(digits.plots, "save", lambda fig, path: figures.append(fig))
    history = [(2.0, 0.5, 0.4, 1.0), (1.0, 0.8, 0.7, 1.0), (0.5, 0.9, 0.85, 1.0)]
    digits.plot(history, tmp_path / "d.png")
    loss, acc = figures[0].axes
    assert list(loss.get_lines()[0].get_ydata()) == [2.0, 1.0, 0.5]
    assert list(loss.get_lines()[0].get_xdata()) == [1, 2, 3]
    assert [list(line.get_ydata()) for line in acc.get_lines()] == [[50, 80, 90], [40, 70, 85]]


@pytest.mark.parametrize("missing", ["sklearn", "numpy"])
def test_without_scikit_learn_or_numpy_it_says_what_to_install(missing):
    out = run(prelude=f"sys.modules[{missing!r}] = None")
    assert out.returncode == 1
    assert "pip install 'micrograd-c[data]'" in out.stderr
    assert "Traceback" not in out.stderr and not out.stdout


@pytest.mark.parametrize("args", [
    ["--epochs", "0"], ["--batch-size", "x"], ["--lr", "0"], ["--lr", "-1"],
    ["--held-out", "1"], ["--held-out", "0"], ["--samples", "5"], ["--hidden", "0"],
    ["--activation", "linear"], ["--plot", "d.jpg"], ["--save", "/no/such/dir/m.json"],
    ["--bogus"]])
def test_bad_option_values_give_a_usage_error_not_a_traceback(args):
    out = run(*args)
    assert out.returncode == 2
    assert out.stderr.startswith("usage: python -m micrograd.demo digits")
    assert "Traceback" not in out.stderr and not out.stdout


@needs_sklearn
def test_a_batch_larger_than_the_training_set_is_an_error():
    out = run("--samples", 20, "--batch-size", 64)
    assert out.returncode == 1 and "--batch-size 64 is more than the 16 training images" \
        in out.stderr


@needs_sklearn
def test_a_held_out_set_of_no_images_is_an_error():
    out = run("--samples", 20, "--held-out", 0.01)
    assert out.returncode == 1 and "--held-out 0.01 of 20 images holds none out" in out.stderr


@needs_sklearn
def test_the_default_run_reaches_95_percent_on_held_out_digits():
    out = run()
    assert out.returncode == 0, out.stderr
    assert len(epochs(out)) == 20
    assert float(DONE.search(out.stdout)[5]) >= 95.0
