"""Fused dot (one n-ary 'dot' node) against the sum of products it stands for.

dot(ws, xs, start, fused=True) and MLP(..., fused=True) must give the data of
sum((w*x for w, x in zip(ws, xs)), start) bit for bit, with the same int or
float type (0 * -3 is an int 0, never -0.0), and the same grads within 1e-12;
the node is one 'dot' node whose _prev is its distinct children, drawn by viz as
one op, and gradcheck passes through it. A training run of the demo's loss
replayed on one fused graph follows the unfused model step for step.
Not here: replay of random graphs (test_replay.py), the C calls (test_capi.py).
"""
import math
import random
import re

import pytest
from hypothesis import given, settings, strategies as st

from micrograd import viz
from micrograd.data import moons
from micrograd.demo.moons import loss
from micrograd.engine import Value, dot, get_data, set_data, stats
from micrograd.gradcheck import gradcheck
from micrograd.nn import MLP


def same_data(a, b):
    """Bit for bit, -0.0 and int-ness included."""
    return (type(a), repr(a)) == (type(b), repr(b))


def close(a, b, rel=1e-12):
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b or abs(a - b) <= rel * max(abs(a), abs(b))


def assert_fused_is_the_sum(ws, xs, start, leaves):
    """fused dot and the unfused sum over the same inputs: data (and type) equal, and
    the grads of every leaf within 1e-12 and of the same type."""
    got = dot(ws, xs, start, fused=True)
    want = sum((w*x for w, x in zip(ws, xs)), start)
    assert same_data(got.data, want.data), (got.data, want.data)
    got.backward()
    ours = [v.grad for v in leaves]
    for v in leaves:
        v.grad = 0
    want.backward()
    theirs = [v.grad for v in leaves]
    for g, h in zip(ours, theirs):
        assert type(g) is type(h) and close(g, h), (ours, theirs)
    return got


# ---------------------------------------------------------------- dot(..., fused=True)

@pytest.mark.parametrize("kind", ["values", "floats", "ints", "mixed"])
@pytest.mark.parametrize("b", [0, 0.25, -0.0])
def test_fused_dot_is_the_sum_of_products(kind, b):
    ws = [Value(w) for w in (0.5, -1.25, 3)]
    xs = {"values": lambda: [Value(x) for x in (0.3, -1.7, 2.5)],
          "floats": lambda: [0.3, -1.7, 2.5],
          "ints": lambda: [3, -1, 2],
          "mixed": lambda: [Value(0.3), -1.7, 2]}[kind]()
    start = Value(b)
    assert_fused_is_the_sum(ws, xs, start, ws + [x for x in xs if isinstance(x, Value)] + [start])


@pytest.mark.parametrize("w, x, b", [
    (0, -3, 0), (0, -3, -0.0), (0.0, -3, -0.0), (-0.0, 0, 0), (0, -3.0, 0),
    (-2, 0, -0.0), (0, 0, 0), (-0.0, -0.0, -0.0), (-0.0, 0.0, -0.0)])
@pytest.mark.parametrize("x_is_value", [True, False])
def test_fused_dot_of_zeros_keeps_pythons_sign_and_int_type(w, x, b, x_is_value):
    """int 0 * -3 is int 0, so the sum cannot become -0.0; float products keep their sign."""
    wv, bv = Value(w), Value(b)
    xv = Value(x) if x_is_value else x
    got = dot([wv, wv], [xv, xv], bv, fused=True)
    python = b + w * x + w * x
    assert same_data(got.data, python), (got.data, python)
    assert_fused_is_the_sum([wv, wv], [xv, xv], bv, [wv, bv] + ([xv] if x_is_value else []))


def test_fused_dot_of_ints_is_an_int_and_a_float_anywhere_makes_it_float():
    ws = [Value(2), Value(-3)]
    assert same_data(dot(ws, [4, 5], Value(1), fused=True).data, 1 + 2 * 4 + -3 * 5)
    assert same_data(dot(ws, [4, 5.0], Value(1), fused=True).data, 1 + 2 * 4 + -3 * 5.0)
    assert same_data(dot(ws, [4, 5], Value(1.0), fused=True).data, 1.0 + 2 * 4 + -3 * 5)


@pytest.mark.usefixtures("quiet_gc")
def test_fused_dot_of_an_int_product_too_large_for_a_float_is_overflow_error():
    with pytest.raises(OverflowError):
        Value(10 ** 200) * Value(10 ** 200)
    live = stats()["live"]
    w = Value(10 ** 200)
    with pytest.raises(OverflowError):
        dot([w], [10 ** 200], Value(0), fused=True)
    del w
    assert stats()["live"] == live


