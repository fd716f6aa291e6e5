"""logsumexp and micrograd.losses against PyTorch float64.

Values and grads of logsumexp against torch.logsumexp (logits of +-1000, infinities,
one element); mse, hinge and cross_entropy (int targets, probability targets,
batches) against torch.nn.functional or the same torch expression, to relative
1e-12; cross_entropy stays finite at +-1000 and replays correctly when new logits
move the largest one (its shift is chosen at forward time), takes numpy targets as it
takes lists; bad inputs raise (a float class label with a message that says what to give).
A class label given as a Value (a pick node): the int label's loss and grads bit for
bit, PyTorch's, following the label's data at replay; bad labels raise at build and at
replay, and the graph works on.
Not here: replay of random graphs (test_replay.py).
"""
import math
import random
import re

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st

from micrograd import losses
from micrograd.gradcheck import gradcheck
from micrograd.engine import Value, get_grad, logsumexp, set_data, stats

F64 = torch.float64
INF = math.inf


def tensor(xs):
    return torch.tensor(xs, dtype=F64, requires_grad=True)


def close_all(ours, theirs, rel=1e-12, abs_tol=0.0):
    """Elementwise within rel of the larger magnitude in the vector (or abs_tol); nan
    matches nan, infinities match exactly."""
    scale = max([abs(t) for t in theirs if math.isfinite(t)] + [1e-300])
    for a, b in zip(ours, theirs, strict=True):
        if math.isnan(b) or math.isinf(b):
            assert (math.isnan(a) and math.isnan(b)) or a == b, (ours, theirs)
        else:
            assert abs(a - b) <= max(rel * max(abs(b), scale), abs_tol), (ours, theirs)


# ---------------------------------------------------------------- logsumexp

def rand_logits(seed, n, scale=3.0):
    rng = random.Random(seed)
    return [rng.uniform(-scale, scale) for _ in range(n)]


LSE_CASES = {
    "random": rand_logits(0, 7),
    "large": rand_logits(1, 5, 700.0),
    "plus minus 1000": [1000.0, -1000.0, 999.5],
    "all -1000": [-1000.0, -1000.0],
    "single": [0.375],
    "single 1000": [1000.0],
    "equal": [2.0, 2.0, 2.0],
    "+inf and -inf": [INF, -INF, 0.0],
    "all -inf": [-INF, -INF],
    "+inf": [INF, 1.0],
    "-inf among finite": [-INF, 1.0, -2.0],
    "nan": [math.nan, 1.0],
}


@pytest.mark.parametrize("name", LSE_CASES)
def test_logsumexp_matches_torch_values_and_grads(name):
    xs = LSE_CASES[name]
    vs = [Value(x) for x in xs]
    out = logsumexp(vs)
    out.backward()
    t = tensor(xs)
    tout = torch.logsumexp(t, 0)
    tout.backward()
    close_all([out.data], [tout.item()])
    close_all([v.grad for v in vs], t.grad.tolist())


@settings(max_examples=150, derandomize=True, deadline=None, database=None)
@given(st.lists(st.floats(-800, 800, allow_nan=False), min_size=1, max_size=9))
def test_logsumexp_of_random_logits_matches_torch(xs):
    vs = [Value(x) for x in xs]
    out = logsumexp(vs)
    out.backward()
    t = tensor(xs)
    torch.logsumexp(t, 0).backward()
    close_all([out.data], [torch.logsumexp(t.detach(), 0).item()])
    close_all([v.grad for v in vs], t.grad.tolist())


def test_gradcheck_passes_through_logsumexp_and_cross_entropy():
    assert gradcheck(lambda a, b, c: logsumexp([a, b * 2, c, a]).tanh(), [0.3, -0.7, 1.2])
    assert gradcheck(lambda a, b, c, p: losses.cross_entropy([a, b, c], [p, 1 - p, 0.25]),
                     [0.3, -0.7, 1.2, 0.4])


