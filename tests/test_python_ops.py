"""Ops defined in Python, micrograd's way: Value(data, children, op) and out._backward.

backward() runs the built-in rules in C and calls each Python _backward at its
node's turn in reverse topological order. Checked against PyTorch (random DAGs
mixing both kinds), micrograd 0.1.0 (the lecture's tanh), and for what must not
break: exceptions inside a rule, deep chains, threads, graph walks (_prev
identity, attributes) and memory over many graphs.
"""
import gc
import math
import threading

import pytest
import torch
from hypothesis import given, settings, strategies as st

from micrograd import engine
from micrograd.engine import Value, dot, stats
from micrograd.gradcheck import gradcheck
from micrograd.nn import MLP
from micrograd.viz import to_dot
from concurrency import run_threads
from oracle import run_original
import ops


def sin(self):
    out = Value(math.sin(self.data), (self,), 'sin')
    def _backward():
        self.grad += math.cos(self.data) * out.grad
    out._backward = _backward
    return out


def absolute(self):
    out = Value(abs(self.data), (self,), 'abs')
    def _backward():
        self.grad += (1.0 if self.data >= 0 else -1.0) * out.grad
    out._backward = _backward
    return out


def hypot(self, other):
    """A two-child op: sqrt(a**2 + b**2)."""
    h = math.hypot(self.data, other.data)
    out = Value(h, (self, other), 'hypot')
    def _backward():
        self.grad += self.data / h * out.grad
        other.grad += other.data / h * out.grad
    out._backward = _backward
    return out


def lecture_tanh(self):
    t = (math.exp(2 * self.data) - 1) / (math.exp(2 * self.data) + 1)
    out = Value(t, (self,), 'tanh')
    def _backward():
        self.grad += (1 - t**2) * out.grad
    out._backward = _backward
    return out


@pytest.fixture(autouse=True)
def python_ops(monkeypatch):
    monkeypatch.setattr(Value, "sin", sin, raising=False)
    monkeypatch.setattr(Value, "abs", absolute, raising=False)
    monkeypatch.setattr(Value, "hypot", hypot, raising=False)


def test_a_python_op_is_a_node_with_its_data_children_and_label():
    x, y = Value(0.5), Value(2.0)
    s = x.sin()
    h = s.hypot(y)
    assert s.data == math.sin(0.5) and s._op == "sin" and s._prev == {x}
    assert h._op == "hypot" and h._prev == {s, y}
    assert repr(s) == f"Value(data={math.sin(0.5)}, grad=0)"


def test_backward_calls_the_python_rule_between_c_rules():
    x = Value(0.5)
    y = (x.sin() * 3 + x).tanh()
    y.backward()
    t = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    u = (t.sin() * 3 + t).tanh()
    u.backward()
    assert y.data == u.item()
    assert x.grad == pytest.approx(t.grad.item(), rel=1e-14)


def test_an_op_with_no_backward_passes_nothing_on_as_micrograds_lambda_none():
    x = Value(2.0)
    y = Value(x.data * 2, (x,), 'double')
    (y * 1.0).backward()
    assert y.grad == 1.0 and x.grad == 0


def test_a_python_rule_on_a_built_in_op_replaces_its_c_rule():
    x, y = Value(2.0), Value(3.0)
    z = x * y
    z._backward = lambda: setattr(x, "grad", x.grad + 100 * z.grad)
    z.backward()
    assert (x.grad, y.grad) == (100.0, 0)


def test_backward_of_a_python_op_by_hand_is_its_rule():
    x = Value(0.3)
    s = x.sin()
    s.grad = 2.0
    s._backward()
    assert x.grad == 2.0 * math.cos(0.3)


