"""Replay (Value.forward()) against rebuilding the graph from the same leaves.

Hypothesis draws expression DAGs over every op (fused dot and logsumexp included,
shared subexpressions, int and float constants and leaves); the graph is built
once, given new leaf data and replayed, and every node must then hold what a
fresh build from the new data holds: data bit for bit, with the same int or
float type, and after backward() the same grads (the same topological order, so
exactly). Then hand-picked cases: errors on the way and recovery, relu's branch,
a replayed root whose slot is reused, threads, a leaf, twice, a million-deep chain.
Not here: the C calls (test_capi.py, arena_harness.c), memory (test_bulk.py).
"""
import math
import os
import re

import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from micrograd import engine
from micrograd._mg import lib
from micrograd.engine import Value, dot, logsumexp, pick, set_data
from concurrency import run_threads
import ops

ERRORS = (ValueError, ZeroDivisionError, OverflowError, TypeError, IndexError)  # the last two: pick's


def arena_stats():
    """Every count of the arena (live nodes, edges, plans ...), after releasing what died."""
    return engine.stats()


# ---------------------------------------------------------------- programs
# A program is a list of instructions, each appending one Value to `vals` (the
# leaves come first); an operand is ["v", k] (vals[k]) or ["c", number].

UNARY = ["neg"] + ops.CALLS       # every op written x.name() (tests/ops.py), and -x


def operand(vals, a):
    return vals[a[1]] if a[0] == "v" else a[1]


def build(prog, leaf_data):
    """(leaves, nodes, root): the program's Values, and the sum of its sinks, so that
    every node is reachable from root. Raises what the ops raise."""
    vals = [Value(x) for x in leaf_data]
    leaves = list(vals)
    used = set()
    for ins in prog:
        kind = ins[0]
        used.update(a[1] for a in ins[1:] if isinstance(a, list) and a[:1] == ["v"])
        if kind in ("+", "-", "*", "/"):
            p, q = operand(vals, ins[1]), operand(vals, ins[2])
            out = {"+": lambda: p + q, "-": lambda: p - q, "*": lambda: p * q,
                   "/": lambda: p / q}[kind]()
        elif kind == "**":
            out = vals[ins[1]] ** ins[2]
            used.add(ins[1])
        elif kind == "**v":
            out = vals[ins[1]] ** vals[ins[2]]
            used.update(ins[1:3])
        elif kind == "rpow":
            out = ins[1] ** vals[ins[2]]
            used.add(ins[2])
        elif kind in UNARY:
            out = -vals[ins[1]] if kind == "neg" else getattr(vals[ins[1]], kind)()
            used.add(ins[1])
        elif kind == "dot":
            pairs = ins[2]
            used.update(a[1] for pair in pairs for a in pair if a[0] == "v")
            out = dot([operand(vals, w) for w, _ in pairs],
                      (operand(vals, x) for _, x in pairs),     # a generator, as any iterable
                      operand(vals, ins[1]), fused=True)
        elif kind == "lse":
            used.update(a[1] for a in ins[1] if a[0] == "v")
            out = logsumexp([operand(vals, a) for a in ins[1]])
        elif kind == "pick":            # [pick, index, [values]]: the index a node or a number
            used.update(a[1] for a in [ins[1]] + ins[2] if a[0] == "v")
            out = pick([operand(vals, a) for a in ins[2]], operand(vals, ins[1]))
        vals.append(out)
    sinks = [v for k, v in enumerate(vals) if k >= len(leaves) and k not in used]
    root = sinks[0]
    for v in sinks[1:]:
        root = root + v
    return leaves, vals, root


ints = st.integers(-4, 4)
floats = st.one_of(st.floats(-3, 3, allow_nan=False, width=64),
                   st.sampled_from([0.0, -0.0, 0.5, 1.5, 2.0, 1e-3]))
numbers = st.one_of(ints, floats)
exponents = st.one_of(st.integers(-2, 3), st.sampled_from([0.5, 1.5, 2.0, -0.5]))