@pytest.mark.usefixtures("quiet_gc")
def test_logsumexp_is_one_node_over_its_values_and_numbers():
    x, y = Value(1.0), Value(2)
    live = stats()["live"]
    out = logsumexp([x, y, 0.5])
    assert stats()["live"] == live + 2            # the node and a leaf for 0.5
    assert out._op == "logsumexp" and len(out._prev) == 3
    assert type(out.data) is float
    close_all([out.data], [math.log(math.exp(1) + math.exp(2) + math.exp(0.5))])


def test_logsumexp_of_one_value_is_that_value():
    for x in (0.1, -1e300, 1e300, 3):
        assert logsumexp([Value(x)]).data == x


def test_logsumexp_of_nothing_is_value_error():
    with pytest.raises(ValueError):
        logsumexp([])
    with pytest.raises(ValueError):
        logsumexp(iter([]))


def test_logsumexp_of_a_non_number_is_type_error():
    with pytest.raises(TypeError):
        logsumexp([Value(1.0), "a"])


# ---------------------------------------------------------------- losses

def grads_of(vs):
    return [v.grad for v in vs]


@pytest.mark.parametrize("value_targets", [False, True])
def test_mse_matches_torch_mse_loss(value_targets):
    p, t = rand_logits(2, 6), rand_logits(3, 6)
    ps = [Value(x) for x in p]
    ts = [Value(x) for x in t] if value_targets else t
    out = losses.mse(ps, ts)
    out.backward()
    tp, tt = tensor(p), tensor(t)
    tout = F.mse_loss(tp, tt)
    tout.backward()
    close_all([out.data], [tout.item()])
    close_all(grads_of(ps), tp.grad.tolist())
    if value_targets:
        close_all(grads_of(ts), tt.grad.tolist())


def test_hinge_matches_the_torch_expression():
    s = rand_logits(4, 8, 2.0) + [1.0, -1.0]        # two on the kink's side: relu(0)
    y = [1, -1, 1, 1, -1, -1, 1, -1, 1, 1]
    ss = [Value(x) for x in s]
    out = losses.hinge(ss, y)
    out.backward()
    ts = tensor(s)
    tout = torch.relu(1 - torch.tensor(y, dtype=F64) * ts).mean()
    tout.backward()
    close_all([out.data], [tout.item()])
    close_all(grads_of(ss), ts.grad.tolist())


@pytest.mark.parametrize("target", [0, 2, 4, -1])
@pytest.mark.parametrize("scale", [3.0, 1000.0])
def test_cross_entropy_with_a_class_index_matches_torch(target, scale):
    z = rand_logits(5, 5, scale)
    zs = [Value(x) for x in z]
    out = losses.cross_entropy(zs, target)
    out.backward()
    tz = tensor(z)
    tout = F.cross_entropy(tz[None], torch.tensor([target % 5]))
    tout.backward()
    close_all([out.data], [tout.item()])
    close_all(grads_of(zs), tz.grad.tolist())


@pytest.mark.parametrize("kind", ["numbers", "values", "unnormalised values"])
def test_cross_entropy_with_probabilities_matches_torch(kind):
    z = rand_logits(6, 4)
    p = [0.1, 0.6, 0.0, 0.3] if kind != "unnormalised values" else [0.5, 2.0, 0.25, 1.0]
    zs = [Value(x) for x in z]
    ps = p if kind == "numbers" else [Value(x) for x in p]
    out = losses.cross_entropy(zs, ps)
    out.backward()
    tz, tp = tensor(z), tensor(p)
    tout = F.cross_entropy(tz[None], tp[None])
    tout.backward()
    close_all([out.data], [tout.item()])
    close_all(grads_of(zs), tz.grad.tolist())
    if kind != "numbers":
        close_all(grads_of(ps), tp.grad.tolist())