def test_lecture_tanh_defined_in_python_matches_micrograd_010_node_by_node():
    import inspect
    from test_manual_backward import LECTURE, MANUAL
    code = LECTURE.replace("ACT", "tanh(n)") + MANUAL
    helper = inspect.getsource(lecture_tanh).replace("lecture_tanh", "tanh")
    theirs = run_original("import math\nfrom micrograd.engine import Value\n" + helper + code)
    scope = {"Value": Value, "tanh": lecture_tanh}
    exec(code, scope)
    assert scope["result"] == theirs
    scope = {"Value": Value, "tanh": lecture_tanh}
    exec(LECTURE.replace("ACT", "tanh(n)") + "o.backward()\n"
         "result = [v.grad for v in (x1, x2, w1, w2, b, n, x1w1x2w2)]", scope)
    assert scope["result"] == pytest.approx(theirs, rel=1e-15)


# ---------------------------------------------------------------- random DAGs

C_FORMS = ["add", "mul", "tanh", "relu", "pow_2"]    # ops of C, from tests/ops.py
OPS = C_FORMS + ["sin", "abs", "hypot"]             # and the Python ops above


def run(leaves, steps, is_torch):
    if is_torch:
        nodes = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in leaves]
    else:
        nodes = [Value(x) for x in leaves]
    inputs = list(nodes)
    for op, i, j in steps:
        a, b = nodes[i % len(nodes)], nodes[j % len(nodes)]
        if op in C_FORMS:
            out = ops.apply(ops.BY_NAME[op], a, b)
        elif op == "hypot":
            out = torch.hypot(a, b) if is_torch else a.hypot(b)
        elif op == "abs":
            out = a.abs()
        else:
            out = getattr(a, op)()
        nodes.append(out)
    root = nodes[-1]
    for v in nodes[len(inputs):-1]:    # every node reaches the root
        root = root + v
    root.backward()
    grads = [float(v.grad) if v.grad is not None else 0.0 for v in inputs]
    data = root.item() if is_torch else root.data
    return data, grads


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0.1, 2), min_size=1, max_size=4),
       st.lists(st.tuples(st.sampled_from(OPS), st.integers(0, 31), st.integers(0, 31)),
                min_size=1, max_size=16))
def test_random_graphs_mixing_python_and_c_ops_match_pytorch(leaves, steps):
    ours, theirs = run(leaves, steps, False), run(leaves, steps, True)
    assert ours[0] == pytest.approx(theirs[0], rel=1e-12)
    assert ours[1] == pytest.approx(theirs[1], rel=1e-10, abs=1e-12)


def test_gradcheck_nn_and_draw_dot_work_on_graphs_with_python_ops():
    assert gradcheck(lambda x, y: (x.sin() * y).hypot(y.abs()).tanh(), [0.4, -1.3])
    model = MLP(2, [3, 1])
    a, b = Value(0.5), Value(-0.2)
    out = model([a.sin(), b.abs()])
    out.backward()
    with_ops = [p.grad for p in model.parameters()]
    model.zero_grad()
    u, v = Value(math.sin(0.5)), Value(0.2)     # the same inputs as leaves
    model([u, v]).backward()
    assert [p.grad for p in model.parameters()] == with_ops
    assert (a.grad, b.grad) == (math.cos(0.5) * u.grad, -v.grad)
    source = to_dot(out)
    assert "sin" in source and "abs" in source


def test_dot_over_python_ops_keeps_their_rules():
    ws, b = [Value(0.5), Value(-1.0)], Value(0.1)
    xs = [Value(0.3), Value(0.7)]
    out = dot(ws, [x.sin() for x in xs], b)     # the sin handles are dropped here
    gc.collect()
    out.backward()
    assert [x.grad for x in xs] == pytest.approx([0.5 * math.cos(0.3), -1.0 * math.cos(0.7)])


def test_forward_refuses_to_replay_a_python_op_and_changes_nothing():
    x = Value(0.5)
    h = x * 2
    y = h.sin() * 3
    x.data = 5.0
    with pytest.raises(ValueError, match="cannot replay 'sin', an op defined in Python"):
        y.forward()
    assert (h.data, y.data) == (1.0, 3 * math.sin(1.0))


