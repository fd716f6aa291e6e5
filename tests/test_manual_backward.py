"""v._backward(): one node's chain rule, called by hand as in the micrograd lecture.

The lecture's neuron (x1*w1 + x2*w2 + b, then an activation) is backpropagated node
by node and compared with backward() and with micrograd 0.1.0 doing the same.
Also: star imports give only the documented names.
"""
import math
import textwrap

import pytest

from micrograd.engine import Value, dot
from oracle import run_original
import ops

LECTURE = """
x1, x2 = Value(2.0), Value(0.0)
w1, w2 = Value(-3.0), Value(1.0)
b = Value(6.8813735870195432)
x1w1 = x1*w1
x2w2 = x2*w2
x1w1x2w2 = x1w1 + x2w2
n = x1w1x2w2 + b
o = ACT
"""
MANUAL = """
o.grad = 1.0
for node in (o, n, b, x1w1x2w2, x2w2, x1w1, x1, x2, w1, w2):   # leaves do nothing
    node._backward()
result = [v.grad for v in (x1, x2, w1, w2, b, n, x1w1x2w2)]
"""


def manual(act):
    scope = {"Value": Value}
    exec(LECTURE.replace("ACT", act) + MANUAL, scope)
    return scope["result"]


def automatic(act):
    scope = {"Value": Value}
    exec(LECTURE.replace("ACT", act) + "o.backward()\n"
         "result = [v.grad for v in (x1, x2, w1, w2, b, n, x1w1x2w2)]", scope)
    return scope["result"]


def test_manual_backprop_of_the_lecture_neuron_gives_the_lecture_numbers():
    x1, x2, w1, w2, b, n, _ = manual("n.tanh()")
    assert (x1, w1, x2, w2) == pytest.approx((-1.5, 1.0, 0.5, 0.0), abs=1e-9)
    assert n == pytest.approx(0.5, abs=1e-9) and b == n


@pytest.mark.parametrize("act", [f"n.{m}()" for m in ops.CALLS] + ["n ** 2"])
def test_manual_backprop_equals_backward(act):
    assert manual(act) == automatic(act)


@pytest.mark.parametrize("act", ["n.relu()", "n ** 3", "n * n", "-n"])
def test_manual_backprop_equals_micrograd_010(act):
    ours = manual(act)
    theirs = run_original("from micrograd.engine import Value\n" +
                          LECTURE.replace("ACT", act) + MANUAL)
    assert ours == theirs


def test_manual_backprop_of_tanh_defined_in_micrograd_010_by_hand():
    """micrograd 0.1.0 has no tanh: the oracle gets the lecture's, written as a closure."""
    theirs = run_original(textwrap.dedent("""
        import math
        from micrograd.engine import Value
        def tanh(self):
            t = math.tanh(self.data)
            out = Value(t, (self,), 'tanh')
            def _backward():
                self.grad += (1 - t**2) * out.grad
            out._backward = _backward
            return out
        Value.tanh = tanh
        """) + LECTURE.replace("ACT", "n.tanh()") + MANUAL)
    assert manual("n.tanh()") == pytest.approx(theirs, rel=1e-15)


def test_backward_of_a_leaf_does_nothing():
    x = Value(3.0)
    x.grad = 2.0
    x._backward()
    assert x.grad == 2.0


def test_backward_twice_by_hand_adds_twice_as_micrograd_does():
    x, y = Value(2.0), Value(5.0)
    z = x * y
    z.grad = 1.0
    z._backward()
    z._backward()
    assert (x.grad, y.grad) == (10.0, 4.0)


def test_backward_of_a_fused_dot_passes_its_grad_to_every_child():
    b, ws, xs = Value(0.5), [Value(2.0), Value(-1.0)], [Value(3.0), Value(4.0)]
    out = dot(ws, xs, b, fused=True)
    out.grad = 2.0
    out._backward()
    assert [w.grad for w in ws] == [6.0, 8.0]
    assert [x.grad for x in xs] == [4.0, -2.0]
    assert b.grad == 2.0


def test_backward_of_an_int_grad_keeps_micrograd_ints():
    x, y = Value(2), Value(3)
    z = x * y
    z.grad = 1
    z._backward()
    assert (x.grad, y.grad) == (3, 2) and type(x.grad) is int


@pytest.mark.parametrize("module, names", [
    ("micrograd.engine", {"Value", "leaves", "dot", "logsumexp", "pick", "set_data", "get_data",
                          "get_grad", "Batch"}),
    ("micrograd.nn", {"Module", "Neuron", "Layer", "MLP", "save", "load", "to_torch", "from_torch",
                      "Value", "random"}),
])
def test_star_import_gives_only_the_documented_names(module, names):
    scope = {}
    exec(f"from {module} import *", scope)
    assert set(scope) - {"__builtins__"} == names


def test_tanh_grad_by_hand_is_one_minus_the_square():
    x = Value(0.3)
    t = x.tanh()
    t.grad = 1.0
    t._backward()
    assert x.grad == pytest.approx(1 - math.tanh(0.3) ** 2, rel=1e-15)