@pytest.mark.parametrize("kind", ["indices", "probabilities"])
def test_batched_cross_entropy_is_the_mean_as_torch(kind):
    Z = [rand_logits(10 + k, 3, 4.0) for k in range(5)]
    T = [2, 0, 1, 1, 0] if kind == "indices" else \
        [[0.2, 0.5, 0.3], [1.0, 0.0, 0.0], [0.0, 0.5, 0.5], [0.1, 0.1, 0.8], [0.3, 0.3, 0.4]]
    Zs = [[Value(x) for x in row] for row in Z]
    out = losses.cross_entropy(Zs, T)
    out.backward()
    tz = tensor(Z)
    tt = torch.tensor(T) if kind == "indices" else torch.tensor(T, dtype=F64)
    tout = F.cross_entropy(tz, tt)
    tout.backward()
    close_all([out.data], [tout.item()])
    close_all([v.grad for row in Zs for v in row], tz.grad.flatten().tolist())


def test_cross_entropy_is_finite_at_logits_of_plus_minus_1000():
    zs = [Value(1000.0), Value(-1000.0), Value(0.0)]
    out = losses.cross_entropy(zs, 1)
    out.backward()
    assert out.data == 2000.0
    assert grads_of(zs) == [1.0, -1.0, 0.0]


@pytest.mark.parametrize("scale", [1.0, 1000.0])
def test_cross_entropy_replays_when_the_largest_logit_moves(scale):
    """The shift (the largest logit) is chosen when forward() runs, not at build time."""
    zs = [Value(scale * x) for x in (3.0, -1.0, 0.5)]
    out = losses.cross_entropy(zs, 0)
    for new in ([-1.0, 3.0, 0.5], [0.5, -1.0, 3.0], [-2.0, -2.5, -1.0]):
        new = [scale * x for x in new]
        set_data(zs, new)
        out.forward()
        for v in zs:
            v.grad = 0
        out.backward()
        tz = tensor(new)
        tout = F.cross_entropy(tz[None], torch.tensor([0]))
        tout.backward()
        close_all([out.data], [tout.item()])
        close_all(grads_of(zs), tz.grad.tolist())
        fresh = losses.cross_entropy([Value(x) for x in new], 0)
        assert out.data == fresh.data


def test_cross_entropy_with_probability_values_replays_new_targets():
    zs, ts = [Value(x) for x in (0.5, -1.0, 2.0)], [Value(x) for x in (1.0, 0.0, 0.0)]
    out = losses.cross_entropy(zs, ts)
    set_data(ts, [0.0, 0.25, 0.75])
    set_data(zs, [3.0, 0.0, -1.0])
    out.forward()
    tout = F.cross_entropy(tensor([3.0, 0.0, -1.0])[None], tensor([0.0, 0.25, 0.75])[None])
    close_all([out.data], [tout.item()])


def test_mse_replays_new_predictions_and_targets():
    ps, ts = [Value(1.0), Value(2.0)], [Value(0.0), Value(0.0)]
    out = losses.mse(ps, ts)
    set_data(ps + ts, [0.5, -1.5, 2.0, 1.0])
    out.forward()
    close_all([out.data], [F.mse_loss(tensor([0.5, -1.5]), tensor([2.0, 1.0])).item()])


@pytest.mark.parametrize("call, exc", [
    (lambda: losses.mse([], []), ValueError),
    (lambda: losses.mse([Value(1.0)], [1.0, 2.0]), ValueError),
    (lambda: losses.hinge([], []), ValueError),
    (lambda: losses.hinge([Value(1.0), Value(2.0)], [1]), ValueError),
    (lambda: losses.cross_entropy([], 0), ValueError),
    (lambda: losses.cross_entropy([Value(1.0), Value(2.0)], 2), IndexError),
    (lambda: losses.cross_entropy([Value(1.0), Value(2.0)], -3), IndexError),
    (lambda: losses.cross_entropy([Value(1.0), Value(2.0)], [1.0]), ValueError),
    (lambda: losses.cross_entropy([Value(1.0), Value(2.0)], [0.5, 0.25, 0.25]), ValueError),
    (lambda: losses.cross_entropy([[Value(1.0)], [Value(2.0)]], [0]), ValueError),
    (lambda: losses.cross_entropy([[Value(1.0)], []], [0, 0]), ValueError),
    (lambda: losses.cross_entropy([[Value(1.0), Value(0.0)]], [5]), IndexError),
], ids=["mse empty", "mse lengths", "hinge empty", "hinge lengths", "ce no logits",
        "ce target too large", "ce target too small", "ce probs short", "ce probs long",
        "ce batch lengths", "ce empty row", "ce batch target range"])
