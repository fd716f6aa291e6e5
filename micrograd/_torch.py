"""to_torch and from_torch (re-exported by micrograd.nn): an MLP to PyTorch and back.

An MLP is a torch.nn.Sequential of float64 Linear layers with an activation module
after each layer that has one (ReLU, Tanh, Sigmoid; none for 'linear', and none after
the output layer unless activate_output). Layer i's neuron j is row j of the Linear's
weight and element j of its bias, so every number keeps its bits both ways; a round
trip from_torch(to_torch(m)) gives m.state_dict() back (a bias still at its initial
int 0 comes back as the float 0.0, which is equal: a tensor holds no ints).
PyTorch is optional: it is imported when one of these is called, and its absence
is an ImportError saying `pip install torch`.
Not here: other layer types, or any model that MLP cannot express.
"""
from __future__ import annotations

import random

from micrograd.engine import get_data, set_data

TYPE_CHECKING = False   # (typing is not imported at run time: see engine.py)
if TYPE_CHECKING:
    import torch

    from micrograd.nn import MLP

# the activation of a neuron (nn._ACTIVATIONS' keys) -> torch.nn's module, and back
_MODULES = {"relu": "ReLU", "tanh": "Tanh", "sigmoid": "Sigmoid"}


def _torch():
    try:
        import torch
    except ImportError:
        raise ImportError("micrograd.nn.to_torch and from_torch need PyTorch, which is not "
                          "installed: pip install torch") from None
    return torch


def _layer_activation(layer, i):
    """The activation layer i applies ('linear' for none), the same in all its neurons."""
    kinds = {n.activation if n.nonlin else "linear" for n in layer.neurons}
    nins = {len(n.w) for n in layer.neurons}
    if len(kinds) != 1 or len(nins) != 1:
        raise ValueError(f"layer {i} mixes neurons ({', '.join(sorted(map(str, layer.neurons)))}"
                         "): a torch Linear layer has one activation and one input size")
    return kinds.pop()


def _values(layer):
    """A layer's parameters in a torch Linear's order: weight row by row, then bias."""
    return [w for n in layer.neurons for w in n.w] + [n.b for n in layer.neurons]


def to_torch(model: MLP) -> torch.nn.Sequential:
    """model (a micrograd.nn.MLP) as a torch.nn.Sequential: per layer a float64
    nn.Linear holding its weights and biases exactly, then its activation module
    (nn.ReLU, nn.Tanh, nn.Sigmoid), none for a linear layer. The copy is independent:
    training one leaves the other unchanged."""
    from micrograd.nn import MLP
    if not isinstance(model, MLP):
        raise TypeError(f"model must be a micrograd.nn.MLP, not {type(model).__name__!r}")
    torch = _torch()
    modules = []
    for i, layer in enumerate(model.layers):
        activation = _layer_activation(layer, i)
        nin, nout = len(layer.neurons[0].w), len(layer.neurons)
        linear = torch.nn.Linear(nin, nout, dtype=torch.float64)
        data = torch.frombuffer(get_data(_values(layer)), dtype=torch.float64)
        with torch.no_grad():
            linear.weight.copy_(data[:nin * nout].reshape(nout, nin))
            linear.bias.copy_(data[nin * nout:])
        modules.append(linear)
        if activation != "linear":
            modules.append(getattr(torch.nn, _MODULES[activation])())
    return torch.nn.Sequential(*modules)


def _plan(torch, module):
    """(sizes, activation, activate_output, [(weight, bias)]) of an MLP equal to module,
    or a ValueError naming the first layer (index in the Sequential, type) that no MLP has."""
    if not isinstance(module, torch.nn.Sequential):
        raise TypeError(f"module must be a torch.nn.Sequential of Linear layers and "
                        f"activations, not {type(module).__name__!r}")
    acts = {getattr(torch.nn, name): kind for kind, name in _MODULES.items()}
    sizes, params = [], []
    after = []      # per Linear: (its activation, the layer that says so), "linear" for none
    for i, m in enumerate(module):
        where = f"layer {i} ({type(m).__name__})"
        if type(m) in acts:
            if not params or after[-1][0] != "linear":
                raise ValueError(f"{where}: an activation must follow a Linear layer")
            after[-1] = (acts[type(m)], where)
            continue
        if type(m) is not torch.nn.Linear:
            raise ValueError(f"{where}: only Linear, ReLU, Tanh and Sigmoid layers "
                             "make an MLP")
        if m.bias is None:
            raise ValueError(f"{where}: a Linear without bias (every neuron has one)")
        if min(m.in_features, m.out_features) < 1:
            raise ValueError(f"{where}: {m.in_features} inputs and {m.out_features} outputs; "
                             "a layer has at least one of each")
        if sizes and m.in_features != sizes[-1]:
            raise ValueError(f"{where}: takes {m.in_features} inputs, but the layer before "
                             f"gives {sizes[-1]}")
        for p in (m.weight, m.bias):
            if not p.dtype.is_floating_point or p.is_meta:
                raise ValueError(f"{where}: its parameters are {p.dtype} on {p.device}; "
                                 "real numbers with data are needed")
        if not sizes:
            sizes.append(m.in_features)
        sizes.append(m.out_features)
        params.append((m.weight, m.bias))
        after.append(("linear", where))
    if not params:
        raise ValueError("module holds no Linear layer")
    *hidden, (out, out_where) = after
    activation = hidden[0][0] if hidden else (out if out != "linear" else "relu")
    for kind, where in hidden + [(out, out_where)] * (out != "linear"):
        if kind != activation:
            raise ValueError(f"{where}: {_say(kind)} where the first hidden layer has "
                             f"{_say(activation)}; an MLP has one activation in every hidden "
                             "layer, and the output layer has it too or none")
    return sizes, activation, out != "linear", params


def _say(kind):
    return "no activation" if kind == "linear" else kind


def from_torch(module: torch.nn.Module, fused: bool = False) -> MLP:
    """A micrograd.nn.MLP equal to module, a torch.nn.Sequential of Linear layers
    (with bias) and an optional ReLU, Tanh or Sigmoid after each, the same one after
    every hidden layer; the output layer's sets activate_output. Weights come over bit
    for bit (float32 and other float dtypes are widened exactly to float64). Anything
    else is a ValueError naming the layer (its index in the Sequential and its type),
    raised before a model is made. fused: as MLP's.

    Python's random state is left as it was: the MLP is made (drawing its initial
    weights, as MLP() does) between random.getstate() and random.setstate(), then its
    weights are overwritten, so random numbers drawn after from_torch are the ones
    you would have drawn without it."""
    from micrograd.nn import MLP
    torch = _torch()
    sizes, activation, activate_output, params = _plan(torch, module)
    state = random.getstate()
    try:
        model = MLP(sizes[0], sizes[1:], activation=activation,
                    activate_output=activate_output, fused=fused)
    finally:
        random.setstate(state)
    with torch.no_grad():
        for layer, (weight, bias) in zip(model.layers, params):
            numbers = torch.cat([weight.reshape(-1), bias]).to("cpu", torch.float64).tolist()
            set_data(_values(layer), numbers)
    return model
