"""The drop-in surface, pinned in one place: what code written for micrograd 0.1.0 sees.

Names, the constructor's signature, reprs, _op labels, identity semantics, and
nn's defaults and numbers, each compared with micrograd 0.1.0 run in a subprocess.
Not here: numerics of each op (test_engine.py), random DAGs (test_oracle.py).
"""
import pytest

from micrograd.engine import Value
from oracle import run_original


def test_value_is_importable_where_micrograd_has_it():
    from micrograd.engine import Value as V
    assert V is Value and V.__name__ == "Value"


def test_nn_names_are_importable_where_micrograd_has_them():
    from micrograd.nn import MLP, Layer, Module, Neuron
    assert all(issubclass(c, Module) for c in (Neuron, Layer, MLP))


# Expressions whose repr and _op both engines report; x = Value(2.0), n = Value(3).
EXPRS = ["x", "n", "x + 1", "1 + x", "x - n", "3 - x", "x * n", "2 * n", "x / n", "4 / x",
         "-x", "-n", "x ** 2", "n ** 3", "x ** 0.5", "x ** -1", "n ** -2", "x ** 2.0",
         "n.relu()", "(-n).relu()", "(x - 2).relu()", "Value(True) + 1", "Value(-0.0)",
         "Value(1e-7)", "Value(1e22)", "Value(0.1 + 0.2)", "n * 10 ** 15"]


@pytest.fixture(scope="module")
def oracle_surface():
    return run_original(f"""
        from micrograd.engine import Value
        x, n = Value(2.0), Value(3)
        result = [[repr(v), v._op] for v in (eval(e) for e in {EXPRS!r})]
    """)


@pytest.mark.parametrize("k", range(len(EXPRS)), ids=EXPRS)
def test_repr_and_op_label_equal_micrograds(k, oracle_surface):
    x, n = Value(2.0), Value(3)
    v = eval(EXPRS[k])
    assert [repr(v), v._op] == oracle_surface[k]


def test_bool_data_is_the_int_micrograd_would_compute_with():
    # A documented difference (engine.py): micrograd stores True itself and prints
    # data=True; we hold the int it stands for, so arithmetic gives the same numbers.
    theirs = run_original(
        "from micrograd.engine import Value\n"
        "result = [repr(Value(True)), repr(Value(True) + 1), repr(Value(False) * 2.5)]")
    assert theirs[0] == "Value(data=True, grad=0)"
    assert repr(Value(True)) == "Value(data=1, grad=0)"
    assert [repr(Value(True) + 1), repr(Value(False) * 2.5)] == theirs[1:]


def test_values_hash_and_compare_by_identity():
    a, b = Value(1.0), Value(1.0)
    assert a == a and a != b and not (a == b)
    assert len({a, b, a}) == 2
    assert hash(a) == object.__hash__(a)
    assert {a: 1}[a] == 1


def test_ordering_values_raises_type_error_as_in_micrograd():
    theirs = run_original("""
        from micrograd.engine import Value
        try:
            Value(1.0) < Value(2.0)
            result = None
        except Exception as e:
            result = type(e).__name__
    """)
    with pytest.raises(TypeError):
        Value(1.0) < Value(2.0)
    assert theirs == "TypeError"


def test_constructor_accepts_micrographs_positional_form_and_label():
    assert repr(Value(2.0, (), "")) == "Value(data=2.0, grad=0)"
    v = Value(2.0, label="w")
    assert v.label == "w" and Value(1.0).label == ""
    v.label = "w2"
    assert v.label == "w2"


def test_value_exposes_micrograds_attributes():
    x = Value(2.0)
    y = x * 3
    for v in (x, y):
        assert {"data", "grad", "_prev", "_op", "backward"} <= set(dir(v))
    assert x._prev == set() and x._op == ""
    assert isinstance(y._prev, set)


# ---------------------------------------------------------------- nn

NN_PROGRAM = """
import random
random.seed(7)
model = MLP(3, [4, 4, 1])
init = [repr(p.data) for p in model.parameters()]
xs = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
ys = [1.0, -1.0, -1.0, 1.0]
trace = []
for step in range(5):
    loss = sum(((model(x) - y) ** 2 for x, y in zip(xs, ys)), Value(0))
    model.zero_grad()
    loss.backward()
    for p in model.parameters():
        p.data -= 0.05 * p.grad
    trace.append([repr(loss.data), loss._op] + [repr(p.grad) for p in model.parameters()])
neuron = Neuron(2)
result = {"repr": [repr(model), repr(model.layers[0]), repr(neuron), repr(Neuron(2, nonlin=False))],
          "sizes": [len(model.parameters()), len(neuron.parameters()), len(Module().parameters())],
          "bias": repr(neuron.b), "init": init, "trace": trace}
"""


