"""The engine against its oracles, op by op.

Every op's forward and gradients against PyTorch float64 and finite differences;
backward semantics (twice, shared leaves, deep chains); errors and the engine's
state after them; int/float fidelity and numpy scalars against micrograd 0.1.0.
Not here: random expression DAGs (test_oracle.py), the C API (test_capi.py),
memory and _prev (test_memory.py).
"""
import gc
import math
import random

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
import torch

from micrograd import _mg
from micrograd._mg import lib
from micrograd.engine import Value, stats
from oracle import run_original
import ops

F64 = torch.float64

# ---------------------------------------------------------------- ops

# every form of every op (tests/ops.py): ours on Values, PyTorch's on float64 tensors
OPS = ops.BY_NAME


def op_fn(name):
    """(x, y) -> the form on Values, or PyTorch's equivalent on tensors"""
    return lambda x, y: ops.apply(OPS[name], x, y)


def points(domain, n=12, seed=0):
    """(x, y) pairs: a few hand-picked ones, then seeded random magnitudes."""
    fixed = {"any": [(-1.7, 0.3), (0.5, -2.25), (3.0, 1.5), (-0.05, 4.0), (12.5, -0.001)],
             "pos": [(0.3, 1.7), (2.5, -0.75), (1e-3, 3.0), (40.0, 0.5), (1.0, 2.0)]}[domain]
    rng = random.Random(seed)
    out = list(fixed)
    while len(out) < n:
        x = rng.uniform(0.1, 4.0) * rng.choice([1.0, 0.1, 3.0])
        y = rng.uniform(-3.0, 3.0)
        out.append((x if domain == "pos" else rng.choice([-1, 1]) * x, y))
    return out


def grads_torch(name, x, y, w):
    """d(op(x, y) * w + x) / d(x, y, w) in float64."""
    tx, ty, tw = (torch.tensor(v, dtype=F64, requires_grad=True) for v in (x, y, w))
    (op_fn(name)(tx, ty) * tw + tx).backward()
    return [0.0 if t.grad is None else t.grad.item() for t in (tx, ty, tw)]


def close(a, b, rel=1e-12, abs_=1e-12):
    return math.isclose(a, b, rel_tol=rel, abs_tol=abs_) or (math.isnan(a) and math.isnan(b))


@pytest.mark.parametrize("name", OPS)
def test_forward_matches_torch_float64(name):
    ours, domain, exact = op_fn(name), OPS[name].domain, OPS[name].exact
    for x, y in points(domain):
        got = ours(Value(x), Value(y)).data
        want = op_fn(name)(torch.tensor(x, dtype=F64), torch.tensor(y, dtype=F64)).item()
        if exact:
            assert float(got).hex() == want.hex(), (x, y)
        else:
            assert math.isclose(got, want, rel_tol=1e-15), (x, y, got, want)


@pytest.mark.parametrize("name", OPS)
def test_gradients_match_torch_float64(name):
    ours, domain = op_fn(name), OPS[name].domain
    for k, (x, y) in enumerate(points(domain)):
        w = 0.75 - k / 8               # upstream grad != 1, and x reached by two paths
        vx, vy, vw = Value(x), Value(y), Value(w)
        z = ours(vx, vy)
        out = z * vw + vx
        out.backward()
        for got, want in zip((vx.grad, vy.grad, vw.grad), grads_torch(name, x, y, w)):
            assert close(got, want), (x, y, got, want)
        assert close(z.grad, w, rel=0, abs_=0)     # d out/d z is w exactly


@pytest.mark.parametrize("name", OPS)
def test_gradients_match_finite_differences(name):
    ours, domain, step = op_fn(name), OPS[name].domain, OPS[name].step
    f = lambda x, y: ours(Value(x), Value(y)).data
    for x, y in points(domain, n=6, seed=1):
        vx, vy = Value(x), Value(y)
        ours(vx, vy).backward()
        hx, hy = step * max(1.0, abs(x)), step * max(1.0, abs(y))
        fd_x = (f(x + hx, y) - f(x - hx, y)) / (2 * hx)
        fd_y = (f(x, y + hy) - f(x, y - hy)) / (2 * hy)
        assert math.isclose(vx.grad, fd_x, rel_tol=1e-6, abs_tol=1e-7), (x, y, vx.grad, fd_x)
        assert math.isclose(vy.grad, fd_y, rel_tol=1e-6, abs_tol=1e-7), (x, y, vy.grad, fd_y)


