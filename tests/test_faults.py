"""Faults and bad input: every public entry point, given what it should refuse.

Each test asserts a clear Python exception (the type plain Python raises) or
NaN/inf propagating as documented, and then that the engine is still exact:
a reference graph gives Python's own float results, and no node leaked.
A C allocation failure is simulated in a subprocess by capping the arena
(lib.mg_arena_limit), so the cap cannot leak into other tests.
Not here: the engine's normal behaviour (test_engine.py), threads
(test_threads.py), interpreter exit (test_shutdown.py).
"""
import copy
import gc
import math
import operator
import pickle
import subprocess
import sys
import textwrap
import threading

import pytest

from micrograd.engine import Value, stats
from micrograd.gradcheck import gradcheck
import ops

NAN, INF = float("nan"), float("inf")


def _live():
    gc.collect()      # earlier tests' tracebacks and cycles may still hold Values
    return stats()["live"]


def assert_engine_exact():
    """A graph over every op gives the numbers Python computes with micrograd's formulas,
    and releases every node it made."""
    live = _live()
    a, b = Value(1.5), Value(-0.25)
    c = a * b + a ** 2
    t = (a * b).tanh()
    s = (a.log() + b.exp()).sigmoid()
    r = (b / a).relu() + (a - b).relu()
    c.backward()
    assert c.data == 1.5 * -0.25 + 1.5 ** 2
    assert (a.grad, b.grad) == (-0.25 + 2 * 1.5, 1.5)
    assert t.data == math.tanh(1.5 * -0.25)
    x = math.log(1.5) + math.exp(-0.25)
    assert s.data == 1 / (1 + math.exp(-x))
    assert r.data == 0 + (1.5 + -0.25 * -1)
    del a, b, c, t, s, r
    assert _live() == live


# ---------------------------------------------------------------- wrong types

NOT_NUMBERS = [None, "1", b"1", [1.0], (1.0,), {}, set(), 1 + 2j, object(), Value, print]
BINARY = {
    "add": operator.add, "radd": lambda v, x: x + v, "sub": operator.sub,
    "rsub": lambda v, x: x - v, "mul": operator.mul, "rmul": lambda v, x: x * v,
    "truediv": operator.truediv, "rtruediv": lambda v, x: x / v, "pow": operator.pow,
    "rpow": lambda v, x: x ** v,
}


@pytest.mark.parametrize("bad", NOT_NUMBERS, ids=repr)
@pytest.mark.parametrize("op", BINARY)
def test_arithmetic_with_a_non_number_raises_type_error(op, bad):
    with pytest.raises(TypeError):
        BINARY[op](Value(2.0), bad)
    assert_engine_exact()


@pytest.mark.parametrize("bad", NOT_NUMBERS, ids=repr)
def test_a_non_number_as_data_raises_type_error_and_changes_nothing(bad):
    with pytest.raises(TypeError):
        Value(bad)
    v = Value(2.5)
    with pytest.raises(TypeError):
        v.data = bad
    with pytest.raises(TypeError):
        v.grad = bad
    assert (v.data, v.grad) == (2.5, 0)


@pytest.mark.parametrize("method", ops.CALLS + ["backward"])
def test_methods_given_arguments_raise_type_error(method):
    with pytest.raises(TypeError):
        getattr(Value(2.0), method)(1.0)


def test_value_refuses_children_that_are_not_values():
    with pytest.raises(TypeError):
        Value(1.0, (2.0,), "+")


def test_a_python_int_too_large_for_a_float_raises_overflow_error():
    with pytest.raises(OverflowError):
        Value(10 ** 400)
    v = Value(1.0)
    with pytest.raises(OverflowError):
        v.data = -(10 ** 400)
    with pytest.raises(OverflowError):
        v + 10 ** 400
    assert v.data == 1.0
    assert_engine_exact()


def test_an_int_product_too_large_for_a_float_raises_overflow_error():
    # engine.py: "an int result too large for a float raises OverflowError";
    # micrograd 0.1.0 would hold the exact int 10**600
    with pytest.raises(OverflowError):
        Value(10 ** 300) * Value(10 ** 300)