def test_mlp_reprs_defaults_and_training_equal_micrograds():
    from micrograd.nn import MLP, Module, Neuron
    ns = {"MLP": MLP, "Neuron": Neuron, "Module": Module, "Value": Value}
    exec(NN_PROGRAM, ns)
    theirs = run_original("from micrograd.engine import Value\n"
                          "from micrograd.nn import MLP, Module, Neuron\n" + NN_PROGRAM)
    ours = ns["result"]
    for key in ("repr", "sizes", "bias", "init"):
        assert ours[key] == theirs[key], key
    assert ours["trace"][0][:2] == theirs["trace"][0][:2]     # first loss bit-identical
    for step, (a, b) in enumerate(zip(ours["trace"], theirs["trace"])):
        # grads are sums in another order, so later steps agree to rounding
        assert a[1] == b[1] and len(a) == len(b), step
        for g, h in zip([a[0]] + a[2:], [b[0]] + b[2:]):
            assert abs(float(g) - float(h)) <= 1e-12 * max(1.0, abs(float(h))), (step, g, h)


def test_a_subclass_of_value_makes_its_own_leaves_and_ops_make_values():
    class Named(Value):                      # micrograd's ops build plain Values, too
        def hello(self):
            return "hi"
    x = Named(2.0, label="x")
    y = x * 3
    assert type(x) is Named and x.hello() == "hi" and x.label == "x"
    assert type(y) is Value and y.data == 6.0
    assert x in y._prev


SUBCLASSES = '''
import copy, pickle
class Named(Value):                 # an __init__ of its own, another signature
    def __init__(self, data, name):
        super().__init__(data)
        self.name = name
class Scaled(Value):                # what it passes to super() is what is stored
    def __init__(self, data):
        super().__init__(data * 2)
class Kw(Value):                    # keyword-only
    def __init__(self, *, data):
        super().__init__(data)
class P(Value):
    pass
n, s, k, p = Named(1.5, "w1"), Scaled(1.0), Kw(data=3), P(2.0)
p.tag = "mine"
result = {
    "named": [n.data, n.name, n.grad, n._op, len(n._prev), type(n).__name__],
    "scaled": [s.data, type(s).__name__], "kw": [k.data, k.grad],
    "op result": type(p * 2).__name__, "sum": (n + s * k).data,
    "copies": [[type(c).__name__, c.data, c.tag] for c in (copy.copy(p), copy.deepcopy(p))],
    "named copy": [type(c).__name__, c.data, c.name] if (c := copy.deepcopy(n)) else None,
}
v = Value(4.0); w = v * 3; w.backward(); Value.__init__(w, 5.0)   # __init__ again: a new leaf
result["again"] = [w.data, w.grad, len(w._prev), w._op, v.grad]
'''


def test_subclasses_with_their_own_init_behave_as_micrograds():
    """Issue 20 (8): Value.__init__ is where a node gets its data, so a subclass's own
    __init__ (another signature, keyword-only, super().__init__(data * 2)) works as in
    micrograd, copies keep the subclass and its attributes, and __init__ again makes
    a new leaf, as micrograd's resets a Value."""
    ours = {}
    exec(SUBCLASSES, {"Value": Value, "result": None}, ours)
    theirs = run_original("from micrograd.engine import Value\n" + SUBCLASSES)
    assert ours["result"] == theirs


def test_a_pickled_subclass_comes_back_as_itself_with_its_attributes():
    import pickle
    v = PickledName(2.5, "w")
    back = pickle.loads(pickle.dumps(v))
    assert type(back) is PickledName and (back.data, back.name, back.grad) == (2.5, "w", 0)
    back.data = 7.0
    assert v.data == 2.5                # a new leaf, not the same node


class PickledName(Value):               # module level, as pickle needs
    def __init__(self, data, name):
        super().__init__(data)
        self.name = name


NUMPY_STEP = """
import random
import numpy as np
from micrograd.engine import Value
from micrograd.nn import MLP
random.seed(1337)
model = MLP(2, [4, 1])
X, y = np.array([[0.5, -1.0], [1.5, 0.25]]), np.array([1, -1])    # numpy, as the notebook
scores = [model(list(map(Value, x))) for x in X]
loss = sum((1 + -yi * s).relu() for yi, s in zip(y, scores))
model.zero_grad()
loss.backward()
for p in model.parameters():
    p.data -= 0.1 * p.grad
result = [(type(p.data).__module__, type(p.data).__name__, float(p.data), repr(p.data),
           type(p.grad).__module__) for p in model.parameters()]
"""


def test_with_numpy_inputs_parameters_are_floats_here_and_numpy_float64_in_0_1_0():
    """The README's Differences: the same numbers, another type (and repr under numpy 2)."""
    np = pytest.importorskip("numpy")
    theirs = run_original(NUMPY_STEP)
    ns = {}
    exec(NUMPY_STEP, ns)
    ours = ns["result"]
    assert [t[2] for t in ours] == [t[2] for t in theirs]
    assert {tuple(t[:2]) for t in theirs} == {("numpy", "float64")}
    assert {tuple(t[:2]) for t in ours} == {("builtins", "float")}
    if int(np.__version__.split(".")[0]) >= 2:
        assert all(r.startswith("np.float64(") for *_, r, _ in theirs)
        assert all(r == repr(x) for *_, x, r, _ in ours)
    assert {t[4] for t in theirs} == {"numpy"} and {t[4] for t in ours} == {"builtins"}
