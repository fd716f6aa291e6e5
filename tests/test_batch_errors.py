"""Batch's errors, and nothing lost: bad rows and bad graphs are refused before anything
runs (the last forward's results and every leaf untouched); an op failing on a row
raises the eager op's exception naming the op and the row, changes no parameter and
leaves the Batch usable; several Batches over one graph, a Batch outliving the Values
it was made from, and Batches used from several Python threads.
Not here: what a Batch computes (test_batch.py, test_batch_models.py).
"""
import gc
import math
import os
import random
import re

import numpy as np
import pytest

from micrograd.engine import Batch, Value, stats
from micrograd.nn import MLP
from batching import (Graph, assert_grads_match, bits, check, eager, leaf_state, mlp_graph,
                      random_rows, rows)
from concurrency import run_threads
from test_memory import rss_bytes
from test_python_ops import sin


@pytest.fixture
def ran():
    """A Batch over an MLP's mse after one good forward: (batch, graph, its results)."""
    g, _ = mlp_graph(True)
    batch = Batch(g.root, g.inputs)
    batch.forward(random_rows(5, len(g.inputs)))
    return batch, g, results(batch, g)


def results(batch, g):
    return len(batch), [bits(x) for x in batch.data(g.nodes)], leaf_state(g.shared + g.nodes)


# ---------------------------------------------------------------- bad rows

def wrong_rows(n):
    """(name, X, exception) for a Batch of n inputs."""
    return [
        ("a column too many", np.zeros((3, n + 1)), ValueError),
        ("a column too few", np.zeros((3, n - 1)), ValueError),
        ("one row too long", [[0.0] * n, [0.0] * (n + 1)], ValueError),
        ("one row too short", [[0.0] * n, [0.0] * (n - 1)], ValueError),
        ("float32", np.zeros((3, n), dtype=np.float32), (TypeError, ValueError)),
        ("int64", np.zeros((3, n), dtype=np.int64), (TypeError, ValueError)),
        ("a row of text", [[0.0] * n, ["x"] * n], TypeError),
        ("a number", 3.0, TypeError),
        ("None", None, TypeError),
    ]


@pytest.mark.parametrize("k", range(len(wrong_rows(5))), ids=[w[0] for w in wrong_rows(5)])
def test_bad_rows_are_refused_before_anything_runs(ran, k):
    batch, g, before = ran
    _, X, exc = wrong_rows(len(g.inputs))[k]
    with pytest.raises(exc):
        batch.forward(X)
    assert results(batch, g) == before
    check(batch, g, random_rows(4, len(g.inputs), 1))      # and it works on the next call


def test_a_non_contiguous_array_is_read_as_its_rows_or_refused(ran):
    batch, g, before = ran
    wide = np.array(random_rows(6, 2 * len(g.inputs), 2))
    for X in (wide[:, ::2], np.asfortranarray(wide[:, :len(g.inputs)])):
        try:
            out = list(batch.forward(X))
        except (TypeError, ValueError):
            assert results(batch, g) == before
            continue
        assert [bits(x) for x in out] == [bits(x) for x in batch.forward(np.ascontiguousarray(X))]


def test_out_buffers_of_the_wrong_size_or_type_are_refused(ran):
    batch, g, before = ran
    for out in (np.empty(4), np.empty(5, dtype=np.float32), np.empty(10)[::2]):
        with pytest.raises((TypeError, ValueError)):
            batch.forward(random_rows(5, len(g.inputs)), out=out)
    with pytest.raises((TypeError, ValueError)):
        batch.data(g.nodes, out=np.empty((5, len(g.nodes) - 1)))
    batch.forward(random_rows(5, len(g.inputs)))
    batch.backward()
    with pytest.raises((TypeError, ValueError)):
        batch.grad(g.inputs, out=np.empty(5 * len(g.inputs), dtype=np.float32))


def test_an_unknown_reduction_is_value_error_changing_no_grad(ran):
    batch, g, _ = ran
    state = leaf_state(g.shared)
    with pytest.raises(ValueError, match="reduction"):
        batch.backward("max")
    assert leaf_state(g.shared) == state


# ---------------------------------------------------------------- bad graphs

def test_batch_refuses_inputs_that_are_not_leaves_of_roots_graph():
    x, y, w = Value(1.0), Value(2.0), Value(0.5)
    inner = x * w
    root = (inner + y).tanh()
    stray = Value(3.0)
    for bad in (stray, inner, root):
        with pytest.raises(ValueError) as e:
            Batch(root, [x, bad])
        assert repr(bad) in str(e.value) or re.search(r"\b1\b", str(e.value)), e.value


