"""Batch on models: MLPs, fused and not, with mse, hinge and index cross-entropy, against
the eager graph on each row (bits) and against PyTorch (per-row losses and the mean's
grads, within 1e-12); cross-entropy at logits of +-1000; labels as data; training the
moons demo through a Batch beside the notebook's eager full-batch graph; a soak.
Not here: random DAGs, ints, threads and kernels (test_batch.py), errors
(test_batch_errors.py).
"""
import gc
import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from micrograd import losses
from micrograd.data import moons
from micrograd.demo import moons as demo
from micrograd.engine import Batch, Value
from micrograd.nn import MLP
from micrograd.optim import SGD
from micrograd.nn import to_torch
from batching import Graph, bits, check, random_rows, rows
from test_memory import rss_bytes

NIN, CLASSES = 4, 3


def value_cross_entropy(logits, t):
    """cross_entropy(logits, t) with t a Value holding the class index, or a skip while
    cross_entropy refuses a Value (the "pick" op comes from another branch)."""
    try:
        return losses.cross_entropy(logits, t)
    except TypeError as e:
        pytest.skip(f"cross_entropy refuses a Value target until the pick op lands: {e}")


def loss_graph(loss, fused, seed=2):
    """(graph, model) of one example's loss; inputs: NIN features, then the targets."""
    random.seed(seed)
    nout = 1 if loss == "hinge" else CLASSES
    model = MLP(NIN, [8, 6, nout], fused=fused)
    xs = [Value(0.0) for _ in range(NIN)]
    out = model(xs)
    out = out if isinstance(out, list) else [out]
    if loss == "mse":
        ts = [Value(0.0) for _ in range(nout)]
        root = losses.mse(out, ts)
    elif loss == "hinge":
        ts = [Value(1.0)]
        root = losses.hinge(out, ts)
    else:
        ts = [Value(0.0)]
        root = value_cross_entropy(out, ts[0])
    return Graph(root, xs + ts, model.parameters(), xs + ts + out + [root]), model


def targets(loss, n, seed):
    rng = np.random.default_rng(seed)
    if loss == "mse":
        return rng.uniform(-1, 1, size=(n, CLASSES)).tolist()
    if loss == "hinge":
        return rng.choice([-1.0, 1.0], size=(n, 1)).tolist()
    return rng.integers(0, CLASSES, size=(n, 1)).astype(float).tolist()


def batch_rows(loss, n, seed=0):
    return [x + t for x, t in zip(random_rows(n, NIN, seed, 2.0), targets(loss, n, seed + 1))]


def torch_losses(loss, model, X):
    """Per-row losses of the same model in PyTorch, and its parameters' grads of the mean,
    in model.parameters()'s order."""
    net = to_torch(model)
    X = torch.tensor(X, dtype=torch.float64)
    out = net(X[:, :NIN])
    if loss == "mse":
        per_row = ((out - X[:, NIN:]) ** 2).mean(1)
    elif loss == "hinge":
        per_row = F.relu(1 - X[:, NIN] * out[:, 0])
    else:
        per_row = F.cross_entropy(out, X[:, NIN].long(), reduction="none")
    per_row.mean().backward()
    linears = [m for m in net if isinstance(m, torch.nn.Linear)]
    grads = []
    for lin in linears:
        for j in range(lin.out_features):
            grads += lin.weight.grad[j].tolist() + [lin.bias.grad[j].item()]
    return per_row.tolist(), grads


LOSSES = ["mse", "hinge", "cross_entropy"]


@pytest.mark.parametrize("fused", [False, True], ids=["unfused", "fused"])
@pytest.mark.parametrize("loss", LOSSES)
def test_an_mlps_loss_over_rows_matches_the_eager_graph(loss, fused):
    g, _ = loss_graph(loss, fused)
    batch = Batch(g.root, g.inputs)
    check(batch, g, batch_rows(loss, 31, 3))
    for v in g.shared:
        v.grad = 0
    check(batch, g, batch_rows(loss, 4, 5), "sum")


@pytest.mark.parametrize("fused", [False, True], ids=["unfused", "fused"])
@pytest.mark.parametrize("loss", LOSSES)
def test_an_mlps_loss_over_rows_matches_pytorch(loss, fused):
    g, model = loss_graph(loss, fused)
    X = batch_rows(loss, 23, 8)
    want, want_grads = torch_losses(loss, model, X)
    batch = Batch(g.root, g.inputs)
    assert list(batch.forward(np.array(X))) == pytest.approx(want, rel=1e-12, abs=1e-12)
    batch.backward()
    scale = max(map(abs, want_grads))
    assert [v.grad for v in g.shared] == pytest.approx(want_grads, rel=1e-10, abs=1e-12 * scale)


