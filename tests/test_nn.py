"""micrograd.nn against micrograd 0.1.0 (init, reprs, forward data), PyTorch float64
(gradients) and math (activations); the seed's tanh example; argument checks."""
import ast
import math
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from micrograd.engine import Value
from micrograd.nn import MLP, Layer, Module, Neuron
from oracle import run_original

# ---------------------------------------------------------------- against micrograd 0.1.0

# constructor source -> seed; built the same way here and under the original;
# parameters compared by repr, which is exact for floats and tells 0 from 0.0
CASES = {"MLP(2, [16, 16, 1])": 1337, "MLP(3, [4, 4, 1])": 7, "Neuron(3)": 1,
         "Neuron(3, nonlin=False)": 2, "Layer(2, 3)": 3, "Layer(4, 1)": 4}
_rng = random.Random(8)
INPUTS = [[_rng.uniform(-2, 2) for _ in range(3)] for _ in range(50)]

SNAPSHOT = """
def snapshot(make, seed):
    random.seed(seed)
    m = eval(make)
    return {"repr": repr(m), "params": [repr(p.data) for p in m.parameters()],
            "next_draw": random.random()}
"""


def ours(make, seed):
    scope = {"random": random, "MLP": MLP, "Layer": Layer, "Neuron": Neuron}
    exec(SNAPSHOT, scope)
    return scope["snapshot"](make, seed)


@pytest.fixture(scope="module")
def original():
    return run_original(f"""
import random
from micrograd.nn import MLP, Layer, Neuron
{SNAPSHOT}
result = {{make: snapshot(make, seed) for make, seed in {CASES!r}.items()}}
random.seed(5)
m = MLP(3, [4, 4, 1])
for p in m.parameters():          # nonzero biases, so that the order of the sum shows
    p.data = random.uniform(-1, 1)
result["forward"] = [m(x).data for x in {INPUTS!r}]
result["one_neuron_layer"] = type(Layer(2, 1)([1.0, 2.0])).__name__
""")


@pytest.mark.parametrize("make", CASES)
def test_parameters_after_seed_equal_the_originals(original, make):
    assert ours(make, CASES[make])["params"] == original[make]["params"]


@pytest.mark.parametrize("make", CASES)
def test_repr_equals_the_originals(original, make):
    assert ours(make, CASES[make])["repr"] == original[make]["repr"]


@pytest.mark.parametrize("make", CASES)
def test_construction_draws_as_many_random_numbers_as_the_original(original, make):
    assert ours(make, CASES[make])["next_draw"] == original[make]["next_draw"]


def test_demo_model_has_the_originals_337_parameters(original):
    assert len(ours("MLP(2, [16, 16, 1])", 0)["params"]) == 337
    assert len(original["MLP(2, [16, 16, 1])"]["params"]) == 337


def test_forward_data_is_bit_identical_to_the_originals(original):
    random.seed(5)
    m = MLP(3, [4, 4, 1])
    for p in m.parameters():
        p.data = random.uniform(-1, 1)
    assert [m(x).data for x in INPUTS] == original["forward"]


def test_layer_of_one_neuron_returns_its_value_not_a_list(original):
    assert type(Layer(2, 1)([1.0, 2.0])).__name__ == original["one_neuron_layer"] == "Value"


def test_layer_of_several_neurons_returns_a_list_of_values():
    out = Layer(2, 3)([1.0, 2.0])
    assert isinstance(out, list) and len(out) == 3
    assert all(isinstance(v, Value) for v in out)


def test_zero_grad_sets_every_parameter_grad_to_zero():
    m = MLP(2, [3, 1])
    m([1.0, -2.0]).backward()
    assert any(p.grad != 0 for p in m.parameters())
    m.zero_grad()
    assert [p.grad for p in m.parameters()] == [0] * len(m.parameters())


def test_module_has_no_parameters():
    assert Module().parameters() == []


def test_nn_never_imports_ffi_or_lib():
    import micrograd.nn
    tree = ast.parse(Path(micrograd.nn.__file__).read_text())
    imported = {a.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                for a in node.names} | {node.module for node in ast.walk(tree)
                                        if isinstance(node, ast.ImportFrom)}
    assert not imported & {"ffi", "lib", "micrograd._mg"}


# ---------------------------------------------------------------- activations (math)

MATH = {"relu": lambda z: max(0.0, z), "tanh": math.tanh,
        "sigmoid": lambda z: 1 / (1 + math.exp(-z)), "linear": lambda z: z}


