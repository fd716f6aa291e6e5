"""micrograd.nn.to_torch / from_torch: an MLP to a torch.nn.Sequential and back.

Every activation, activate_output both ways, fused and unfused: the export holds the
same numbers bit for bit, computes the same outputs (relative 1e-12), and one SGD step
in torch gives the parameters one SGD step here gives (relative 1e-12); the import
takes a Sequential's weights bit for bit (float32 widened exactly), rejects every
module an MLP cannot be before making one, and leaves Python's random state alone.
Without torch both raise ImportError saying `pip install torch`.
"""
import random
import struct
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")

import micrograd.nn as nn  # noqa: E402
from micrograd.engine import Value  # noqa: E402
from micrograd.nn import MLP, from_torch, to_torch  # noqa: E402

ACTIVATIONS = ["relu", "tanh", "sigmoid", "linear"]
MODULE = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "sigmoid": torch.nn.Sigmoid}
GRID = [(a, out, fused) for a in ACTIVATIONS for out in (False, True) for fused in (False, True)]
IDS = [f"{a}-{'out' if out else 'noout'}-{'fused' if f else 'plain'}" for a, out, f in GRID]


def model(activation, activate_output, fused, seed=0):
    random.seed(seed)
    return MLP(3, [4, 5, 2], activation=activation, activate_output=activate_output, fused=fused)


def bits(state):
    """state_dict with every number as its float64 bits: equal means equal bit for bit."""
    b = lambda x: struct.pack("<d", float(x))
    return {k: [b(x) for x in v] if isinstance(v, list) else b(v) for k, v in state.items()}


def torch_numbers(seq):
    """[(weight rows, bias)] of every Linear in seq, as Python floats."""
    return [(m.weight.double().tolist(), m.bias.double().tolist())
            for m in seq if isinstance(m, torch.nn.Linear)]


def inputs(n=6, seed=1):
    rng = random.Random(seed)
    return [[rng.uniform(-2, 2) for _ in range(3)] for _ in range(n)]


def close(a, b, rel=1e-12):
    return abs(a - b) <= rel * max(abs(a), abs(b))


# ---------------------------------------------------------------- to_torch

@pytest.mark.parametrize("activation, activate_output, fused", GRID, ids=IDS)
def test_to_torch_layers_and_weights(activation, activate_output, fused):
    m = model(activation, activate_output, fused)
    seq = to_torch(m)
    acts = [] if activation == "linear" else [MODULE[activation]]
    want = [torch.nn.Linear] + acts + [torch.nn.Linear] + acts + [torch.nn.Linear]
    want += acts if activate_output else []
    assert [type(x) for x in seq] == want
    linears = [x for x in seq if isinstance(x, torch.nn.Linear)]
    assert all(p.dtype == torch.float64 for x in linears for p in x.parameters())
    for layer, (rows, bias) in zip(m.layers, torch_numbers(seq)):
        assert rows == [[w.data for w in n.w] for n in layer.neurons]
        assert bias == [n.b.data for n in layer.neurons]


@pytest.mark.parametrize("activation, activate_output, fused", GRID, ids=IDS)
def test_to_torch_outputs_equal_the_models(activation, activate_output, fused):
    m = model(activation, activate_output, fused)
    seq = to_torch(m)
    X = inputs()
    theirs = seq(torch.tensor(X, dtype=torch.float64)).tolist()
    ours = [[v.data for v in m(list(map(Value, x)))] for x in X]
    assert all(close(a, b) for r, s in zip(ours, theirs) for a, b in zip(r, s)), (ours, theirs)


def mse(outs, targets):
    return sum((o - t) ** 2 for out, tgt in zip(outs, targets) for o, t in zip(out, tgt)) \
        * (1.0 / len(outs))


@pytest.mark.parametrize("activation, activate_output, fused", GRID, ids=IDS)
def test_one_sgd_step_in_torch_equals_one_here(activation, activate_output, fused):
    m = model(activation, activate_output, fused)
    seq = to_torch(m)
    X, lr = inputs(), 0.1
    rng = random.Random(2)
    Y = [[rng.uniform(-1, 1), rng.uniform(-1, 1)] for _ in X]
    loss = mse([m(list(map(Value, x))) for x in X], Y)
    m.zero_grad()
    loss.backward()
    for p in m.parameters():
        p.data -= lr * p.grad
    tloss = mse(seq(torch.tensor(X, dtype=torch.float64)), torch.tensor(Y, dtype=torch.float64))
    seq.zero_grad()
    tloss.backward()
    with torch.no_grad():
        for p in seq.parameters():
            p -= lr * p.grad
    assert close(loss.data, tloss.item())
    ours = [x for v in m.state_dict().values() for x in (v if isinstance(v, list) else [v])]
    theirs = [x for v in from_torch(seq).state_dict().values()
              for x in (v if isinstance(v, list) else [v])]
    assert len(ours) == len(theirs) == len(m.parameters())
    assert all(close(a, b) for a, b in zip(ours, theirs))


def test_to_torch_copies_are_independent():
    m = model("relu", False, False)
    before = bits(m.state_dict())
    seq = to_torch(m)
    with torch.no_grad():
        for p in seq.parameters():
            p += 1.0
    assert bits(m.state_dict()) == before
    m.parameters()[0].data = 5.0
    assert seq[0].weight[0, 0].item() != 5.0