def test_batch_refuses_an_input_given_twice():
    x, y = Value(1.0), Value(2.0)
    with pytest.raises(ValueError) as e:
        Batch(x * y, [x, y, x])
    assert "twice" in str(e.value) or repr(x) in str(e.value), e.value


def test_batch_refuses_a_graph_with_an_op_defined_in_python():
    x, w = Value(1.0), Value(0.5)
    root = sin(x * w) + w
    with pytest.raises(ValueError, match="sin"):
        Batch(root, [x])


def test_batch_of_something_that_is_not_a_value_is_type_error():
    x = Value(1.0)
    with pytest.raises(TypeError):
        Batch(1.0, [x])
    with pytest.raises(TypeError):
        Batch(x * 2, [x, 2.0])


# ---------------------------------------------------------------- a row that fails

def failing_graph():
    x, w, b = Value(1.0), Value(2.0), Value(0.5)
    h = x * w + b
    root = h.log() + h.exp() * 1e-3 + w * b
    return Graph(root, [x], [w, b], [x, h, root])


@pytest.mark.parametrize("bad, exc, op", [(-1.0, ValueError, "log"),
                                           (400.0, OverflowError, "exp")])
def test_a_failing_row_names_the_op_and_the_row_and_changes_nothing(bad, exc, op):
    g = failing_graph()
    X = [[0.5], [1.0], [2.0], [bad], [0.25], [1.5]]
    with pytest.raises(exc):                              # the eager graph fails there too
        eager_fails(g, X[3])
    batch = Batch(g.root, g.inputs)
    check(batch, g, random_rows(6, 1, 3, 0.1))            # a good call, then grads set
    for v in g.shared:
        v.grad = 0.125
    state = leaf_state(g.shared)
    with pytest.raises(exc) as e:
        batch.forward(X)
    assert op in str(e.value) and re.search(r"\brow 3\b", str(e.value)), e.value
    assert leaf_state(g.shared) == state
    for v in g.shared:
        v.grad = 0
    check(batch, g, [[0.5], [1.0], [2.0], [0.75]])        # usable: the next call is right


def eager_fails(g, row):
    g.inputs[0].data = row[0]
    g.root.forward()


def test_the_row_named_is_the_first_failing_one_whatever_the_threads():
    g = failing_graph()
    X = [[0.5]] * 40 + [[-1.0]] + [[0.5]] * 30 + [[-2.0]] + [[0.5]] * 5
    messages = set()
    for threads in (1, 2, 3):
        with pytest.raises(ValueError) as e:
            Batch(g.root, g.inputs, threads=threads).forward(X)
        messages.add(str(e.value))
    assert len(messages) == 1 and re.search(r"\brow 40\b", messages.pop())


def test_a_node_of_no_input_that_fails_raises_its_error():
    x, w = Value(1.0), Value(2.0)
    root = x * w.log()
    w.data = -2.0
    with pytest.raises(ValueError, match="log"):
        Batch(root, [x]).forward([[1.0], [2.0]])


def test_a_node_inside_a_sum_run_as_one_dot_has_rows_only_if_held_before():
    """An unfused neuron's chain of + over products runs as one dot: its inner nodes,
    found by walking _prev afterwards, have no rows (a ValueError saying so); held as
    Values before the Batch was made, they keep theirs (test_batch.py compares them)."""
    random.seed(3)
    model, xs = MLP(3, [4, 1]), [Value(0.0) for _ in range(3)]
    out = model(xs)
    batch = Batch(out, xs)
    batch.forward(random_rows(3, 3))
    inner = [v for v in out._prev if v._op]
    assert inner
    for v in inner:
        with pytest.raises(ValueError, match="one dot"):
            batch.data([v])
    held = Batch(out, xs)                   # the Values of _prev are held now
    check(held, Graph(out, xs, model.parameters(), xs + inner + [out]), random_rows(5, 3, 1))


# ---------------------------------------------------------------- several Batches, lifetimes