# Edge points of the derivative, against PyTorch (micrograd's Python raises on
# some of them inside backward; ours does not raise, and should agree with PyTorch).
EDGES = {
    "relu_at_0":            (lambda x, y: x.relu(), lambda x, y: torch.relu(x), 0.0, 1.0),
    "pow_half_at_0":        (lambda x, y: x ** 0.5, None, 0.0, 1.0),
    "pow_value_0_to_2":     (lambda x, y: x ** y, None, 0.0, 2.0),
    "pow_value_neg_base":   (lambda x, y: x ** y, None, -2.0, 3.0),
    "pow_zero_at_0":        (lambda x, y: x ** 0, None, 0.0, 1.0),
    "pow_value_0_to_0":     (lambda x, y: x ** y, None, 0.0, 0.0),
}
@pytest.mark.parametrize("name", EDGES)
def test_gradient_edge_points_match_torch(name):
    ours, theirs, x, y = EDGES[name]
    theirs = theirs or ours
    vx, vy = Value(x), Value(y)
    ours(vx, vy).backward()
    tx, ty = (torch.tensor(v, dtype=F64, requires_grad=True) for v in (x, y))
    theirs(tx, ty).backward()
    for got, t in ((vx.grad, tx), (vy.grad, ty)):
        want = 0.0 if t.grad is None else t.grad.item()
        assert close(got, want), (got, want)


# ---------------------------------------------------------------- backward semantics

@pytest.mark.parametrize("name", OPS)
def test_backward_twice_doubles_leaves_and_recomputes_inner_grads(name):
    ours, domain = op_fn(name), OPS[name].domain
    x, y = points(domain)[2]
    vx, vy, vw = Value(x), Value(y), Value(0.5)
    z = ours(vx, vy)
    out = z * vw + vx
    out.backward()
    inner = (z.grad, out.grad)
    out.backward()
    assert (z.grad, out.grad) == inner == (0.5, 1)
    tx, ty, tw = (torch.tensor(v, dtype=F64, requires_grad=True) for v in (x, y, 0.5))
    tout = op_fn(name)(tx, ty) * tw + tx
    tout.backward(retain_graph=True)
    tout.backward()
    for got, t in zip((vx.grad, vy.grad, vw.grad), (tx, ty, tw)):
        assert close(got, 0.0 if t.grad is None else t.grad.item())


def test_second_root_adds_only_its_own_contribution_to_a_shared_leaf():
    x = Value(3.0)
    y = x * x            # dy/dx = 6
    z = x + 1            # dz/dx = 1
    y.backward()
    z.backward()
    assert x.grad == 7.0    # a replay of y's graph would give 13


def test_backward_from_a_parent_recomputes_a_shared_inner_node():
    x = Value(2.0)
    y = x * 2
    z = y * 3
    y.backward()            # x.grad = 2
    z.backward()            # adds dz/dx = 6; y.grad is dz/dy, not 1 + 3
    assert (x.grad, y.grad, z.grad) == (8.0, 3.0, 1)
    tx = torch.tensor(2.0, dtype=F64, requires_grad=True)
    ty = tx * 2
    tz = ty * 3
    ty.backward(retain_graph=True)
    tz.backward()
    assert x.grad == tx.grad.item()


def test_backward_of_a_leaf_sets_its_grad_to_one():
    x = Value(4.0)
    x.backward()
    assert repr(x) == "Value(data=4.0, grad=1)"


def test_unreached_nodes_keep_their_grads():
    x, y = Value(1.0), Value(2.0)
    a = x * y
    b = x + y
    a.backward()
    b.grad = 5.0
    a.backward()
    assert b.grad == 5.0 and x.grad == 4.0


def chain(n):
    x, one = Value(1.0), Value(1.0)
    v = x
    for _ in range(n):
        v = v + one
    v.backward()
    return v, x, one