@st.composite
def programs(draw):
    n_leaves = draw(st.integers(1, 4))
    prog, size = [], n_leaves

    def var():
        return ["v", draw(st.integers(0, size - 1))]

    def opnd():
        return var() if draw(st.booleans()) else ["c", draw(numbers)]

    for _ in range(draw(st.integers(1, 10))):
        kind = draw(st.sampled_from(["+", "-", "*", "/", "**", "**v", "rpow", "dot", "lse",
                                     "pick"] + UNARY))
        if kind in ("+", "-", "*", "/"):
            a, b = var(), opnd()
            prog.append([kind] + ([a, b] if draw(st.booleans()) else [b, a]))
        elif kind == "**":
            prog.append([kind, var()[1], draw(exponents)])
        elif kind == "**v":
            prog.append([kind, var()[1], var()[1]])
        elif kind == "rpow":
            prog.append([kind, draw(st.sampled_from([2, 0.5, 3.0])), var()[1]])
        elif kind in UNARY:
            prog.append([kind, var()[1]])
        elif kind == "dot":
            n = draw(st.integers(0, 4))
            pairs = [[var() if draw(st.booleans()) else opnd(), opnd()] for _ in range(n)]
            prog.append([kind, var(), pairs])
        elif kind == "pick":            # the index mostly a number in range, else a node
            values = [var()] + [opnd() for _ in range(draw(st.integers(0, 3)))]
            index = var() if draw(st.integers(0, 5)) == 0 else \
                ["c", draw(st.integers(-len(values), len(values) - 1))]
            prog.append([kind, index, values])
        else:
            prog.append([kind, [var()] + [opnd() for _ in range(draw(st.integers(0, 3)))]])
        size += 1
    return n_leaves, prog


@st.composite
def replays(draw):
    n_leaves, prog = draw(programs())
    first = [draw(numbers) for _ in range(n_leaves)]
    second = [draw(numbers) for _ in range(n_leaves)]
    return prog, first, second, draw(st.booleans())


def snapshot(vals):
    return [(type(v.data), repr(v.data)) for v in vals]


def grads(vals):
    return [(type(v.grad), repr(v.grad)) for v in vals]


def same_grads(vals, fresh_vals):
    """The same types (int or float) and values within 1e-12: a replay sums a grad shared
    by several parents in its kept order, a fresh build in its own, so the last bits
    may differ (as README's Differences says of micrograd)."""
    a, b = [v.grad for v in vals], [v.grad for v in fresh_vals]
    return [type(x) for x in a] == [type(y) for y in b] and all(
        x == y or (math.isnan(x) and math.isnan(y)) or math.isclose(x, y, rel_tol=1e-12)
        for x, y in zip(a, b))


def check_replay(prog, first, second, bulk):
    try:
        leaves, vals, root = build(prog, first)
    except ERRORS:
        assume(False)               # no graph to replay
    if bulk:
        set_data(leaves, second)
    else:
        for v, x in zip(leaves, second):
            v.data = x
    try:
        fresh = build(prog, second)
    except ERRORS:
        fresh = None
    if fresh is None:
        with pytest.raises(ERRORS, match=r"^forward\(\): "):
            root.forward()
        return
    root.forward()
    _, fresh_vals, fresh_root = fresh
    assert snapshot(vals + [root]) == snapshot(fresh_vals + [fresh_root]), prog
    root.backward()
    fresh_root.backward()
    assert same_grads(vals + [root], fresh_vals + [fresh_root]), (prog, grads(vals + [root]),
                                                                  grads(fresh_vals + [fresh_root]))


