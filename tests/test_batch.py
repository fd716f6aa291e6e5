"""Batch (micrograd.engine.Batch): one example's graph run over every row of a batch,
against the eager graph on each row (tests/batching.py: data bit for bit, grads
within 1e-12 of the sum of the absolute contributions).

Hypothesis draws DAGs of every form of every op of tests/ops.py, over inputs and
shared leaves (ints among them), with shared subexpressions, constants and nodes that
depend on no input; rows of B = 1, a prime and B changing between calls; both
reductions; any thread count. Then by hand: micrograd's ints in lanes (relu's 0,
Value(0) biases, int * int), the eager graph untouched by a batch run, threads and
the baseline kernels giving the same bits.
Not here: models, losses and training (test_batch_models.py), bad input, failing
rows and Python threads (test_batch_errors.py).
"""
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

from micrograd.engine import Batch, Value, dot, leaves, set_data
from micrograd.nn import MLP
from batching import (ERRORS, Graph, assert_grads_match, bits, check, eager, every_op_graph,
                      fingerprint, leaf_state, mlp_graph, random_rows)
import ops

TESTS = Path(__file__).parent
LIMIT = 1e6               # no node's data grows past this on any row: grads stay about rounding
TANH = ops.BY_NAME["tanh"]
SIZES = [1, 2, 3, 7, 13]  # rows: one, and primes (no multiple of a vector's width)


# ---------------------------------------------------------------- random DAGs

class Dag(NamedTuple):
    graph: Graph
    columns: list     # which of the drawn inputs are in the graph (X's columns)
    applied: list     # the forms applied, after the guards
    laned: list       # per node of graph.nodes: whether it depends on an input


def _operands(form, pool, i, j, c, with_const):
    if form.nargs == 1:
        return [pool[i]]
    if not with_const:
        return [pool[i], pool[j]]
    return [pool[i], c] if c > 0 else [c, pool[i]]


def _data(v):
    return v.data if isinstance(v, Value) else v


def _outputs(form, pools, i, j, c, with_const):
    """form applied in every pool (one per guarded row), or None where some row is
    outside its guard (tests/ops.py), fails or grows past LIMIT."""
    outs = []
    for pool in pools:
        args = _operands(form, pool, i, j, c, with_const)
        if not form.safe(_data(args[0]), _data(args[-1])):
            return None
        try:
            out = form.build(*args)
        except ERRORS:
            return None
        if not abs(out.data) <= LIMIT:
            return None
        outs.append(out)
    return outs


def build(n_in, shared, steps, guarded_rows):
    """The DAG of steps over n_in inputs and the shared leaves, built on the first of
    guarded_rows; where a step's form is unsafe on any of them, it is given tanh(x) + 2
    for each operand x (in 1 .. 3: safe for every form), and failing that becomes tanh."""
    pools = [[Value(float(x)) for x in row] + [Value(d) for d in shared]
             for row in guarded_rows]
    laned = [True] * n_in + [False] * len(shared)
    used, applied = set(), []
    for name, i, j, c, with_const in steps:
        size = len(pools[0])
        i, j, form = i % size, j % size, ops.BY_NAME[name]
        outs = _outputs(form, pools, i, j, c, with_const)
        if outs is None:            # its operands made safe for every form: tanh(x) + 2
            ends = [i] if form.nargs == 1 or with_const else [i, j]
            for k in ends:
                for pool in pools:
                    pool.append(pool[k].tanh() + 2)
                used.add(k)
                laned.append(laned[k])
            i, j = len(pools[0]) - len(ends), len(pools[0]) - 1
            outs = _outputs(form, pools, i, j, c, with_const)
        if outs is None:
            form, outs = TANH, [TANH.build(pool[i]) for pool in pools]
        args = [i] if form.nargs == 1 or with_const else [i, j]
        used.update(args)
        laned.append(any(laned[k] for k in args))
        applied.append(form.name)
        for pool, out in zip(pools, outs):
            pool.append(out)
    main, first = pools[0], n_in + len(shared)
    sinks = [k for k in range(first, len(main)) if k not in used]
    root, root_laned, sums, sums_laned = main[sinks[0]], laned[sinks[0]], [], []
    for k in sinks[1:]:                 # root: the sum of the sinks, so every node counts
        root, root_laned = root + main[k], root_laned or laned[k]
        sums.append(root)
        sums_laned.append(root_laned)
    keep = [k for k in range(len(main)) if k >= first or k in used]
    columns = [k for k in range(n_in) if k in used]
    g = Graph(root, [main[k] for k in columns], [main[k] for k in range(n_in, first) if k in used],
              [main[k] for k in keep] + sums)          # root last: the last step or sum
    flags = [laned[k] for k in keep] + sums_laned
    return Dag(g, columns, applied, flags)


