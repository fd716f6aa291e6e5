"""The batch tests' oracle and comparisons (test_batch*.py): a Batch over root's graph is
checked against the eager graph itself, row by row: set_data(inputs, X[b]);
root.forward() gives row b's data of every node, and root.backward() what row b adds
to every leaf's grad. Data must match bit for bit (struct.pack: the sign of a zero
counts, an eager int is the float it converts to); grads within 1e-12 of the sum of
the absolute contributions, since a sum over rows is taken in another order.
Also the workload whose bits must not depend on threads or on the kernel set
(fingerprint: test_batch.py runs it in subprocesses under MG_KERNELS too).
Not here: the tests themselves.
"""
import math
import random
import re
import struct
from typing import NamedTuple

import numpy as np

from micrograd.engine import Batch, Value, set_data
from micrograd.nn import MLP
from micrograd import losses
import ops

ERRORS = (ValueError, ZeroDivisionError, OverflowError)


def bits(x):
    """x's float64 bits: 0.0 and -0.0 differ; an int is the float it converts to."""
    return struct.pack("<d", float(x))


def same_bits(a, b):
    return bits(a) == bits(b) or (math.isnan(a) and math.isnan(b))


def rows(flat, width):
    """A B x width row-major array('d') (or numpy array) as a list of B lists."""
    flat = list(np.asarray(flat, dtype=float).ravel())
    return [flat[k:k + width] for k in range(0, len(flat), width)]


class Graph(NamedTuple):
    root: Value
    inputs: list      # the leaves that hold one example, in column order
    shared: list      # the other leaves whose grads a batch backward accumulates
    nodes: list       # every node to compare per row (root among them)


class Eager(NamedTuple):
    data: list        # data[b][k]: nodes[k].data after row b's forward
    grads: list       # grads[b][k]: what row b's backward adds to (shared + inputs)[k].grad
    failed: dict      # b -> exception type, for the rows whose forward fails


def eager(g, X):
    """The eager graph on every row of X (the leaves' grads are zero afterwards)."""
    leaves = g.shared + g.inputs
    data, grads, failed = [], [], {}
    for b, row in enumerate(X):
        set_data(g.inputs, list(row))
        try:
            g.root.forward()
        except ERRORS as e:
            failed[b] = type(e)
            continue
        data.append([v.data for v in g.nodes])
        for v in leaves:
            v.grad = 0
        g.root.backward()
        grads.append([v.grad for v in leaves])
    for v in leaves:
        v.grad = 0
    return Eager(data, grads, failed)


def reduced(grads, reduction):
    """The sum or mean over rows of grads (rows of numbers per leaf), per leaf."""
    div = len(grads) if reduction == "mean" else 1

    def total(c):       # (fsum refuses inf - inf: a plain sum's nan, whatever the order)
        return math.fsum(c) if all(map(math.isfinite, c)) else sum(c)
    return [total(c) / div for c in zip(*grads)]


def topo(root):
    """Every node of root's graph, children before parents (no recursion)."""
    order, seen, stack = [], set(), [(root, False)]
    while stack:
        v, done = stack.pop()
        if done:
            order.append(v)
        elif id(v) not in seen:
            seen.add(id(v))
            stack.append((v, True))
            stack.extend((c, False) for c in v._prev if id(c) not in seen)
    return order


def absolute(g, X):
    """Per row, per leaf of shared + inputs: the sum of the sizes of the chain rule's
    terms that reach it (a backward of |grad| through |term|, each node's own rule
    called by _backward): what the order of a sum may change the last bits of."""
    order, leaves, out = topo(g.root), g.shared + g.inputs, []
    for row in X:
        set_data(g.inputs, list(row))
        g.root.forward()
        size = {id(v): 0.0 for v in order}
        size[id(g.root)] = 1.0
        for p in reversed(order):
            kids = list(p._prev)
            for c in kids:
                c.grad = 0
            p.grad = size[id(p)]
            if kids:
                p._backward()
            for c in kids:
                size[id(c)] += abs(c.grad)
        out.append([size[id(v)] for v in leaves])
    for v in leaves:
        v.grad = 0
    return out


def close(got, want, scale, rel=1e-12):
    if math.isnan(want) or math.isinf(want):
        return same_bits(got, want)
    return abs(got - want) <= rel * scale


def assert_data_matches(batch, g, X, ref, out):
    """root's data as forward returned it (out) and every node's per-row data."""
    assert len(out) == len(X) == len(batch) == batch.rows
    for b, row in enumerate(ref.data):
        assert same_bits(out[b], row[-1]), (b, out[b], row[-1])
    got = rows(batch.data(g.nodes), len(g.nodes))
    for b, (mine, theirs) in enumerate(zip(got, ref.data)):
        bad = [(k, m, t) for k, (m, t) in enumerate(zip(mine, theirs)) if not same_bits(m, t)]
        assert not bad, f"row {b}: (node, batch, eager) {bad}"