def test_chain_of_a_million_nodes_backpropagates_without_recursion():
    v, x, one = chain(1_000_000)
    assert (v.data, x.grad, one.grad) == (1_000_001.0, 1, 1_000_000)


def test_chain_of_ten_million_nodes_backpropagates_without_recursion():
    v, x, one = chain(10_000_000)       # about 8 s and 0.7 GB here
    assert (v.data, x.grad, one.grad) == (10_000_001.0, 1, 10_000_000)


# ---------------------------------------------------------------- errors

def assert_engine_exact():
    """A fresh computation, forward exact and grads as PyTorch's."""
    a, b = Value(1.5), Value(-0.25)
    out = (a * b + b ** 2 - a / b).tanh() + a.exp().log()
    out.backward()
    ta, tb = (torch.tensor(v, dtype=F64, requires_grad=True) for v in (1.5, -0.25))
    tout = torch.tanh(ta * tb + tb ** 2 - ta / tb) + torch.log(torch.exp(ta))
    tout.backward()
    assert (a * b + 2).data == 1.5 * -0.25 + 2
    assert close(out.data, tout.item(), rel=1e-15)
    assert close(a.grad, ta.grad.item()) and close(b.grad, tb.grad.item())


@pytest.mark.parametrize("data, type_name", [("abc", "str"), (None, "NoneType"), ([1], "list")])
def test_value_of_a_non_number_raises_type_error_naming_the_type(data, type_name):
    live = stats()["live"]
    with pytest.raises(TypeError, match=type_name):
        Value(data)
    assert stats()["live"] == live
    assert_engine_exact()


# name -> (op, operand data, error, the same numbers in plain Python or None where
# Python returns a complex number: engine.py's docstring decides ValueError).
ERRORS = {
    "add_str":            (lambda v: v + "a", 1.0, TypeError, lambda: 1.0 + "a"),
    "radd_none":          (lambda v: None + v, 1.0, TypeError, lambda: None + 1.0),
    "pow_str":            (lambda v: v ** "a", 1.0, TypeError, lambda: 1.0 ** "a"),
    "rpow_str":           (lambda v: "a" ** v, 1.0, TypeError, lambda: "a" ** 1.0),
    "zero_to_negative":   (lambda v: v ** -1, 0.0, ZeroDivisionError, lambda: 0.0 ** -1),
    "one_over_zero":      (lambda v: 1 / v, 0, ZeroDivisionError, lambda: 1 * 0 ** -1),
    "zero_to_value_neg":  (lambda v: v ** Value(-1.0), 0.0, ZeroDivisionError, lambda: 0.0 ** -1.0),
    "pow_overflow":       (lambda v: v ** 400, 10.0, OverflowError, lambda: 10.0 ** 400),
    "pow_value_overflow": (lambda v: v ** Value(400.0), 10.0, OverflowError, lambda: 10.0 ** 400.0),
    "exp_overflow":       (lambda v: v.exp(), 1000.0, OverflowError, lambda: math.exp(1000.0)),
    "log_zero":           (lambda v: v.log(), 0.0, ValueError, lambda: math.log(0.0)),
    "log_negative":       (lambda v: v.log(), -1.0, ValueError, lambda: math.log(-1.0)),
    "negative_frac_pow":  (lambda v: v ** (1 / 3), -8.0, ValueError, None),
    "negative_value_pow": (lambda v: v ** Value(0.5), -8.0, ValueError, None),
}


@pytest.mark.parametrize("name", ERRORS)
def test_failed_op_raises_pythons_error_and_leaves_no_node(name):
    op, data, exc, python = ERRORS[name]
    if python is not None:
        with pytest.raises(exc):
            python()
    v = Value(data)
    live = stats()["live"]
    with pytest.raises(exc):
        op(v)
    assert stats()["live"] == live
    assert_engine_exact()


def test_full_arena_raises_memory_error_and_keeps_the_graph():
    from micrograd import engine
    x = Value(2.0)
    y = x * 3
    gc.collect()              # no garbage Values of other tests freed in the middle
    gc.disable()
    live, cap = stats()["live"], stats()["cap"]
    assert lib.mg_arena_limit(engine._arena, cap) == lib.MG_OK
    try:
        keep = []
        with pytest.raises(MemoryError):
            for _ in range(cap + 1):
                keep.append(Value(0.0))
        assert len(keep) == cap - live
        del keep
        assert stats()["live"] == live and y.data == 6.0
        y.backward()
        assert x.grad == 3.0
    finally:
        lib.mg_arena_limit(engine._arena, 2 ** 31 - 1)
        gc.enable()
    assert_engine_exact()