def test_a_rule_set_after_the_node_has_parents_is_still_called():
    a = Value(2.0)
    b = a * 3
    c = b * 1
    b._backward = lambda: None          # as micrograd: b's rule is now this one
    c.backward()
    assert (b.grad, a.grad) == (1, 0)
    c.forward()                         # a plan kept for c: backward still sees the rule
    c.backward()
    assert a.grad == 0
    del b._backward                     # back to the built-in rule
    c.backward()
    assert a.grad == 3
    with pytest.raises(AttributeError, match="no _backward of Python code"):
        del c._backward


def test_a_value_with_an_op_label_but_no_children_is_a_leaf():
    w = Value(0.5, (), 'w')
    y = w * 3.0
    y.backward()
    y.backward()
    assert w._op == 'w' and w._prev == set() and w.grad == 6.0
    y.forward()                         # a leaf: nothing Python-made to replay


# ---------------------------------------------------------------- what must not break

def test_an_exception_in_a_python_rule_propagates_and_the_engine_stays_usable():
    class Boom(Exception):
        pass

    x = Value(2.0)
    y = Value(x.data, (x,), 'boom')
    def _backward():
        raise Boom("in _backward")
    y._backward = _backward
    with pytest.raises(Boom, match="in _backward"):
        (y * 3).backward()
    z = x * 5                       # the engine still works, and the graph too
    z.backward()
    assert x.grad == 5.0
    y._backward = lambda: None
    (y * 3).backward()
    assert y.grad == 3.0


def test_a_rule_must_be_callable():
    y = Value(1.0) * 2
    with pytest.raises(TypeError, match="callable"):
        y._backward = 3


def test_children_of_a_python_op_must_be_values():
    with pytest.raises(TypeError, match="Values"):
        Value(1.0, (2.0,), '+')


def test_a_python_op_in_a_100k_deep_chain_needs_no_recursion():
    x = Value(0.1)
    v = x.sin()
    for _ in range(100_000):
        v = v * 1.0 + 0.0
    v = v.sin()
    v.backward()
    assert x.grad == pytest.approx(math.cos(math.sin(0.1)) * math.cos(0.1), rel=1e-12)
    del v
    gc.collect()


def test_four_threads_with_their_own_python_ops(interleave):
    def work(k):
        def fn():
            x = Value(0.1 * (k + 1))
            y = x
            for _ in range(200):
                y = (y.sin() * 0.5 + x).abs()
            y.backward()
            return y.data, x.grad
        return fn
    alone = [work(k)() for k in range(4)]
    assert run_threads([work(k) for k in range(4)]) == alone


def test_a_rule_reading_and_writing_grads_during_backward_does_not_deadlock():
    x = Value(1.0)
    y = Value(2.0, (x,), 'peek')
    seen = []
    def _backward():
        seen.append((y.grad, x.grad, y.data))
        x.grad += y.grad
        x.grad = x.grad * 1.0
    y._backward = _backward
    ((y * 2) + x).backward()
    assert seen == [(2.0, 1.0, 2.0)] and x.grad == 3.0


# ---------------------------------------------------------------- walks, identity, attributes

def walk(root):
    seen, stack = {}, [root]
    while stack:
        v = stack.pop()
        if id(v) not in seen:
            seen[id(v)] = v
            stack.extend(v._prev)
    return seen


def test_prev_gives_the_same_objects_across_walks_even_after_gc():
    x, y = Value(1.0), Value(2.0)
    root = ((x * y + 1).relu() * 2.0).sin() + dot([x, y], [3.0, 4.0], x)
    del x, y
    first = walk(root)
    ids = set(first)
    first = None
    gc.collect()
    assert set(walk(root)) == ids


def test_attributes_set_on_values_survive_walks_while_the_root_lives():
    root = (Value(1.0) * 2 + Value(3.0)).tanh()
    for v in walk(root).values():
        v.visited = True
        v.name = f"n{v.data}"
    gc.collect()
    again = walk(root).values()
    assert all(v.visited and v.name == f"n{v.data}" for v in again)


def test_attributes_of_ones_own_on_a_value():
    v = Value(1.0)
    v.name, v.count = "x", 3
    assert (v.name, v.count) == ("x", 3)
    with pytest.raises(AttributeError):
        v.missing