NEAR = [0.0, -0.0, 0.5, 1.5, 2.0, 1e-3]   # numbers drawn more often than the others
ints = st.integers(-4, 4)
floats = st.one_of(st.floats(-3, 3, allow_nan=False, width=64), st.sampled_from(NEAR))
numbers = st.one_of(ints, floats)
# relu more often than the others: its int 0 on some rows is what lanes must mind
step = st.tuples(st.sampled_from([f.name for f in ops.FORMS] + ["relu"] * 3), st.integers(0, 63),
                 st.integers(0, 63), numbers, st.booleans())


def row_numbers(seed, n, width, positive):
    """n rows of numbers in [-3, 3], a fifth of them 0.0, -0.0, 0.5 ... (drawn by numpy
    from a seed hypothesis draws: drawing each number would cost most of the test)."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-3, 3, (n, width))
    special = rng.random((n, width)) < 0.2
    X[special] = rng.choice(NEAR, special.sum())
    return (np.abs(X) if positive else X).tolist()


class Case(NamedTuple):
    n_in: int
    shared: list
    steps: list
    calls: list       # (X, reduction) per forward and backward: B changes between them
    as_list: bool     # X as a list of rows, not a numpy array, its whole numbers ints if:
    int_rows: bool
    threads: object
    guarded: bool     # every row inside every op's guard; else rows after the first may fail


@st.composite
def cases(draw):
    n_in = draw(st.integers(1, 3))
    shared = draw(st.lists(numbers, max_size=3))
    steps = draw(st.lists(step, min_size=1, max_size=12))
    steps[0] = (steps[0][0], 0) + steps[0][2:]          # input 0 is in every graph
    positive = draw(st.integers(0, 2)) == 0             # rows in log's domain
    calls = [(row_numbers(draw(st.integers(0, 2**32 - 1)), draw(st.sampled_from(SIZES)), n_in,
                          positive), draw(st.sampled_from(["mean", "sum"]))) for _ in range(2)]
    return Case(n_in, shared, steps, calls, draw(st.booleans()), draw(st.booleans()),
                draw(st.sampled_from([None, 1, 2, 3])), draw(st.integers(0, 2)) > 0)


def dag_of(case):
    every_row = [row for X, _ in case.calls for row in X]
    dag = build(case.n_in, case.shared, case.steps, every_row if case.guarded else every_row[:1])
    ints = case.as_list and case.int_rows     # as set_data takes them: int data
    calls = [([[whole(row[k]) if ints else row[k] for k in dag.columns] for row in X], red)
             for X, red in case.calls]
    return dag, calls


def whole(x):
    return int(x) if x == int(x) else x


def every_form(rows, guarded):
    """A case applying every form once, to an input and the node before (or a shared leaf)."""
    steps = [(f.name, 0, 2 + k, 0, False) for k, f in enumerate(ops.FORMS)]
    return Case(2, [1.5], steps, [(rows, "mean"), (rows[:1], "sum")], False, False, 2, guarded)


EVERY_FORM = every_form([[0.5 + 0.1 * b, 1.5 - 0.1 * b] for b in range(9)], True)
A_ROW_FAILS = every_form([[0.5, 1.0], [0.7, 1.2], [-0.5, 1.0]], False)   # log of -0.5 on row 2


SETTINGS = dict(deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@settings(max_examples=300, **SETTINGS)
@given(cases())
@example(EVERY_FORM)
@example(A_ROW_FAILS)
def test_random_dags_over_rows_match_the_eager_graph_on_each_row(case):
    dag, calls = dag_of(case)
    batch = Batch(dag.graph.root, dag.graph.inputs, threads=case.threads)
    for X, reduction in calls:
        check(batch, dag.graph, X, reduction, case.as_list)


def test_the_dag_generator_reaches_every_form_ints_shared_nodes_and_failures():
    """The explicit examples apply every form, and rows fail in one; the generator is not
    degenerate: nearly every form applied, nodes that depend on no input, laned nodes
    holding ints on some row, and graphs that run."""
    dag, calls = dag_of(EVERY_FORM)
    assert dag.applied == [f.name for f in ops.FORMS] and not eager(dag.graph, calls[0][0]).failed
    dag, calls = dag_of(A_ROW_FAILS)
    assert list(eager(dag.graph, calls[0][0]).failed) == [2]
    applied, seen = set(), []

    @settings(max_examples=250, **SETTINGS)
    @given(cases(), st.booleans())
    def collect(case, run):
        dag, calls = dag_of(case)
        applied.update(dag.applied)
        inner = [not f for v, f in zip(dag.graph.nodes, dag.laned) if v._op]
        seen.append("shared node" if any(inner) else "")
        for X, _ in calls[:run and 2]:              # the eager graph on about half of them
            ref = eager(dag.graph, X)
            seen.append("failed" if ref.failed else "ok")
            if any(type(d) is int and f for row in ref.data for d, f in zip(row, dag.laned)):
                seen.append("int lane")
    collect()
    assert len(applied) >= 0.9 * len(ops.FORMS), {f.name for f in ops.FORMS} - applied
    assert seen.count("ok") >= 100 and seen.count("ok") >= seen.count("failed") * 3
    assert seen.count("shared node") >= 40 and seen.count("int lane") >= 10


# ---------------------------------------------------------------- rows: B and reductions

@pytest.mark.parametrize("fused", [False, True])
def test_one_batch_with_one_row_a_prime_number_and_back(fused):
    g, _ = mlp_graph(fused)
    batch = Batch(g.root, g.inputs)
    for seed, n in enumerate([1, 67, 5, 1, 2]):
        for v in g.shared:
            v.grad = 0
        check(batch, g, random_rows(n, len(g.inputs), seed), ["mean", "sum"][n % 2])


@pytest.mark.parametrize("fused", [False, True])
def test_rows_split_across_three_threads_match_the_eager_graph(fused):
    g, _ = mlp_graph(fused, nin=8, nouts=(24, 24, 2))     # work enough for threads to start
    check(Batch(g.root, g.inputs, threads=3), g, random_rows(193, len(g.inputs), 8))


def test_backward_adds_to_the_shared_leaves_grads():
    g, _ = mlp_graph(True)
    X = random_rows(9, len(g.inputs))
    batch = Batch(g.root, g.inputs)
    ref = check(batch, g, X)                # from zero grads: the mean itself
    mean = [v.grad for v in g.shared]
    start = [1.5 - k for k in range(len(g.shared))]
    for v, s in zip(g.shared, start):
        v.grad = s
    batch.forward(np.array(X))
    batch.backward()
    assert_grads_match(batch, g, X, ref, "mean", before=start)
    assert any(m != 0 for m in mean)


def test_backward_twice_adds_twice_and_gives_the_same_row_grads():
    g, _ = mlp_graph(True)
    batch = Batch(g.root, g.inputs)
    batch.forward(random_rows(5, len(g.inputs), 3))
    batch.backward()
    once, rows_once = [v.grad for v in g.shared], list(batch.grad(g.inputs))
    batch.backward()
    assert [v.grad for v in g.shared] == pytest.approx([2 * x for x in once], rel=1e-15)
    assert [bits(x) for x in batch.grad(g.inputs)] == [bits(x) for x in rows_once]


def test_sum_is_the_mean_times_the_rows():
    g, _ = mlp_graph(False)
    X = np.array(random_rows(7, len(g.inputs), 4))
    batch = Batch(g.root, g.inputs)
    batch.forward(X)
    batch.backward("mean")
    mean, mean_in = [v.grad for v in g.shared], list(batch.grad(g.inputs))
    for v in g.shared:
        v.grad = 0
    batch.backward("sum")
    assert [v.grad for v in g.shared] == pytest.approx([7 * m for m in mean], rel=1e-12, abs=1e-15)
    assert list(batch.grad(g.inputs)) == pytest.approx([7 * m for m in mean_in], rel=1e-12,
                                                       abs=1e-15)


def test_data_and_grad_fill_out_buffers():
    g, _ = mlp_graph(True)
    X = np.array(random_rows(6, len(g.inputs), 2))
    batch = Batch(g.root, g.inputs)
    out = np.empty(6)
    assert batch.forward(X, out=out) is out
    data = np.empty((6, len(g.nodes)))
    assert batch.data(g.nodes, out=data) is data
    assert [bits(x) for x in data.ravel()] == [bits(x) for x in batch.data(g.nodes)]
    assert [bits(x) for x in out] == [bits(x) for x in data[:, -1]]
    batch.backward()
    grad = np.empty((6, len(g.inputs)))
    assert batch.grad(g.inputs, out=grad) is grad
    assert [bits(x) for x in grad.ravel()] == [bits(x) for x in batch.grad(g.inputs)]


# ---------------------------------------------------------------- micrograd's ints

INT_CASES = [        # (name, node of x, whether some row's eager data is an int)
    ("relu's 0 times an int", lambda x: x.relu() * Value(-2), True),
    ("relu's 0 negated", lambda x: -x.relu(), True),
    ("relu's 0 times int 0", lambda x: x.relu() * 0, True),
    ("a float times int 0", lambda x: x * 0, False),               # -1.5 * 0 is -0.0
    ("Value(0) plus relu's 0 times -3", lambda x: Value(0) + x.relu() * -3, True),
    ("int 0 * -2 plus the row", lambda x: Value(0) * Value(-2) + x, False),   # 0 + -0.0 is 0.0
    ("relu's 0 cubed", lambda x: x.relu() ** 3, True),
    ("relu's 0 squared by a Value", lambda x: x.relu() ** Value(2), True),
    ("fused dot of ints", lambda x: dot([Value(-2), Value(3)], [x.relu(), -x.relu()], Value(0),
                                        fused=True), True),
    ("unfused dot of ints", lambda x: dot([Value(-2), Value(3)], [x.relu(), -x.relu()], Value(0)),
     True),
    ("a relu neuron's int output", lambda x: MLP(1, [1], fused=True, activate_output=True)([x])
     * -1, True),
]


@pytest.mark.parametrize("make, holds_int", [c[1:] for c in INT_CASES],
                         ids=[c[0] for c in INT_CASES])
def test_a_lane_where_micrograd_holds_an_int_has_the_ints_bits(make, holds_int):
    x = Value(1.0)
    inner = make(x)
    root = inner + Value(-0.0)                  # keeps -0.0, makes an int 0 0.0
    g = Graph(root, [x], [], [x, inner, root])
    ref = check(Batch(root, [x]), g, [[-1.5], [-0.0], [0.0], [2.0], [-3.0]])
    assert any(type(row[1]) is int for row in ref.data) == holds_int


@pytest.mark.parametrize("make, row", [
    pytest.param(lambda x: dot([Value(2.0)], [x], Value(-0.0), fused=True), -0.0,
                 id="floats: -0.0 + 2.0 * -0.0"),
    pytest.param(lambda x: dot([Value(-2)], [x.relu()], Value(-0.0), fused=True), -1.5,
                 id="ints: -0.0 + -2 * relu's 0"),
    pytest.param(lambda x: dot([Value(-2)], [x.relu()], Value(-0.0)), -1.5,
                 id="ints, unfused: -0.0 + -2 * relu's 0"),         # a chain run as one dot
    pytest.param(lambda x: dot([Value(-2)], [x.relu()], Value(0), fused=True) * Value(-3), -1.5,
                 id="ints: (0 + -2 * relu's 0) * -3"),
    pytest.param(lambda x: dot([Value(2.0)], [x], Value(0.5), fused=True), -0.0, id="0.5 start"),
])
def test_a_dot_of_shared_weights_keeps_zeros_signs_and_micrograds_ints(make, row):
    """A dot of shared weights over laned inputs (a tile, csrc/lanes.h) on 9 rows: a
    group of 8 and one more, which take different loops."""
    x = Value(1.0)
    root = make(x)
    check(Batch(root, [x]), Graph(root, [x], [], [x, root]), [[row]] * 9)


@pytest.mark.parametrize("n_dots", [1, 4, 5])
def test_a_layer_whose_dots_take_an_input_twice(n_dots):
    x, y = Value(1.0), Value(2.0)
    ws = [leaves([0.5 + k, -1.5 + k, 0.25 * k]) for k in range(n_dots)]
    outs = [dot(w, [x, y, x], Value(0.1 * k), fused=True) for k, w in enumerate(ws)]
    root = outs[0].tanh()
    for o in outs[1:]:
        root = root + o.tanh()
    g = Graph(root, [x, y], [v for w in ws for v in w], [x, y] + outs + [root])
    check(Batch(root, [x, y]), g, random_rows(19, 2, 1))


SPECIAL = [math.inf, -math.inf, math.nan, 1e308, -1e308, 5e-324, -5e-324, 0.0, -0.0, 710.0,
           -745.0, 1e-300]


@pytest.mark.parametrize("form", ops.FORMS, ids=[f.name for f in ops.FORMS])
def test_every_form_on_rows_of_infinities_nans_and_extremes(form):
    """Each row alone, since some fail (the failing ones must raise the eager exception),
    and the rows that do not fail together."""
    x, y = Value(1.0), Value(-2.0)
    out = form.build(*(x, y)[:form.nargs])
    g = Graph(out, [x], [y][:form.nargs - 1], [x] + [y][:form.nargs - 1] + [out])
    batch = Batch(out, [x])
    ref = check(batch, g, [[s] for s in SPECIAL])
    if ref.failed:
        check(batch, g, [[s] for b, s in enumerate(SPECIAL) if b not in ref.failed])


def test_rows_of_python_ints_give_the_bits_of_set_data_with_those_ints():
    x = Value(1.0)
    inner = x * Value(-2)
    root = inner + Value(-0.0)
    g = Graph(root, [x], [], [x, inner, root])
    check(Batch(root, [x]), g, [[0], [3], [0.0], [-1]], as_list=True)


# ---------------------------------------------------------------- the eager graph stays

def test_a_batch_run_leaves_the_values_own_data_and_grads_alone():
    """Nodes' data (parameters too) and every grad but the shared leaves' keep the eager
    graph's last state; forward alone touches no grad."""
    g, _ = mlp_graph(True)
    set_data(g.inputs, [0.25] * len(g.inputs))
    g.root.forward()
    g.root.backward()
    nodes, params = leaf_state(g.nodes), leaf_state(g.shared)
    batch = Batch(g.root, g.inputs)
    batch.forward(random_rows(11, len(g.inputs), 5))
    batch.data(g.nodes)
    assert (leaf_state(g.nodes), leaf_state(g.shared)) == (nodes, params)
    batch.backward()
    assert leaf_state(g.nodes) == nodes
    assert [s[:2] for s in leaf_state(g.shared)] == [s[:2] for s in params]
    assert [s[2] for s in leaf_state(g.shared)] != [s[2] for s in params]