def test_fused_dot_with_a_value_as_both_weight_and_input():
    x, y, b = Value(1.5), Value(-0.5), Value(0.25)
    out = assert_fused_is_the_sum([x, x, y], [x, y, x], b, [x, y, b])
    assert out.data == 0.25 + 1.5 * 1.5 + 1.5 * -0.5 + -0.5 * 1.5
    for v in (x, y, b):
        v.grad = 0
    out.backward()      # d/dx (x*x + x*y + y*x) = 2x + 2y
    assert x.grad == 2 * 1.5 + 2 * -0.5 and y.grad == 2 * 1.5 and b.grad == 1


def test_fused_dot_of_nothing_is_start_itself():
    start = Value(2.5)
    assert dot([], [], start, fused=True) is start
    assert dot([Value(1.0)], [], start, fused=True) is start
    assert dot([], iter([Value(1.0)]), start, fused=True) is start


def test_fused_dot_over_a_generator_takes_what_zip_takes():
    ws, b = [Value(w) for w in (0.5, -1.25)], Value(0.0)
    xs = [Value(x) for x in (0.3, -1.7, 2.5, 9.0)]
    ours, theirs = iter(xs), iter(xs)
    got = dot(ws, (x for x in ours), b, fused=True)
    want = sum((w*x for w, x in zip(ws, theirs)), b)
    assert same_data(got.data, want.data)
    assert list(ours) == list(theirs) == xs[2:]


def test_fused_dot_with_number_start_and_weights_makes_leaves_as_the_sum_would():
    xs = [Value(2.0), Value(-3)]
    got = dot([0.5, 4], xs, 1, fused=True)
    want = sum((w*x for w, x in zip([0.5, 4], xs)), 1)
    assert same_data(got.data, want.data)
    assert len(got._prev) == 5      # 1, 0.5 and 4 became leaves


@pytest.mark.usefixtures("quiet_gc")
def test_fused_dot_is_one_node_labelled_dot_over_its_distinct_children():
    x, y, b = Value(1.0), Value(2.0), Value(0.0)
    live = stats()["live"]
    out = dot([x, y, x], [y, 3.0, x], b, fused=True)
    assert stats()["live"] == live + 2          # the node and one leaf for 3.0
    assert out._op == "dot"
    kids = out._prev
    assert isinstance(kids, set) and len(kids) == 4
    assert {x, y, b} <= kids and {v.data for v in kids - {x, y, b}} == {3.0}


numbers = st.one_of(st.integers(-4, 4), st.floats(-8, 8, allow_nan=False),
                    st.sampled_from([0, 0.0, -0.0]))


@settings(max_examples=200, derandomize=True, deadline=None, database=None)
@given(data=st.data(), n_w=st.integers(0, 5), n_x=st.integers(0, 6))
def test_fused_dot_matches_the_sum_on_random_inputs(data, n_w, n_x):
    """Weights and inputs that are numbers, fresh Values or shared ones (the same
    Value as weight and input, or as start): the same data and grads."""
    ws_pool = [Value(data.draw(numbers)) for _ in range(n_w)]
    start = Value(data.draw(numbers))
    pool = ws_pool + [start, Value(data.draw(numbers))]
    ws = list(ws_pool)
    xs = data.draw(st.lists(st.one_of(numbers, st.sampled_from(pool)), min_size=n_x,
                            max_size=n_x))
    if n_w and n_x and data.draw(st.booleans()):
        ws[0] = data.draw(numbers)                 # a number as a weight
    assert_fused_is_the_sum(ws, xs, start, pool)


# ---------------------------------------------------------------- drawing, gradcheck

def dot_node_lines(src):
    return [line for line in src.splitlines() if "shape=ellipse" in line and "dot" in line]


def test_viz_draws_a_fused_dot_as_one_op_node_fed_by_each_distinct_child():
    x, y, b = Value(1.0, label="x"), Value(2.0, label="y"), Value(0.5, label="b")
    out = dot([x, y, x], [y, x, x], b, fused=True)
    src = viz.to_dot(out)
    ops = dot_node_lines(src)
    assert len(ops) == 1
    op_name = re.match(r"\s*(\S+) ", ops[0]).group(1)
    assert len([line for line in src.splitlines() if line.endswith(f"-> {op_name}")]) == 3
    assert src.count("shape=record") == 4


def test_viz_labels_a_fused_dot_with_its_number_of_children():
    x, y, b = Value(1.0), Value(2.0), Value(0.5)
    out = dot([x, y, x], [y, x, x], b, fused=True)      # 7 children: b, x, y, y, x, x, x
    (line,) = dot_node_lines(viz.to_dot(out))
    assert re.search(r"\b7\b", line.split("label=")[1])