def test_bad_loss_inputs_raise(call, exc):
    with pytest.raises(exc):
        call()


def test_cross_entropy_takes_a_numpy_int_class_index():
    np = pytest.importorskip("numpy")
    zs = [Value(1.0), Value(2.0), Value(0.5)]
    assert losses.cross_entropy(zs, np.int64(1)).data == losses.cross_entropy(zs, 1).data


@pytest.mark.parametrize("make", [
    lambda np: np.array([0.1, 0.6, 0.0, 0.3]),
    lambda np: np.array([0, 1, 0, 0]),                      # one-hot ints
    lambda np: np.array([0.1, 0.6, 0.0, 0.3], dtype=np.float32),  # summed as Python floats
    lambda np: np.eye(4)[2]],
    ids=["float64 probabilities", "int one-hot", "float32", "a row of np.eye"])
def test_cross_entropy_takes_numpy_probabilities_as_it_takes_a_list(make):
    np = pytest.importorskip("numpy")
    p = make(np)
    z = rand_logits(7, 4)
    zs, listed = [Value(x) for x in z], [Value(x) for x in z]
    out = losses.cross_entropy(zs, p)
    out.backward()
    same = losses.cross_entropy(listed, p.tolist())
    same.backward()
    assert out.data == same.data and grads_of(zs) == grads_of(listed)
    tz = tensor(z)
    tout = F.cross_entropy(tz[None], torch.tensor(p.tolist(), dtype=F64)[None])
    tout.backward()
    close_all([out.data], [tout.item()])
    close_all(grads_of(zs), tz.grad.tolist())


@pytest.mark.parametrize("kind", ["np.eye(k)[labels]", "labels array", "0-d label arrays"])
def test_batched_cross_entropy_takes_numpy_targets(kind):
    np = pytest.importorskip("numpy")
    labels = [2, 0, 1, 1, 0]
    T = {"np.eye(k)[labels]": np.eye(3)[labels], "labels array": np.array(labels),
         "0-d label arrays": [np.array(y) for y in labels]}[kind]
    Z = [rand_logits(20 + k, 3, 4.0) for k in range(5)]
    Zs = [[Value(x) for x in row] for row in Z]
    out = losses.cross_entropy(Zs, T)
    out.backward()
    tz = tensor(Z)
    tout = F.cross_entropy(tz, torch.tensor(labels))
    tout.backward()
    close_all([out.data], [tout.item()])
    close_all([v.grad for row in Zs for v in row], tz.grad.flatten().tolist())


@pytest.mark.parametrize("make, hint", [
    (lambda np: 1.0, "give the int 1 for class 1"),
    (lambda np: np.float64(2.0), "give the int 2 for class 2"),
    (lambda np: np.array(1.0), "give the int 1 for class 1"),
    (lambda np: True, "give the int 1 for class 1"),
    (lambda np: 0.5, None),
    (lambda np: "a", None)], ids=["1.0", "np.float64(2.0)", "np.array(1.0)", "True", "0.5", "'a'"])
def test_a_class_label_that_is_not_an_int_says_what_to_give(make, hint):
    np = pytest.importorskip("numpy")
    target = make(np)
    with pytest.raises(TypeError) as e:
        losses.cross_entropy([Value(1.0), Value(2.0), Value(0.5)], target)
    message = str(e.value)
    assert "class index (an int)" in message and "3 probabilities" in message, message
    assert type(target).__name__ in message and repr(target) in message, message
    assert (hint in message) if hint else "give the int" not in message, message


# ---------------------------------------------------------------- a class label as data

@settings(max_examples=100, derandomize=True, deadline=None, database=None)
@given(st.integers(1, 8).flatmap(lambda k: st.tuples(
    st.lists(st.floats(-1000, 1000, allow_nan=False), min_size=k, max_size=k),
    st.integers(-k, k - 1), st.booleans())))