def test_forward_backward_and_prev_work_before_and_after_a_batch():
    x, y, w = Value(0.5), Value(-1.0), Value(2.0)
    h = (x * w).tanh()
    root = h * y + w.exp()
    want_prev = {id(v) for v in root._prev}
    set_data([x, y], [0.3, 0.7])
    root.forward()
    first = (bits(root.data), bits(h.data))
    batch = Batch(root, [x, y])
    batch.forward([[0.3, 0.7], [-2.0, 1.0]])
    batch.backward()
    assert (bits(root.data), bits(h.data)) == first
    assert {id(v) for v in root._prev} == want_prev
    assert any(h in v._prev for v in root._prev)
    set_data([x, y], [-2.0, 1.0])
    root.forward()
    assert bits(root.data) == bits(batch.data([root])[1])
    for v in (x, y, w):
        v.grad = 0
    root.backward()
    fresh_x = Value(-2.0)
    fresh = (fresh_x * Value(2.0)).tanh() * Value(1.0) + Value(2.0).exp()
    fresh.backward()
    assert bits(x.grad) == bits(fresh_x.grad)
    batch.forward([[0.1, 0.2]])                # the Batch still works after eager use
    assert bits(batch.data([root])[0]) == bits(((Value(0.1) * 2.0).tanh() * 0.2
                                                + Value(2.0).exp()).data)