def test_a_zero_dimensional_array_of_floats_stays_a_float():
    # micrograd 0.1.0 keeps the array; a float is the nearest we hold, never an int
    np = pytest.importorskip("numpy")
    assert type(Value(np.array(2.0)).data) is float
    assert repr((Value(np.array(0.5)) * 4).data) == "2.0"


def test_numbers_from_other_libraries_are_accepted_exactly():
    np = pytest.importorskip("numpy")
    from fractions import Fraction
    from decimal import Decimal
    assert Value(np.float64(1.5)).data == 1.5
    assert Value(np.int64(3)).data == 3 and isinstance(Value(np.int64(3)).data, int)
    assert Value(Fraction(3, 2)).data == 1.5
    assert Value(Decimal("1.5")).data == 1.5
    with pytest.raises(TypeError):
        Value(np.array([1.0, 2.0]))


# ---------------------------------------------------------------- nan and inf


@pytest.mark.parametrize("x", [NAN, INF, -INF])
def test_nan_and_inf_data_flow_through_every_op_without_raising_where_python_does_not(x):
    v = Value(x)
    outs = [v + 1, v * 2, v - 1, v / 2, v ** 2, v.relu(), v.tanh(), v.sigmoid(), -v]
    expect = [x + 1, x * 2, x - 1, x * 2 ** -1, x ** 2, 0 if x < 0 else x, math.tanh(x),
              None, -x]
    for out, e in zip(outs, expect):
        if e is not None:
            assert out.data == e or (math.isnan(out.data) and math.isnan(e))
        out.backward()
    assert_engine_exact()


def test_setting_nan_data_and_grad_then_backward_propagates_nan():
    a, b = Value(1.0), Value(2.0)
    y = a * b
    a.data = NAN
    b.grad = INF
    y.backward()   # grads from current data, as micrograd
    assert math.isnan(b.grad) and a.grad == 2.0
    assert_engine_exact()


def test_gradcheck_refuses_a_non_number_input_and_a_failing_function():
    with pytest.raises((TypeError, ValueError)):
        gradcheck(lambda a: a, ["x"])
    with pytest.raises(ValueError):
        gradcheck(lambda a: a.log(), [0.0])
    assert_engine_exact()


# ---------------------------------------------------------------- huge inputs


def test_a_sum_of_200k_values_backpropagates_and_releases():
    live = _live()
    xs = [Value(float(i)) for i in range(200_000)]
    total = sum(xs)
    total.backward()
    assert total.data == float(sum(range(200_000)))
    assert all(x.grad == 1 for x in xs)
    del xs, total
    assert _live() == live
    assert_engine_exact()


def test_a_chain_of_300k_ops_on_one_value_backpropagates_without_recursion():
    x = Value(1.0)
    y = x
    for _ in range(300_000):
        y = y * 1.0 + x
    y.backward()
    assert y.data == 300_001.0 and x.grad == 300_001.0
    del y
    assert_engine_exact()


# ---------------------------------------------------------------- released graphs


def test_a_child_from_prev_outlives_its_parent_and_stays_exact():
    a = Value(1.5)
    t = (a * a).tanh()
    (square,) = t._prev    # a node that never had a Python handle of its own
    del t
    assert square.data == 2.25 and square._op == "*"
    z = square * 2
    z.backward()
    assert a.grad == 2 * 1.5 * 2


def test_old_handles_stay_exact_while_freed_slots_are_reused():
    keep = [Value(float(i)) * 3 for i in range(50)]
    for k in range(20):          # far more than the flush batch: slots are reused
        junk = [Value(float(i)).tanh() + k for i in range(1000)]
        del junk
    assert [v.data for v in keep] == [float(i) * 3 for i in range(50)]
    assert all(v._op == "*" for v in keep)
    assert_engine_exact()


def test_copies_and_pickles_outlive_the_graph_they_came_from():
    a = Value(1.25, label="a")
    y = a * 4
    c, d, p = copy.copy(y), copy.deepcopy(y), pickle.loads(pickle.dumps(y))
    del a, y
    for v in (c, d, p):
        assert v.data == 5.0 and v._op == "" and v._prev == set()
    (c * d * p).backward()
    assert c.grad == 25.0
    assert_engine_exact()