# ---------------------------------------------------------------- int/float fidelity

# Each snippet builds `out` from leaves a, b; both engines run it, then out.backward().
SNIPPETS = [
    "a = Value(2); b = Value(3); out = a * b + a",
    "a = Value(2); b = Value(3); out = a ** 2 - b",
    "a = Value(2); b = Value(3.0); out = a * b",
    "a = Value(2); b = Value(4); out = a / b",
    "a = Value(7); b = Value(2); out = 1 / a + b ** 3",
    "a = Value(-3); b = Value(2); out = (a * b).relu() + b",
    "a = Value(0); b = Value(1); out = a.relu() * b",
    "a = Value(-0.0); b = Value(1); out = a.relu() + b * a",
    "a = Value(5); b = Value(2); out = a ** 0 + b ** 1",
    "a = Value(5); b = Value(2); out = a ** 2.0 + b ** -1",
    "a = Value(1.5); b = Value(2); out = -a + 2 * b - 1",
    "a = Value(2); b = Value(-1); out = 3 - a * b",
    "a = Value(2 ** 52); b = Value(1); out = a + b",
    "a = Value(3); b = Value(3); out = (a - b) * a",
    "a = Value(2.0); b = Value(3.0); out = a * b; a.data = 5.0",
    "a = Value(2); b = Value(3); out = a * b; b.data = 0.5",
    "a = Value(2); b = Value(3); out = a * b; a.grad = 10",
    "a = Value(2.0); b = Value(3); out = a * b; a.data -= 0.1 * b.data",
    "a = Value(np.int64(3)); b = Value(np.float64(0.5)); out = np.float64(2.0) + a * b",
    "a = Value(np.int64(3)); b = Value(2); out = np.int64(-1) * a + b * np.int64(2)",
    "a = Value(np.float32(1.5)); b = Value(2); out = np.float64(2.0) * a - np.int64(1) / b",
    "a = Value(3.0); b = Value(2); out = np.float64(2.0) / a + np.int64(4) - b",
]


@pytest.fixture(scope="module")
def oracle_reprs():
    return run_original(f"""
        import numpy as np
        from micrograd.engine import Value
        result = []
        for s in {SNIPPETS!r}:
            ns = {{"Value": Value, "np": np}}
            exec(s, ns)
            before = repr(ns["out"])
            ns["out"].backward()
            result.append([before] + [repr(ns[k]) for k in ("out", "a", "b")])
    """)


SIGNED_INT_ZERO = [    # Python ints have no -0; a float64 engine must not invent one
    "a = Value(0); b = Value(-3); out = (a * b) * 2.5",
    "a = Value(0); b = Value(-2.5); out = -a * b",
]
SNIPPETS += SIGNED_INT_ZERO


@pytest.mark.parametrize("k", range(len(SNIPPETS)), ids=SNIPPETS)
def test_data_and_grad_reprs_equal_micrograds(k, oracle_reprs):
    ns = {"Value": Value, "np": np}
    exec(SNIPPETS[k], ns)
    before = repr(ns["out"])
    ns["out"].backward()
    assert [before] + [repr(ns[n]) for n in ("out", "a", "b")] == oracle_reprs[k]


def test_setters_store_ints_as_ints_and_floats_as_floats():
    v = Value(1.5)
    v.data, v.grad = 3, 0
    assert repr(v) == "Value(data=3, grad=0)"
    v.data, v.grad = 2.5, -0.0
    assert repr(v) == "Value(data=2.5, grad=-0.0)"


def test_data_setter_changes_later_ops_but_not_built_ones():
    x = Value(2.0)
    y = x * 3
    x.data = 10.0
    assert y.data == 6.0 and (x * 3).data == 30.0