def test_cross_entropy_with_a_value_label_is_the_int_label_s_bit_for_bit_and_torch_s(case):
    z, label, as_float = case
    zs, ints = [Value(x) for x in z], [Value(x) for x in z]
    t = Value(float(label) if as_float else label)
    out, same = losses.cross_entropy(zs, t), losses.cross_entropy(ints, label)
    out.backward()
    same.backward()
    assert out.data == same.data and grads_of(zs) == grads_of(ints) and t.grad == 0
    tz = tensor(z)
    tout = F.cross_entropy(tz[None], torch.tensor([label % len(z)]))
    tout.backward()
    # lse - z[t] cancels: rounding is relative to the logits, not to the loss
    assert abs(out.data - tout.item()) <= 1e-12 * max(1.0, *map(abs, z))
    # the grads are softmax - onehot: rounding of 1 - p is absolute (an ulp of 1), so it
    # dominates when every grad is tiny (the target's probability near 1)
    close_all(grads_of(zs), tz.grad.tolist(), rel=1e-12, abs_tol=4.5e-16)


def test_cross_entropy_follows_the_value_label_at_replay():
    z = rand_logits(30, 5, 1000.0)
    zs, t = [Value(x) for x in z], Value(0)
    out = losses.cross_entropy(zs, t)
    for label in (3, -1, 2.0, 0):
        t.data = label
        out.forward()
        for v in zs:
            v.grad = 0
        out.backward()
        fresh_zs = [Value(x) for x in z]
        fresh = losses.cross_entropy(fresh_zs, int(label))
        fresh.backward()
        assert out.data == fresh.data and grads_of(zs) == grads_of(fresh_zs)
        tz = tensor(z)
        F.cross_entropy(tz[None], torch.tensor([int(label) % 5])).backward()
        close_all(grads_of(zs), tz.grad.tolist())


def test_batched_cross_entropy_with_value_labels_replays_new_labels_as_torch():
    Z = [rand_logits(40 + k, 4, 4.0) for k in range(6)]
    Zs = [[Value(x) for x in row] for row in Z]
    ts = [Value(0) for _ in Z]
    out = losses.cross_entropy(Zs, ts)
    for labels in ([2, 0, 1, 3, 3, 0], [1, 1, 0, 2, 3, 2]):
        set_data(ts, labels)            # floats, as a batch's input column
        out.forward()
        for v in [v for row in Zs for v in row]:
            v.grad = 0
        out.backward()
        tz = tensor(Z)
        tout = F.cross_entropy(tz, torch.tensor(labels))
        tout.backward()
        close_all([out.data], [tout.item()])
        close_all(get_grad([v for row in Zs for v in row]), tz.grad.flatten().tolist())
        assert list(get_grad(ts)) == [0.0] * len(ts)


BAD_LABELS = [(1.5, TypeError, "1.5 is not an integer"), (math.nan, TypeError, "nan is not"),
              (INF, TypeError, "inf is not"), (10, IndexError, "10 is out of range for 10"),
              (-11, IndexError, "-11 is out of range for 10")]


@pytest.mark.parametrize("bad, exc, says", BAD_LABELS, ids=lambda x: repr(x))
def test_a_bad_value_label_raises_at_build_naming_it(bad, exc, says):
    with pytest.raises(exc, match="^pick index " + re.escape(says)):
        losses.cross_entropy([Value(float(k)) for k in range(10)], Value(bad))


@pytest.mark.parametrize("bad, exc, says", BAD_LABELS, ids=lambda x: repr(x))
def test_a_bad_value_label_raises_at_replay_and_the_graph_works_on(bad, exc, says):
    z = rand_logits(50, 10)
    zs, t = [Value(x) for x in z], Value(-10)
    out = losses.cross_entropy(zs, t)
    old = out.data
    t.data = bad
    with pytest.raises(exc, match=r"^forward\(\): pick index " + re.escape(says)):
        out.forward()
    assert out.data == old
    t.data = 9
    out.forward()
    out.backward()
    fresh_zs = [Value(x) for x in z]
    fresh = losses.cross_entropy(fresh_zs, 9)
    fresh.backward()
    assert out.data == fresh.data and grads_of(zs) == grads_of(fresh_zs)