def test_several_batches_over_one_graph_keep_their_own_rows():
    g, _ = mlp_graph(False)
    one, two = Batch(g.root, g.inputs), Batch(g.root, g.inputs, threads=1)
    X1, X2 = random_rows(7, len(g.inputs), 1), random_rows(3, len(g.inputs), 2)
    ref1, ref2 = eager(g, X1), eager(g, X2)
    one.forward(X1)
    two.forward(X2)
    assert len(one) == 7 and len(two) == 3
    for batch, ref in ((one, ref1), (two, ref2)):
        got = rows(batch.data(g.nodes), len(g.nodes))
        assert [[bits(x) for x in r] for r in got] == [[bits(x) for x in r] for r in ref.data]
    two.backward()
    del two
    gc.collect()
    for v in g.shared:
        v.grad = 0
    one.backward()
    assert_grads_match(one, g, X1, ref1, "mean")


def test_a_batch_with_fewer_inputs_reads_the_others_own_data():
    g, _ = mlp_graph(True)
    xs, ts = g.inputs[:3], g.inputs[3:]
    for t, d in zip(ts, (0.5, -0.25)):
        t.data = d
    part = Batch(g.root, xs)
    X = random_rows(5, 3, 4)
    out = part.forward(X)
    whole = Batch(g.root, g.inputs).forward([r + [0.5, -0.25] for r in X])
    assert [bits(x) for x in out] == [bits(x) for x in whole]


def make_batch():
    """A Batch whose graph no Python object holds but the Batch (and the inputs)."""
    g, _ = mlp_graph(True, seed=5)
    return Batch(g.root, g.inputs), len(g.inputs)


def test_a_batch_keeps_its_graph_alive():
    batch, n = make_batch()
    gc.collect()
    [Value(float(k)) * 2 for k in range(1000)]           # reuse any freed slot
    X = random_rows(4, n, 6)
    g, _ = mlp_graph(True, seed=5)
    assert [bits(x) for x in batch.forward(X)] == [bits(r[-1]) for r in eager(g, X).data]


def test_dropped_batches_free_their_graphs_and_lanes(quiet_gc):
    def churn(n):
        for k in range(n):
            g, _ = mlp_graph(k % 2 == 0, nin=8, nouts=(16, 4), seed=k)
            batch = Batch(g.root, g.inputs)
            batch.forward(random_rows(300, len(g.inputs), k))
            batch.backward()
    churn(5)                                # warm-up: the arena and the heap settle
    before = stats(), rss_bytes()
    churn(40)
    after = stats(), rss_bytes()
    assert {k: after[0][k] for k in ("live", "edges", "plans")} == \
        {k: before[0][k] for k in ("live", "edges", "plans")}
    if not os.environ.get("MG_SANITIZE"):   # ASan's quarantine keeps freed memory
        assert after[1] - before[1] < 4 << 20, "RSS grew by more than 4 MiB"


# ---------------------------------------------------------------- Python threads

def worker(g, model, k, steps=15):
    """g's own Batch (its model's parameters unchanged): the bits of every step's output
    and grads."""
    batch, seen = Batch(g.root, g.inputs), []
    for s in range(steps):
        model.zero_grad()
        out = batch.forward(random_rows(9 + k, len(g.inputs), s))
        batch.backward()
        seen.append([bits(x) for x in out] + [bits(v.grad) for v in g.shared])
    return seen


def test_four_threads_each_with_its_own_batch_match_serial_runs(interleave):
    models = [mlp_graph(True, seed=10 + k) for k in range(4)]     # nn draws from `random`
    alone = [worker(*models[k], k) for k in range(4)]
    assert run_threads([lambda k=k: worker(*models[k], k) for k in range(4)]) == alone


def test_four_threads_with_their_own_batches_over_one_graph_match_serial_runs(interleave):
    g, _ = mlp_graph(False)
    Xs = [random_rows(6 + k, len(g.inputs), k) for k in range(4)]

    def run(k):
        batch = Batch(g.root, g.inputs)
        return [[bits(x) for x in batch.forward(Xs[k])] for _ in range(20)]
    alone = [run(k) for k in range(4)]
    assert run_threads([lambda k=k: run(k) for k in range(4)]) == alone


def test_one_batch_used_from_two_threads_at_once_gives_serial_results(interleave):
    g, _ = mlp_graph(True)
    batch = Batch(g.root, g.inputs)
    X = random_rows(8, len(g.inputs), 7)
    ref = eager(g, X)
    want = [bits(r[-1]) for r in ref.data]

    def run():
        for _ in range(25):
            assert [bits(x) for x in batch.forward(X)] == want
            batch.backward()
    run_threads([run, run])
    total = [math.fsum(c) / len(ref.grads) for c in zip(*ref.grads)]
    for v, t in zip(g.shared, total):
        assert v.grad == pytest.approx(50 * t, rel=1e-11, abs=1e-12)