@pytest.mark.parametrize("activation", MATH)
def test_neuron_applies_its_activation_to_b_plus_w_dot_x(activation):
    random.seed(11)
    n = Neuron(3, activation=activation)
    x = [0.5, -1.5, 2.0]
    for z in (0.8, -0.7):      # set b so that b + w.x is z, on either side of zero
        n.b.data = z - sum(w.data * xi for w, xi in zip(n.w, x))
        assert n(x).data == pytest.approx(MATH[activation](z), rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("activation, name", [("relu", "ReLUNeuron(3)"),
                                              ("tanh", "TanhNeuron(3)"),
                                              ("sigmoid", "SigmoidNeuron(3)"),
                                              ("linear", "LinearNeuron(3)")])
def test_neuron_repr_names_its_activation(activation, name):
    assert repr(Neuron(3, activation=activation)) == name


def test_nonlin_false_makes_a_linear_neuron_whatever_the_activation():
    random.seed(2)
    n = Neuron(2, nonlin=False, activation="tanh")
    n.b.data = 3.0
    assert repr(n) == "LinearNeuron(2)"
    assert n([0.0, 0.0]).data == 3.0


def test_mlp_applies_its_activation_to_hidden_layers_and_keeps_the_last_linear():
    hidden = ", ".join(["TanhNeuron(3)"] * 4), ", ".join(["TanhNeuron(4)"] * 4)
    assert repr(MLP(3, [4, 4, 1], activation="tanh")) == (
        f"MLP of [Layer of [{hidden[0]}], Layer of [{hidden[1]}], Layer of [LinearNeuron(4)]]")


def test_activation_does_not_change_the_initial_parameters():
    random.seed(3)
    relu = [p.data for p in MLP(2, [5, 1]).parameters()]
    random.seed(3)
    assert [p.data for p in MLP(2, [5, 1], activation="sigmoid").parameters()] == relu


# ---------------------------------------------------------------- bad arguments

@pytest.mark.parametrize("make, error, message", [
    (lambda: Neuron(0), ValueError, "nin must be positive"),
    (lambda: Neuron(-2), ValueError, "nin must be positive"),
    (lambda: Neuron(2.5), TypeError, "nin must be an int"),
    (lambda: Neuron("3"), TypeError, "nin must be an int"),
    (lambda: Neuron(True), TypeError, "nin must be an int"),
    (lambda: Neuron(2, activation="gelu"), ValueError, "unknown activation 'gelu'"),
    (lambda: Neuron(2, activation=None), ValueError, "unknown activation None"),
    (lambda: Layer(2, 0), ValueError, "nout must be positive"),
    (lambda: Layer(2, 1.0), TypeError, "nout must be an int"),
    (lambda: Layer(2, 3, activation="ReLU"), ValueError, "unknown activation 'ReLU'"),
    (lambda: MLP(0, [1]), ValueError, "nin must be positive"),
    (lambda: MLP(2, []), ValueError, "at least one layer"),
    (lambda: MLP(2, 16), TypeError, "nouts must be a list"),
    (lambda: MLP(2, [16, 0, 1]), ValueError, "each of nouts must be positive"),
    (lambda: MLP(2, [16, "a"]), TypeError, "each of nouts must be an int"),
    (lambda: MLP(2, [16, 1], activation="softmax"), ValueError, "choose one of"),
])
def test_bad_arguments_raise_a_clear_error_before_drawing(make, error, message):
    random.seed(0)
    state = random.getstate()
    with pytest.raises(error, match=message):
        make()
    assert random.getstate() == state


def test_numpy_integer_sizes_are_accepted_like_ints():
    assert len(MLP(np.int64(2), [np.int32(16), 1]).parameters()) == 2 * 16 + 16 + 16 + 1


# ---------------------------------------------------------------- the seed's tanh example

XS = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
YS = [1.0, -1.0, -1.0, 1.0]


def seed_example_step(n, xs=XS, ys=YS):
    """The usage example of the project's description, as written."""
    ypred = [n(x) for x in xs]
    for p in n.parameters():
        p.grad = 0.0
    loss = sum([(y_pred - y_target)**2 for y_target, y_pred in zip(ys, ypred)])
    loss.backward()
    learning_rate = 0.01
    for p in n.parameters():
        p.data -= learning_rate * p.grad
    return loss


def test_seed_example_trains_a_tanh_mlp():
    random.seed(0)
    n = MLP(3, [4, 4, 1], activation="tanh")
    losses = [seed_example_step(n).data for _ in range(30)]
    assert losses[-1] < 0.8 * losses[0]
    assert all(b < a for a, b in zip(losses, losses[1:]))


TORCH = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid,
         "linear": lambda z: z}


def torch_mse(params, nouts, activation, xs=XS, ys=YS):
    """The MLP's MSE loss on scalar float64 tensors, parameters in nn's order (w..., b)."""
    loss = 0
    for x, y in zip(xs, ys):
        it = iter(params)
        h = [torch.tensor(v, dtype=torch.float64) for v in x]
        for i, nout in enumerate(nouts):
            out = []
            for _ in range(nout):
                w = [next(it) for _ in h]
                z = next(it) + sum(wi * hi for wi, hi in zip(w, h))
                out.append(TORCH[activation](z) if i < len(nouts) - 1 else z)
            h = out
        loss = loss + (h[0] - y) ** 2
    return loss


@pytest.mark.parametrize("activation", TORCH)
def test_seed_example_gradients_match_pytorch_float64(activation):
    random.seed(42)
    n = MLP(3, [4, 4, 1], activation=activation)
    params = [torch.tensor(p.data, dtype=torch.float64, requires_grad=True)
              for p in n.parameters()]
    expected = torch_mse(params, [4, 4, 1], activation)
    expected.backward()
    ypred = [n(x) for x in XS]
    loss = sum([(y_pred - y_target)**2 for y_target, y_pred in zip(YS, ypred)])
    loss.backward()
    assert loss.data == pytest.approx(expected.item(), rel=1e-12)
    assert [p.grad for p in n.parameters()] == pytest.approx(
        [t.grad.item() for t in params], rel=1e-10, abs=1e-12)


def test_neuron_weights_are_consecutive_nodes_even_after_churn():
    """leaves(): a fused neuron's replay runs over its weights as one contiguous run."""
    from micrograd.engine import stats
    junk = [Value(float(i)) for i in range(3000)]
    del junk
    stats()                                 # releases what died: free slots to reuse
    n = Neuron(7)
    assert [w._i for w in n.w] == list(range(n.w[0]._i, n.w[0]._i + 7))


def test_leaves_are_values_with_the_numbers_and_their_int_flags():
    from micrograd.engine import leaves
    vs = leaves([1, 2.5, True, -0.0])
    assert [v.data for v in vs] == [1, 2.5, 1, -0.0]
    assert [type(v.data) for v in vs] == [int, float, int, float]
    assert all(type(v) is Value and v.grad == 0 for v in vs) and leaves([]) == []
    with pytest.raises(TypeError):
        leaves([1.0, "x"])