@pytest.mark.parametrize("field", ["data", "grad"])
@pytest.mark.parametrize("bad", ["a", None, [1]])
def test_setters_reject_non_numbers(field, bad):
    v = Value(1.0)
    with pytest.raises(TypeError):
        setattr(v, field, bad)
    assert repr(v) == "Value(data=1.0, grad=0)"


@pytest.mark.parametrize("expr, data, grad", [
    ("np.float64(2.0) + v", 5.0, 1), ("v + np.float64(2.0)", 5.0, 1),
    ("np.int64(-1) * v", -3.0, -1), ("v * np.int64(-1)", -3.0, -1),
    ("np.int64(1) - v", -2.0, -1), ("np.float64(6.0) / v", 2.0, -6.0 / 9.0)])
def test_numpy_scalars_on_either_side_give_values(expr, data, grad):
    v = Value(3.0)
    out = eval(expr)
    assert type(out) is Value and out.data == data
    out.backward()
    assert close(v.grad, grad)


def test_value_of_numpy_float32_is_its_exact_double():
    assert Value(np.float32(1.5)).data == 1.5
    assert Value(np.float32(0.1)).data == float(np.float32(0.1))


# ---------------------------------------------------------------- dot (Neuron's sum)

def structure(v, names):
    """v's graph as nested tuples: op, exact data and children; leaves by their name."""
    if v in names:
        return names[v]
    kids = sorted((structure(c, names) for c in v._prev), key=repr)
    return (v._op, repr(v.data), tuple(kids))


def assert_dot_is_the_sum(dot, ws, xs, start, leaves):
    """dot(ws, xs, start) and the sum it replaces: the same graph over the leaves, the
    same data bit for bit (and int or float alike), the same grads."""
    got = dot(ws, xs, start)
    want = sum((w*x for w, x in zip(ws, xs)), start)
    names = {v: f"leaf{k}" for k, v in enumerate(leaves)}
    assert structure(got, names) == structure(want, names)
    assert repr(got) == repr(want)
    got.backward()
    grads = [repr(v.grad) for v in leaves]
    for v in leaves:
        v.grad = 0
    want.backward()
    assert grads == [repr(v.grad) for v in leaves]


DOT_INPUTS = {
    "values": lambda: [Value(x) for x in (0.3, -1.7, 2.5)],
    "floats": lambda: [0.3, -1.7, 2.5],
    "ints (as written)": lambda: [3, -1, 2],
    "mixed (as written)": lambda: [Value(0.3), -1.7, 2],
    "shorter than ws": lambda: [Value(0.3), Value(-1.7)],
    "longer than ws": lambda: [Value(x) for x in (0.3, -1.7, 2.5, 9.0)],
    "tuple": lambda: (Value(0.3), Value(-1.7), Value(2.5)),
    "numpy floats (as written)": lambda: list(np.array([0.3, -1.7, 2.5])),
    "empty": lambda: [],
}


@pytest.mark.parametrize("kind", DOT_INPUTS)
@pytest.mark.parametrize("b", [0, 0.25])
def test_dot_is_the_sum_it_replaces_node_for_node(kind, b):
    from micrograd.engine import dot
    ws = [Value(w) for w in (0.5, -1.25, 3.0)]
    start, xs = Value(b), DOT_INPUTS[kind]()
    leaves = ws + [x for x in xs if isinstance(x, Value)] + [start]
    assert_dot_is_the_sum(dot, ws, xs, start, leaves)


def test_dot_with_a_non_value_start_or_weight_is_computed_as_written():
    from micrograd.engine import dot
    xs = [Value(2.0), Value(3.0)]
    assert dot([Value(1.0), Value(4.0)], xs, 0.5).data == 0.5 + 1.0 * 2.0 + 4.0 * 3.0
    assert dot([1.5, Value(4.0)], xs, Value(0)).data == 0 + 1.5 * 2.0 + 4.0 * 3.0