# ---------------------------------------------------------------- threads and kernels

def test_one_two_and_three_threads_give_the_same_bits():
    g = every_op_graph()
    one = fingerprint(g, 1)
    assert fingerprint(g, 2) == one
    assert fingerprint(g, 3) == one
    assert fingerprint(g, None) == one


def run_python(args, env=None):
    env = {**os.environ, **(env or {})}
    # the tests' modules by path, not by the working directory (PYTHONSAFEPATH, as under
    # make sanitize, leaves it out of sys.path)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS), env.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, *args], cwd=TESTS, env=env, capture_output=True,
                          text=True, timeout=120, check=True).stdout


FINGERPRINT = """
import json, sys, types
class NoTorch(types.ModuleType):    # tests/ops.py names torch's functions, calls none here
    def __getattr__(self, name):
        return None
sys.modules["torch"] = NoTorch("torch")     # (importing torch takes seconds)
from batching import every_op_graph, fingerprint
from micrograd.batch import kernels
json.dump([kernels(), fingerprint(every_op_graph(), 2)], sys.stdout)
"""


def kernel_fingerprint(target=""):
    """[kernel set, fingerprint] of a fresh process under MG_KERNELS=target ("": native)."""
    return json.loads(run_python(["-c", FINGERPRINT], {"MG_KERNELS": target}))


@pytest.mark.parametrize("target", ["baseline", "avx2"])
def test_every_kernel_set_gives_the_native_bits(target):
    got, bits_ = kernel_fingerprint(target)
    if got != target:
        assert target != "baseline", "MG_KERNELS=baseline must force the baseline"
        pytest.skip(f"this CPU has no {target}")
    assert bits_ == kernel_fingerprint()[1]


def test_python_m_micrograd_names_the_kernel_set():
    forced = run_python(["-m", "micrograd"], {"MG_KERNELS": "baseline"})
    assert any("kernel" in line and "baseline" in line for line in forced.splitlines()), forced
    assert any("kernel" in line for line in run_python(["-m", "micrograd"]).splitlines())