def test_cross_entropy_at_logits_of_plus_minus_1000_matches_pytorch():
    zs, t = [Value(0.0) for _ in range(CLASSES)], Value(0.0)
    root = value_cross_entropy(zs, t)
    rng = np.random.default_rng(9)
    Z = rng.choice([-1000.0, 1000.0], size=(12, CLASSES)) + rng.uniform(-1, 1, (12, CLASSES))
    T = rng.integers(0, CLASSES, 12)
    X = np.column_stack([Z, T.astype(float)])
    g = Graph(root, zs + [t], [], zs + [t, root])
    check(Batch(root, g.inputs), g, X.tolist())
    batch = Batch(root, g.inputs)
    out = batch.forward(X)
    tz = torch.tensor(Z, requires_grad=True)
    want = F.cross_entropy(tz, torch.tensor(T), reduction="none")
    want.mean().backward()
    assert list(out) == pytest.approx(want.tolist(), rel=1e-12, abs=1e-12)
    batch.backward()
    got = rows(batch.grad(zs), CLASSES)
    assert np.allclose(got, tz.grad.numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("bad", [3.0, -4.0, 1.5, float("nan")])
def test_a_class_index_out_of_range_or_not_whole_names_it_and_the_row(bad):
    zs, t = [Value(0.0) for _ in range(CLASSES)], Value(0.0)
    root = value_cross_entropy(zs, t)
    t.data = bad
    with pytest.raises(Exception) as eager_error:      # what the eager graph raises
        root.forward()
    X = [[0.1, 0.2, 0.3, 0.0], [0.1, 0.2, 0.3, 2.0], [0.1, 0.2, 0.3, bad]]
    with pytest.raises(type(eager_error.value)) as e:
        Batch(root, zs + [t]).forward(X)
    names = {repr(bad)} | ({str(int(bad))} if bad == bad and bad == int(bad) else set())
    assert any(name in str(e.value) for name in names), e.value
    assert "row 2" in str(e.value), e.value


# ---------------------------------------------------------------- training

def moons_batch(model, alpha=1e-4):
    """One example's loss of the demo: the notebook's hinge of a score plus its L2 term
    (a node of no input, computed once per forward): inputs x0, x1, y."""
    x0, x1, y = Value(0.0), Value(0.0), Value(1.0)
    score = model([x0, x1])
    reg = alpha * sum((p * p for p in model.parameters()))
    root = (1 + -y * score).relu() + reg
    return Batch(root, [x0, x1, y]), score


def test_moons_through_a_batch_tracks_the_eager_full_batch_loss_and_learns():
    X, y = moons(100, noise=0.1, seed=1337)
    random.seed(1337)
    eager_model = MLP(2, [16, 16, 1])
    random.seed(1337)
    model = MLP(2, [16, 16, 1])
    batch, score = moons_batch(model)
    rows_ = np.column_stack([np.asarray(X, dtype=float), np.asarray(y, dtype=float)])
    opt = SGD(model.parameters(), lr=demo.learning_rate(0, 100))
    for k in range(100):
        loss = sum(batch.forward(rows_)) / len(rows_)
        opt.zero_grad()
        batch.backward()
        opt.lr = demo.learning_rate(k, 100)
        opt.step()
        if k < 30:
            eager_loss, _ = demo.step(eager_model, X, y, demo.learning_rate(k, 100))
            assert loss == pytest.approx(eager_loss, rel=1e-9), k
    batch.forward(rows_)
    scores = batch.data([score])
    accuracy = np.mean([(yi > 0) == (s > 0) for yi, s in zip(y, scores)])
    assert accuracy == 1.0


@pytest.mark.slow                         # tests/conftest.py skips it unless pytest -m slow
def test_ten_thousand_batch_steps_keep_rss_flat():
    random.seed(0)
    model = MLP(2, [16, 16, 1], fused=True)
    batch, _ = moons_batch(model)
    X, y = moons(64, noise=0.1, seed=3)
    rows_ = np.column_stack([np.asarray(X, dtype=float), np.asarray(y, dtype=float)])
    opt = SGD(model.parameters(), lr=0.05)

    def steps(n):
        for _ in range(n):
            batch.forward(rows_)
            opt.zero_grad()
            batch.backward()
            opt.step()
    steps(500)                            # warm-up: the heap settles
    gc.collect()
    before = rss_bytes()
    steps(10_000)
    gc.collect()
    assert rss_bytes() - before < 1 << 20, "RSS grew by more than 1 MiB"