def test_dot_in_a_full_arena_raises_memory_error_and_keeps_the_graph():
    from micrograd import engine
    ws, xs, b = [Value(1.5) for _ in range(8)], [Value(2.0) for _ in range(8)], Value(0.0)
    y = b * 3
    gc.collect()
    gc.disable()
    live, cap = stats()["live"], stats()["cap"]
    assert lib.mg_arena_limit(engine._arena, cap) == lib.MG_OK
    try:
        fill = [Value(0.0) for _ in range(cap - live - 5)]   # room for 2 of 8 terms
        live = stats()["live"]
        with pytest.raises(MemoryError):
            engine.dot(ws, xs, b)
        assert stats()["live"] == live
        del fill
    finally:
        lib.mg_arena_limit(engine._arena, 2 ** 31 - 1)
        gc.enable()
    out = engine.dot(ws, xs, b)
    assert out.data == 8 * 3.0 and y.data == 0.0
    out.backward()
    assert [w.grad for w in ws] == [2.0] * 8
    assert_engine_exact()


numbers = st.one_of(st.floats(-8, 8, allow_nan=False), st.integers(-5, 5))


@settings(max_examples=150, derandomize=True, deadline=None, database=None)
@given(data=st.data(), n_w=st.integers(0, 6), n_x=st.integers(0, 7))
def test_dot_matches_the_sum_it_replaces_on_random_inputs(data, n_w, n_x):
    """Random weights, a start and inputs that are floats, ints, fresh Values or the
    weights and start themselves (shared nodes): the same graph, data and grads."""
    from micrograd.engine import dot
    ws = [Value(data.draw(numbers)) for _ in range(n_w)]
    start = Value(data.draw(numbers))
    pool = ws + [start, Value(data.draw(numbers))]
    kind = data.draw(st.sampled_from(["floats", "values", "mixed"]))
    draw_x = {"floats": st.floats(-8, 8, allow_nan=False),
              "values": st.sampled_from(pool),
              "mixed": st.one_of(numbers, st.sampled_from(pool))}[kind]
    xs = data.draw(st.lists(draw_x, min_size=n_x, max_size=n_x))
    assert_dot_is_the_sum(dot, ws, xs, start, pool)


DOT_INPUTS_ONCE = {          # inputs that can be read once: dot alone
    "generator of values": lambda: (Value(x) for x in (0.3, -1.7, 2.5)),
    "numpy array": lambda: np.array([0.3, -1.7, 2.5]),
}


@pytest.mark.parametrize("kind, fast", [
    ("values", True), ("floats", True), ("tuple", True), ("numpy floats (as written)", True),
    ("generator of values", True), ("numpy array", True),
    ("ints (as written)", False), ("mixed (as written)", False), ("empty", False)])
def test_dot_takes_one_c_call_for_values_or_floats(kind, fast, monkeypatch):
    """The fast path is taken where it applies (else dot would only be slower)."""
    from micrograd import engine
    calls = []

    class CountingModule:       # micrograd._mg, where handle_dot makes the nodes in C
        def __getattr__(self, name):
            if name == "handle_dot":
                calls.append("mg_dot")
            return getattr(_mg, name)

    monkeypatch.setattr(engine, "_mg", CountingModule())
    ws = [Value(w) for w in (0.5, -1.25, 3.0)]
    engine.dot(ws, {**DOT_INPUTS, **DOT_INPUTS_ONCE}[kind](), Value(0))
    assert calls == (["mg_dot"] if fast else [])


@pytest.mark.parametrize("n_x", [0, 2, 3, 5])
@pytest.mark.parametrize("wrap", [iter, tuple, np.array], ids=["iterator", "tuple", "numpy"])
def test_dot_over_any_iterable_is_the_sum_and_takes_what_zip_takes(wrap, n_x):
    from micrograd.engine import dot
    ws, start = [Value(w) for w in (0.5, -1.25, 3.0)], Value(0.25)
    xs = [0.3, -1.7, 2.5, 9.0, -4.0][:n_x] if wrap is np.array else \
        [Value(x) for x in (0.3, -1.7, 2.5, 9.0, -4.0)][:n_x]
    ours, theirs = wrap(xs), wrap(xs)
    got = dot(ws, ours, start)
    want = sum((w*x for w, x in zip(ws, theirs)), start)
    names = {v: f"leaf{k}" for k, v in enumerate(ws + [start] + list(xs))}
    assert structure(got, names) == structure(want, names) and repr(got) == repr(want)
    if wrap is iter:                         # the same items left for the caller
        assert list(ours) == list(theirs)