def grad_mismatches(batch, g, ref, reduction, before, sizes):
    """Shared leaves: their grad grew by the reduction of the per-row grads; inputs:
    batch.grad gives each row's eager grads, divided by B for the mean; each within
    1e-12 of the sizes (rows of numbers per leaf, as ref.grads)."""
    div, n = len(ref.grads) if reduction == "mean" else 1, len(g.shared)
    total, scale = reduced(ref.grads, reduction), reduced(sizes, reduction)
    bad = [("shared", k, v.grad, before[k] + total[k]) for k, v in enumerate(g.shared)
           if not close(v.grad, before[k] + total[k], scale[k] + abs(before[k]))]
    if g.inputs:
        got = rows(batch.grad(g.inputs), len(g.inputs))
        bad += [(f"row {b}, input", k, m, theirs[n + k] / div)
                for b, (mine, theirs, size) in enumerate(zip(got, ref.grads, sizes))
                for k, m in enumerate(mine)
                if not close(m, theirs[n + k] / div, size[n + k] / div)]
    return bad


def assert_grads_match(batch, g, X, ref, reduction, before=None):
    """grad_mismatches, within 1e-12 of the per-row grads' sizes or, failing that, of
    the sum of the absolute terms that make them (a grad may be a sum that cancels)."""
    before = before or [0.0] * len(g.shared)
    sizes = [[abs(x) for x in row] for row in ref.grads]
    if grad_mismatches(batch, g, ref, reduction, before, sizes):
        kept = [v.grad for v in g.shared]
        sizes = absolute(g, X)              # (which runs the eager graph: its grads back)
        for v, grad in zip(g.shared, kept):
            v.grad = grad
        bad = grad_mismatches(batch, g, ref, reduction, before, sizes)
        assert not bad, f"(where, leaf, batch, eager): {bad}"


def check(batch, g, X, reduction="mean", as_list=False):
    """One forward and backward of batch on X against the eager graph; an op failing on
    a row must raise its eager exception naming a failing row, changing no leaf."""
    ref = eager(g, X)
    arg = [list(r) for r in X] if as_list else np.ascontiguousarray(X, dtype=np.float64)
    if ref.failed:
        assert_fails_on_a_row(batch, g, arg, ref.failed)
        return ref
    out = batch.forward(arg)
    assert_data_matches(batch, g, X, ref, out)
    if reduction == "mean" and not as_list:
        batch.backward()                       # the default
    else:
        batch.backward(reduction)
    assert_grads_match(batch, g, X, ref, reduction)
    return ref


def leaf_state(values):
    return [(bits(v.data), type(v.data), bits(v.grad)) for v in values]


def assert_fails_on_a_row(batch, g, X, failed):
    state = leaf_state(g.shared)
    try:
        batch.forward(X)
    except ERRORS as e:
        row = [int(m) for m in re.findall(r"\brow (\d+)", str(e))]
        assert row and row[0] in failed, f"{e!r} names no failing row of {sorted(failed)}"
        assert type(e) is failed[row[0]], (e, failed)
    else:
        raise AssertionError(f"forward succeeded, the eager graph fails on rows {sorted(failed)}")
    assert leaf_state(g.shared) == state


# ---------------------------------------------------------------- graphs and rows

def mlp_graph(fused, nin=3, nouts=(4, 4, 2), seed=1):
    """One example's mse of an MLP: inputs are the pixels and the targets."""
    random.seed(seed)
    model = MLP(nin, list(nouts), fused=fused)
    xs, ts = [Value(0.0) for _ in range(nin)], [Value(0.0) for _ in range(nouts[-1])]
    out = model(xs)
    out = out if isinstance(out, list) else [out]
    root = losses.mse(out, ts)
    return Graph(root, xs + ts, model.parameters(), xs + ts + out + [root]), model


def random_rows(n, width, seed=0, scale=1.0):
    return (np.random.default_rng(seed).uniform(-1, 1, size=(n, width)) * scale).tolist()


# ---------------------------------------------------------------- a workload of every op

def every_op_graph():
    """root: the sum of every form of tests/ops.py over two inputs in [0.5, 1.5] (every
    form's domain) and a shared leaf, plus a fused MLP's mse on those inputs."""
    random.seed(7)
    x, y, t = Value(1.0), Value(1.0), Value(0.5)
    w = Value(0.75)
    parts = [f.build(*(a, b)[:f.nargs]) for a, b in ((x, y), (w, x)) for f in ops.FORMS]
    model = MLP(2, [32, 18, 3], fused=True)       # tiles of neurons, and what is left
    parts.append(losses.mse(model([x, y]), [t, w, 1.0]))
    root = parts[0]
    for p in parts[1:]:
        root = root + p
    shared = [w] + model.parameters()
    return Graph(root, [x, y, t], shared, [x, y, t] + parts + [root])


def fingerprint(g, threads=None, rows_=523):
    """The hex of everything a Batch over g (every_op_graph()) gives on fixed rows, from
    zero grads. rows_: chunks for 3 threads and a rest, and work enough that the engine
    does start its threads (csrc/batch.c, run_chunks: laned operands times rows at
    least 2**17). (The last bits of a grad may depend on where the graph's nodes sit in
    the arena, as its kept order does: compare Batches over one graph.)"""
    rng = np.random.default_rng(3)
    X = rng.uniform(0.5, 1.5, size=(rows_, 3))
    for v in g.shared:
        v.grad = 0
    batch = Batch(g.root, g.inputs, threads=threads)
    out = batch.forward(X)
    data = batch.data(g.nodes)
    batch.backward()
    grad = batch.grad(g.inputs)
    return [float(v).hex() for v in list(out) + list(data) + list(grad)] + \
        [float(v.grad).hex() for v in g.shared]