SETTINGS = dict(deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@settings(max_examples=400, **SETTINGS)
@given(replays())
def test_replay_with_new_leaf_data_equals_a_fresh_build(case):
    check_replay(*case)


@pytest.mark.slow              # tests/conftest.py skips it unless pytest -m slow
@settings(max_examples=max(1, int(os.environ.get("MG_FUZZ_EXAMPLES", "3000"))), **SETTINGS)
@given(replays())
def test_replay_with_new_leaf_data_equals_a_fresh_build_many(case):
    check_replay(*case)


def test_generated_programs_use_every_op_and_mostly_replay():
    """The generator is not degenerate: every kind appears, so does every op of
    tests/ops.py that has forms, and most graphs replay."""
    seen, labels, outcomes = set(), set(), []

    @settings(max_examples=200, **SETTINGS)
    @given(replays())
    def collect(case):
        prog, first, second, _ = case
        seen.update(ins[0] for ins in prog)
        try:
            build(prog, first)
            _, vals, _ = build(prog, second)
            labels.update("**" if v._op.startswith("**") else v._op for v in vals)
            outcomes.append("ok")
            if any(type(v.data) is int for v in vals[len(first):]):
                outcomes.append("int node")
        except ERRORS:
            outcomes.append("error")
    collect()
    assert seen == {"+", "-", "*", "/", "**", "**v", "rpow", "dot", "lse", "pick"} | set(UNARY)
    assert {op.label for op in ops.OPS if op.forms} <= labels
    ok, error = outcomes.count("ok"), outcomes.count("error")    # ("int node" marks an ok)
    assert ok >= (ok + error) // 2 and error
    assert outcomes.count("int node") >= 10


def test_replay_keeps_int_data_int_and_follows_a_switch_to_floats():
    x, y = Value(3), Value(-2)
    out = dot([x, y], [y, 2], x * y + 1, fused=True) ** 2
    assert (out.data, type(out.data)) == ((3 * -2 + 1 + 3 * -2 + -2 * 2) ** 2, int)
    x.data = 1.5
    out.forward()
    want = (1.5 * -2 + 1 + 1.5 * -2 + -2 * 2) ** 2
    assert (out.data, type(out.data)) == (want, float)
    x.data = 0
    out.forward()
    assert (out.data, type(out.data)) == ((0 + 1 + 0 + -4) ** 2, int)


# ---------------------------------------------------------------- errors

def test_forward_that_fails_raises_the_ops_error_naming_it_and_then_recovers():
    x = Value(2.0)
    y = x * 3
    out = (y - 1).log() + y
    x.data = -1.0
    with pytest.raises(ValueError, match=r"^forward\(\): log of -4.0$"):
        out.forward()
    assert y.data == -3.0             # before the failing node: new data
    assert out.data == math.log(5.0) + 6.0   # the failing node and after: old data
    x.data = 0.5
    out.forward()
    assert out.data == (Value(0.5) * 3 - 1).log().data + 1.5
    out.backward()
    assert x.grad == 3 / (0.5 * 3 - 1) + 3


@pytest.mark.parametrize("make, bad, exc, name", [
    (lambda x: x ** -1, 0.0, ZeroDivisionError, "'**'"),
    (lambda x: x.exp(), 1000.0, OverflowError, "'exp'"),
    (lambda x: x ** 0.5, -4.0, ValueError, "'**'"),
    (lambda x: x ** Value(-1.0), 0.0, ZeroDivisionError, "'**'"),
    (lambda x: dot([x], [x], Value(0), fused=True), 1e300, None, None),
    (lambda x: dot([x], [x], Value(0), fused=True), 10 ** 300, OverflowError, "'dot'"),
])
def test_forward_raises_what_the_eager_op_raises(make, bad, exc, name):
    x = Value(1.0)
    out = make(x) + 1
    x.data = bad
    if exc is None:                 # a float overflow is inf, as in Python
        out.forward()
        assert out.data == math.inf
        return
    with pytest.raises(exc):
        make(Value(bad))
    with pytest.raises(exc, match=r"^forward\(\): .*" + re.escape(name.strip("'"))):
        out.forward()
    x.data = 2.0
    out.forward()
    assert out.data == make(Value(2.0)).data + 1


def test_relu_branches_follow_the_new_data():
    x = Value(2.0)
    h = (x * 3).relu()
    out = h * h + x
    x.data = -1.0
    out.forward()
    assert (h.data, type(h.data), out.data) == (0, int, -1.0)   # micrograd: Value(0)
    out.backward()
    assert x.grad == 1.0
    x.data = 0.5
    out.forward()
    assert (h.data, out.data) == (1.5, 1.5 * 1.5 + 0.5)
    x.grad = 0
    out.backward()
    assert x.grad == 2 * 1.5 * 3 + 1


# ---------------------------------------------------------------- plans

@pytest.mark.usefixtures("quiet_gc")
def test_a_replayed_root_whose_slot_is_reused_replays_the_new_graph():
    x, y = Value(1.0), Value(2.0)
    a, d = x + y, x.exp()
    a.forward()                         # a now has a kept order: x, y, a
    a_slot, plans = a._i, arena_stats()["plans"]
    del a                               # released first, then d: d's slot is reused first
    del d
    assert arena_stats()["plans"] == plans - 1
    c = x.tanh()                        # in d's old slot
    b = c * y                           # in a's old slot: a stale order would skip c
    assert b._i == a_slot
    x.data = 0.5
    b.forward()
    assert b.data == (Value(0.5).tanh() * Value(2.0)).data
    b.backward()
    assert x.grad == (1 - math.tanh(0.5) ** 2) * 2.0


def test_a_whole_graph_dropped_and_its_slots_reused_replays_like_a_rebuild():
    prog = [["*", ["v", 0], ["v", 1]], ["tanh", 2], ["+", ["v", 3], ["c", 1]],
            ["lse", [["v", 4], ["v", 0], ["c", 0.5]]]]
    leaves, vals, root = build(prog, [0.3, -1.2])
    root.forward()
    a_slots = {v._i for v in vals + [root]}
    del leaves, vals, root
    engine._flush()
    other = [["dot", ["v", 1], [[["v", 0], ["v", 1]], [["c", 2], ["v", 0]]]], ["exp", 2],
             ["relu", 3], ["-", ["v", 4], ["v", 2]]]
    leaves, vals, root = build(other, [0.7, 1.1])
    assert a_slots & {v._i for v in vals + [root]}
    root.forward()
    set_data(leaves, [-0.4, 2.5])
    root.forward()
    _, fresh, fresh_root = build(other, [-0.4, 2.5])
    assert snapshot(vals + [root]) == snapshot(fresh + [fresh_root])
    root.backward()
    fresh_root.backward()
    assert grads(leaves) == grads(fresh[:2])


def test_backward_on_a_replayed_graph_gives_a_fresh_builds_grads():
    prog = [["*", ["v", 0], ["v", 1]], ["dot", ["v", 2], [[["v", 0], ["v", 2]],
                                                          [["v", 1], ["c", 3]]]],
            ["sigmoid", 3], ["lse", [["v", 4], ["v", 3], ["v", 0]]]]
    leaves, vals, root = build(prog, [0.5, 2.0])
    root.backward()                     # grads of the old data, then replay
    set_data(leaves, [-1.5, 0.25])
    for v in leaves:
        v.grad = 0
    root.forward()
    root.backward()
    _, fresh, fresh_root = build(prog, [-1.5, 0.25])
    fresh_root.backward()
    assert grads(vals + [root]) == grads(fresh + [fresh_root])


def test_forward_on_a_leaf_changes_nothing():
    x = Value(3)
    x.grad = 2.5
    x.forward()
    assert (x.data, type(x.data), x.grad) == (3, int, 2.5)


@pytest.mark.usefixtures("quiet_gc")
def test_forward_twice_gives_the_same_data_and_one_plan():
    x = Value(0.7)
    out = (x * x).tanh() + x.exp()
    before = arena_stats()["plans"]
    x.data = -0.2
    out.forward()
    first = out.data.hex()
    out.forward()
    assert out.data.hex() == first == ((Value(-0.2) * -0.2).tanh() + Value(-0.2).exp()).data.hex()
    assert arena_stats()["plans"] == before + 1


def test_a_million_deep_chain_replays_without_recursion():
    x, one = Value(1.0), Value(1)
    v = x
    for _ in range(1_000_000):
        v = v + one
    x.data = 2.5
    v.forward()
    assert v.data == 1_000_002.5
    v.backward()
    assert (x.grad, one.grad) == (1, 1_000_000)


# ---------------------------------------------------------------- threads

def replay_worker(k, steps=150):
    """Own graph, replayed with new data each step: the data and leaf grads per step."""
    xs = [Value(0.1 * (k + 1) + j) for j in range(3)]
    h = [logsumexp([xs[0] * xs[1], xs[2].tanh()]), dot(xs, xs, Value(k), fused=True)]
    out = (h[0] * h[1]).relu() + h[1].sigmoid()
    seen = []
    for s in range(steps):
        set_data(xs, [math.sin(s + k), math.cos(s * k), 0.01 * s - 0.5])
        out.forward()
        for v in xs:
            v.grad = 0
        out.backward()
        seen.append([out.data.hex()] + [v.grad.hex() for v in xs])
    return seen


def test_four_threads_replaying_their_own_graphs_match_a_single_thread(interleave):
    alone = [replay_worker(k) for k in range(4)]
    together = run_threads([lambda k=k: replay_worker(k) for k in range(4)])
    assert together == alone


def test_forward_out_of_memory_for_its_plan_is_memory_error(monkeypatch):
    class NoMemoryForPlans:
        def __getattr__(self, name):
            if name == "mg_forward":
                def mg_forward(arena, root, failed):
                    failed[0] = -1
                    return lib.MG_ENOMEM
                return mg_forward
            return getattr(lib, name)

    x = Value(1.0)
    out = x.exp()
    monkeypatch.setattr(engine, "lib", NoMemoryForPlans())
    with pytest.raises(MemoryError):
        out.forward()


# ---------------------------------------------------------------- graphs that come and go

class GraphsComeAndGo(RuleBasedStateMachine):
    """Graphs built, replayed, backpropagated and dropped in any order, so that slots
    (and the roots of kept orders) are reused by other graphs: every replay must
    still equal a fresh build, and every dropped root's plan must be gone."""

    def __init__(self):
        super().__init__()
        self.graphs = []            # (prog, leaves, vals, root)
        engine._flush()
        self.plans = arena_stats()["plans"]
        self.planned = 0

    @rule(case=programs(), data=st.lists(numbers, min_size=4, max_size=4))
    def build_one(self, case, data):
        n_leaves, prog = case
        try:
            leaves, vals, root = build(prog, data[:n_leaves])
        except ERRORS:
            return
        self.graphs.append([prog, leaves, vals, root, False])

    @precondition(lambda self: self.graphs)
    @rule(k=st.integers(0, 99), data=st.lists(numbers, min_size=4, max_size=4))
    def replay_one(self, k, data):
        g = self.graphs[k % len(self.graphs)]
        prog, leaves, vals, root, _ = g
        second = data[:len(leaves)]
        set_data(leaves, second)
        try:
            _, fresh, fresh_root = build(prog, second)
        except ERRORS:
            with pytest.raises(ERRORS):
                root.forward()
            self.mark_planned(g)
            return
        root.forward()
        self.mark_planned(g)
        assert snapshot(vals + [root]) == snapshot(fresh + [fresh_root]), prog
        for v in leaves:
            v.grad = 0
        root.backward()
        fresh_root.backward()
        assert same_grads(vals + [root], fresh + [fresh_root]), prog

    def mark_planned(self, g):
        if not g[4]:
            g[4] = True
            self.planned += 1

    @precondition(lambda self: self.graphs)
    @rule(k=st.integers(0, 99))
    def drop_one(self, k):
        g = self.graphs.pop(k % len(self.graphs))
        self.planned -= g[4]
        del g[:]
        engine._flush()             # released now: the next graph reuses the slots

    @invariant()
    def one_plan_per_replayed_root(self):
        # graphs share no node, so each replayed root holds exactly one plan
        assert arena_stats()["plans"] == self.plans + self.planned

    def teardown(self):
        self.graphs.clear()


GraphsComeAndGo.TestCase.settings = settings(max_examples=60, stateful_step_count=30,
                                             **SETTINGS)
test_graphs_that_come_and_go_replay_like_fresh_builds = pytest.mark.usefixtures("quiet_gc")(
    GraphsComeAndGo.TestCase)