def test_values_made_by_a_finished_thread_stay_usable():
    box = []
    t = threading.Thread(target=lambda: box.append((Value(2.0) * Value(3.0)).relu()))
    t.start()
    t.join()
    (v,) = box
    v.backward()
    assert v.data == 6.0 and v.grad == 1
    assert_engine_exact()


# ---------------------------------------------------------------- nn


@pytest.mark.parametrize("args,exc", [
    ((0, [1]), ValueError), ((2, [0]), ValueError), ((2, [-1]), ValueError),
    ((-3, [2]), ValueError), ((2, []), ValueError), ((2.5, [1]), TypeError),
    ((2, 3), TypeError), ((True, [1]), TypeError), ((2, [1.5]), TypeError),
    ((None, [1]), TypeError), ((2, [2], "bogus"), ValueError),
])
def test_mlp_with_a_bad_size_raises(args, exc):
    nn = pytest.importorskip("micrograd.nn")
    with pytest.raises(exc):
        nn.MLP(*args)
    assert_engine_exact()


@pytest.mark.parametrize("cls,args", [("Neuron", (0,)), ("Neuron", (-1,)), ("Layer", (2, 0)),
                                      ("Layer", (0, 2)), ("Layer", (2, -5))])
def test_neuron_and_layer_with_a_zero_or_negative_size_raise_value_error(cls, args):
    nn = pytest.importorskip("micrograd.nn")
    with pytest.raises(ValueError):
        getattr(nn, cls)(*args)


@pytest.mark.parametrize("x,exc", [(None, TypeError), (["a", "b"], TypeError),
                                   ([None, 1.0], TypeError), (3.0, TypeError)])
def test_mlp_called_on_bad_input_raises_and_the_model_still_trains(x, exc):
    nn = pytest.importorskip("micrograd.nn")
    model = nn.MLP(2, [4, 1])
    with pytest.raises(exc):
        model(x)
    out = model([1.0, -2.0])
    out.backward()
    assert all(math.isfinite(p.grad) for p in model.parameters())


def test_mlp_on_nan_input_gives_nan_without_raising():
    nn = pytest.importorskip("micrograd.nn")
    model = nn.MLP(2, [4, 4, 1], activation="tanh")
    out = model([NAN, 1.0])
    out.backward()
    assert math.isnan(out.data)
    assert_engine_exact()


# ---------------------------------------------------------------- allocation failure

OOM = """
import math
import micrograd.engine as engine
from micrograd.engine import Value
from micrograd._mg import lib

a, b = Value(1.5), Value(-2.0)
y = (a * b).tanh() + a ** 2
assert lib.mg_arena_limit(engine._arena, engine.stats()["cap"]) == 0
hold = []
try:
    for _ in range(10 ** 6):
        hold.append(Value(1.0) * 2)
    raise SystemExit("no MemoryError before a million nodes")
except MemoryError as e:
    message = str(e)
y.backward()                       # the existing graph is intact and exact
t = math.tanh(1.5 * -2.0)
assert y.data == t + 1.5 ** 2, y.data
assert a.grad == -2.0 * (1 - t ** 2) + 2 * 1.5, a.grad
assert b.grad == 1.5 * (1 - t ** 2), b.grad
assert all(v.data == 2.0 for v in hold)
try:
    Value(3.0) * 3
    raise SystemExit("the full arena accepted a node")
except MemoryError:
    pass
del hold                           # freed slots are reused under the same cap
z = (a * b).exp()
assert z.data == math.exp(1.5 * -2.0)
assert lib.mg_arena_limit(engine._arena, 2 ** 31 - 1) == 0
big = [Value(float(i)) for i in range(100000)]
assert sum(big).data == float(sum(range(100000)))
print("ok", message)
"""


def test_a_failed_allocation_raises_memory_error_and_leaves_the_graph_exact():
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(OOM)], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok out of memory"
    assert out.stderr == ""