def test_gradcheck_passes_through_a_fused_dot():
    f = lambda a, b, c, d, e: dot([a, b, a], [c, d, e], e, fused=True).tanh() * d
    assert gradcheck(f, [0.3, -0.7, 1.2, 0.5, 0.1])


def test_gradcheck_catches_a_wrong_fused_dot_gradient():
    """The check above can fail: a dot whose grads are detached from one input is caught."""
    from micrograd.gradcheck import GradcheckError
    f = lambda a, b: dot([a], [Value(b.data)], b, fused=True)
    with pytest.raises(GradcheckError):
        gradcheck(f, [0.3, -0.7])


# ---------------------------------------------------------------- MLP(..., fused=True)

def twins(seed, sizes=(2, [16, 16, 1])):
    random.seed(seed)
    plain = MLP(*sizes)
    random.seed(seed)
    fused = MLP(*sizes, fused=True)
    return plain, fused


def test_fused_mlp_has_the_same_parameters_and_repr():
    plain, fused = twins(7)
    assert repr(plain) == repr(fused)
    assert [p.data for p in plain.parameters()] == [p.data for p in fused.parameters()]


@pytest.mark.usefixtures("quiet_gc")
def test_fused_mlp_is_fewer_nodes_with_dot_ops():
    plain, fused = twins(7, (3, [4, 1]))
    x = [Value(0.5), Value(-1.0), Value(2.0)]
    out = fused(x)
    assert out._op == "dot" and {n._op for n in out._prev} == {"ReLU", ""}
    live = stats()["live"]
    out_plain = plain(x)
    plain_nodes = stats()["live"] - live
    out_fused = fused(x)
    assert stats()["live"] - live - plain_nodes < plain_nodes / 2
    assert same_data(out_plain.data, out_fused.data)


def test_fused_mlp_trains_like_the_unfused_one_step_for_step():
    """20 SGD steps of the demo's loss (hinge + L2 over moons): at the same parameters,
    the same loss and scores bit for bit, the same grads within 1e-12."""
    plain, fused = twins(3)
    X, y = moons(30, seed=5)
    for k in range(20):
        set_data(fused.parameters(), get_data(plain.parameters()))
        total = {}
        for name, model in (("plain", plain), ("fused", fused)):
            total[name], _ = loss(model, X, y)
            model.zero_grad()
            total[name].backward()
        assert same_data(total["plain"].data, total["fused"].data), k
        for p, q in zip(plain.parameters(), fused.parameters()):
            assert close(p.grad, q.grad), (k, p.grad, q.grad)
        lr = 1.0 - 0.9 * k / 20
        for model in (plain, fused):
            for p in model.parameters():
                p.data -= lr * p.grad
    first = loss(twins(3)[0], X, y)[0].data
    assert loss(plain, X, y)[0].data < first          # it did train


def test_a_fused_loss_graph_built_once_and_replayed_trains_like_rebuilding():
    """The point of fused nodes: one graph over input leaves, replayed with forward()
    each step, gives the losses and grads of the unfused graph rebuilt each step.
    Grads may differ in the last bits (a replay sums a shared grad in its kept order),
    so after each update the fused model takes the plain one's parameters: the loss
    of every step is then compared bit for bit."""
    plain, fused = twins(11, (2, [8, 8, 1]))
    X, y = moons(16, seed=2)
    inputs = [[Value(0.0), Value(0.0)] for _ in X]
    graph_loss, _ = loss_over(fused, inputs, y)
    flat = [v for row in inputs for v in row]
    for k in range(12):
        batch = [[x0 + 0.01 * k, x1 - 0.02 * k] for x0, x1 in X]   # new data each step
        labels = y                                                    # built into the graph
        set_data(flat, [c for row in batch for c in row])
        graph_loss.forward()
        fused.zero_grad()
        graph_loss.backward()
        want, _ = loss(plain, batch, labels)
        plain.zero_grad()
        want.backward()
        assert same_data(graph_loss.data, want.data), k
        for p, q in zip(plain.parameters(), fused.parameters()):
            assert close(p.grad, q.grad), k
        for p in plain.parameters():
            p.data -= 0.5 * p.grad
        set_data(fused.parameters(), [p.data for p in plain.parameters()])


def loss_over(model, inputs, y):
    """demo.loss, over input Values instead of numbers (the graph's leaves)."""
    scores = [model(x) for x in inputs]
    losses = [(1 + -yi*si).relu() for yi, si in zip(y, scores)]
    data_loss = sum(losses) * (1.0 / len(losses))
    reg_loss = 1e-4 * sum((p*p for p in model.parameters()))
    return data_loss + reg_loss, scores