def test_memory_stays_flat_over_many_graphs_with_python_ops_and_walks():
    def step():
        x = Value(0.3)
        y = ((x.sin() * 2).abs() + x).tanh()
        y.backward()
        walk(y)
    for _ in range(200):
        step()
    gc.collect()
    base = stats()["live"], len(engine._python), len(gc.get_objects())
    for _ in range(10_000):
        step()
    gc.collect()
    assert (stats()["live"], len(engine._python)) == base[:2] and not gc.garbage
    assert len(gc.get_objects()) < base[2] + 100      # no Values, rules or cycles piling up


def test_a_subclass_makes_its_own_python_ops_and_op_labels_can_be_set():
    class Named(Value):
        pass

    x = Named(1.0)
    y = Named(2.0, (x,), 'twice')
    assert type(y) is Named and y._op == 'twice' and y._prev == {x}
    z = x * 3
    z._op = 'times three'
    assert z._op == 'times three' and (x * 3)._op == '*'


def test_backward_racing_del_backward_in_another_thread_uses_the_rule_or_not():
    """Issue 20 (12): `del x._backward` while another thread runs backward() over x: that
    backward runs x's Python rule or its C rule, never an error naming our internals."""
    import sys
    import threading
    import time
    x = Value(0.5)
    y = x
    for _ in range(50):
        y = (y * 1.01).tanh() + x
    errors, stop = [], time.time() + 1.5
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)

    def toggle():
        while time.time() < stop:
            x._backward = lambda: None
            del x._backward

    def backward():
        while time.time() < stop:
            try:
                y.backward()
            except Exception as e:      # noqa: BLE001 -- any error is the failure
                errors.append(repr(e))
    try:
        threads = [threading.Thread(target=toggle), threading.Thread(target=backward)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert errors == []


def test_walking_prev_over_python_ops_keeps_memory_linear_in_the_graph():
    """Issue 20 (3): a plain dot over inputs from an op defined in Python, walked as the
    lecture walks: the handles the walk makes share what their parent keeps (its
    operands), so what the walk retains grows as the nodes walked, not as their square
    (515 MB at 4,000 inputs when each level kept a copy of its parent's tuple)."""
    import tracemalloc

    def retained_per_node(n):
        x = Value(0.3)
        y = dot([Value(0.5) for _ in range(n)], [sin(x) for _ in range(n)], Value(0.0))
        gc.collect()
        tracemalloc.start()
        try:
            seen, stack = {y}, [y]
            while stack:
                for c in stack.pop()._prev:
                    if c not in seen:
                        seen.add(c)
                        stack.append(c)
            return tracemalloc.get_traced_memory()[0] / len(seen)
        finally:
            tracemalloc.stop()

    small, large = retained_per_node(500), retained_per_node(4000)
    assert large < 1.5 * small and large < 1000     # bytes a node walked: flat in n


@pytest.mark.parametrize("when", ["before forward()", "after forward()"])
def test_a_python_rule_on_a_leaf_runs_after_forward_kept_an_order(when):
    """Issue 20 (2): a _backward of Python code set on a leaf (a gradient hook clipping
    the grad) runs at the leaf's turn, as on a plain backward(), whether it was set
    before or after forward() kept an order for the root."""
    def model():
        w, x = Value(3.0), Value(2.0)
        return w, (w * x) ** 2          # d loss / dw = 2 * w * x**2 = 24

    def clip(p):
        def _backward():
            p.grad = max(-1.0, min(1.0, p.grad))
        return _backward

    w, loss = model()
    w._backward = clip(w)
    loss.backward()
    plain = w.grad
    w, loss = model()
    if when == "before forward()":
        w._backward = clip(w)
    loss.forward()
    if when == "after forward()":
        w._backward = clip(w)
    loss.backward()
    assert plain == 1.0 and w.grad == plain
    del w._backward                     # and back to the built-in rule: no clipping
    loss.backward()
    assert w.grad == 1.0 + 24.0