def test_to_torch_takes_only_an_mlp():
    with pytest.raises(TypeError, match="micrograd.nn.MLP"):
        to_torch(nn.Layer(2, 3))


# ---------------------------------------------------------------- from_torch

@pytest.mark.parametrize("activation, activate_output, fused", GRID, ids=IDS)
def test_round_trip_gives_the_state_dict_back_exactly(activation, activate_output, fused):
    m = model(activation, activate_output, fused)
    back = from_torch(to_torch(m), fused=fused)
    assert back.state_dict() == m.state_dict()
    assert bits(back.state_dict()) == bits(m.state_dict())
    assert repr(back) == repr(m)
    assert all(n.fused == fused for layer in back.layers for n in layer.neurons)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.float16])
def test_from_torch_takes_weights_bit_for_bit(dtype):
    torch.manual_seed(0)
    seq = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    seq = seq.to(dtype)
    m = from_torch(seq)
    assert repr(m) == repr(MLP(3, [4, 2], activation="tanh"))
    for layer, (rows, bias) in zip(m.layers, torch_numbers(seq)):   # widened exactly by torch
        assert [[w.data for w in n.w] for n in layer.neurons] == rows
        assert [n.b.data for n in layer.neurons] == bias


@pytest.mark.parametrize("modules, activation, activate_output", [
    (["Linear"], "relu", False),
    (["Linear", "Sigmoid"], "sigmoid", True),
    (["Linear", "Linear"], "linear", False),
    (["Linear", "ReLU", "Linear", "ReLU"], "relu", True),
    (["Linear", "Tanh", "Linear", "Tanh", "Linear"], "tanh", False),
])
def test_from_torch_reads_the_activations(modules, activation, activate_output):
    sizes = iter([2, 3, 4, 5])
    layers, n = [], next(sizes)
    for name in modules:
        if name == "Linear":
            nxt = next(sizes)
            layers.append(torch.nn.Linear(n, nxt))
            n = nxt
        else:
            layers.append(getattr(torch.nn, name)())
    m = from_torch(torch.nn.Sequential(*layers))
    nouts = [x.out_features for x in layers if isinstance(x, torch.nn.Linear)]
    assert repr(m) == repr(MLP(2, nouts, activation=activation, activate_output=activate_output))


def test_from_torch_leaves_pythons_random_state_alone():
    seq = to_torch(model("relu", False, False))
    random.seed(42)
    want = random.random()
    random.seed(42)
    from_torch(seq)
    assert random.random() == want


L, R = torch.nn.Linear, torch.nn.ReLU
REJECTED = {
    "another layer type": (lambda: [L(2, 3), torch.nn.Dropout(), L(3, 1)], "layer 1 (Dropout)"),
    "another activation": (lambda: [L(2, 3), torch.nn.LeakyReLU(), L(3, 1)], "layer 1 (LeakyReLU)"),
    "a nested Sequential": (lambda: [torch.nn.Sequential(L(2, 1))], "layer 0 (Sequential)"),
    "a Linear without bias": (lambda: [L(2, 3), R(), L(3, 1, bias=False)], "layer 2 (Linear)"),
    "mismatched sizes": (lambda: [L(2, 3), R(), L(4, 1)], "layer 2 (Linear)"),
    "mixed hidden activations": (lambda: [L(2, 3), R(), L(3, 3), torch.nn.Tanh(), L(3, 1)],
                                 "layer 3 (Tanh)"),
    "a hidden layer without": (lambda: [L(2, 3), R(), L(3, 3), L(3, 1)], "layer 2 (Linear)"),
    "another output activation": (lambda: [L(2, 3), R(), L(3, 1), torch.nn.Sigmoid()],
                                  "layer 3 (Sigmoid)"),
    "an activation first": (lambda: [R(), L(2, 1)], "layer 0 (ReLU)"),
    "two activations in a row": (lambda: [L(2, 1), R(), R()], "layer 2 (ReLU)"),
    "an empty Linear": (lambda: [L(2, 3), R(), L(3, 0)], "layer 2 (Linear)"),
    "complex weights": (lambda: [L(2, 1, dtype=torch.complex128)], "layer 0 (Linear)"),
    "no Linear at all": (lambda: [], "no Linear layer"),
}


@pytest.mark.parametrize("name", REJECTED)
@pytest.mark.filterwarnings("ignore:Initializing zero-element tensors")
def test_from_torch_rejects_what_no_mlp_is_before_making_one(name, monkeypatch):
    layers, message = REJECTED[name]
    seq = torch.nn.Sequential(*layers())

    def made(*args, **kwargs):
        raise AssertionError("from_torch made a model before rejecting the module")
    monkeypatch.setattr(nn, "MLP", made)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        from_torch(seq)


def test_from_torch_takes_only_a_sequential():
    with pytest.raises(TypeError, match="torch.nn.Sequential"):
        from_torch(torch.nn.Linear(2, 1))


# ---------------------------------------------------------------- without torch

def test_without_torch_both_say_pip_install_torch(monkeypatch):
    m = model("relu", False, False)
    seq = to_torch(m)
    monkeypatch.setitem(sys.modules, "torch", None)     # `import torch` raises ImportError
    for call in (lambda: to_torch(m), lambda: from_torch(seq)):
        with pytest.raises(ImportError, match="pip install torch"):
            call()


def test_micrograd_nn_does_not_import_torch():
    code = "import sys, micrograd.nn; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/")
    assert out.stdout.strip() == "False", out.stderr
