"""Module, Neuron, Layer, MLP: micrograd 0.1.0's nn.py, with a choice of activation.

Same draws (random.uniform(-1, 1), weights in order, bias Value(0)), same sum order
(b + w0*x0, then + w1*x1, ...), same reprs, so after the same random.seed a model
here holds exactly the original's parameters and computes bit-identical data.
A neuron's sum is engine.dot: the same nodes as upstream's sum(...), in one call.
Added, without changing the original signatures: activation='relu' | 'tanh' |
'sigmoid' | 'linear' (MLP applies it to hidden layers, the last layer stays linear
unless activate_output=True: MLP(3, [4, 4, 1], activation='tanh', activate_output=True)
is the lecture's network, tanh in every layer), and checks that reject bad sizes and
activations up front.
Not here: anything that knows about C; parameters are ordinary Values.
"""
import operator
import random

from micrograd.engine import Value, dot

# activation -> the name in a neuron's repr ('ReLUNeuron(2)', 'TanhNeuron(3)')
_ACTIVATIONS = {"relu": "ReLU", "tanh": "Tanh", "sigmoid": "Sigmoid", "linear": "Linear"}


def _size(n, name):
    """n as a positive int; TypeError for a non-integer, ValueError for n <= 0."""
    if isinstance(n, bool) or not hasattr(type(n), "__index__"):
        raise TypeError(f"{name} must be an int, not {type(n).__name__!r}")
    n = operator.index(n)
    if n <= 0:
        raise ValueError(f"{name} must be positive, got {n}")
    return n


def _activation(name):
    if not isinstance(name, str) or name not in _ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}: choose one of "
                         f"{', '.join(map(repr, _ACTIVATIONS))}")
    return name


class Module:

    def zero_grad(self):
        for p in self.parameters():
            p.grad = 0

    def parameters(self):
        return []

class Neuron(Module):

    def __init__(self, nin, nonlin=True, activation="relu"):
        self.activation = _activation(activation)
        self.w = [Value(random.uniform(-1,1)) for _ in range(_size(nin, "nin"))]
        self.b = Value(0)
        self.nonlin = nonlin

    def __call__(self, x):
        act = dot(self.w, x, self.b)   # sum((wi*xi for wi,xi in zip(self.w, x)), self.b)
        if not self.nonlin or self.activation == "linear":
            return act
        return getattr(act, self.activation)()

    def parameters(self):
        return self.w + [self.b]

    def __repr__(self):
        kind = _ACTIVATIONS[self.activation] if self.nonlin else "Linear"
        return f"{kind}Neuron({len(self.w)})"

class Layer(Module):

    def __init__(self, nin, nout, **kwargs):
        nout = _size(nout, "nout")
        self.neurons = [Neuron(nin, **kwargs) for _ in range(nout)]

    def __call__(self, x):
        out = [n(x) for n in self.neurons]
        return out[0] if len(out) == 1 else out

    def parameters(self):
        return [p for n in self.neurons for p in n.parameters()]

    def __repr__(self):
        return f"Layer of [{', '.join(str(n) for n in self.neurons)}]"

class MLP(Module):

    def __init__(self, nin, nouts, activation="relu", activate_output=False):
        if not isinstance(nouts, (list, tuple)):
            raise TypeError(f"nouts must be a list of layer sizes, not {type(nouts).__name__!r}")
        if not nouts:
            raise ValueError("nouts must hold at least one layer size")
        _activation(activation)       # fail before any random draw
        sz = [_size(nin, "nin")] + [_size(n, "each of nouts") for n in nouts]
        self.layers = [Layer(sz[i], sz[i+1], nonlin=activate_output or i!=len(nouts)-1,
                             activation=activation) for i in range(len(nouts))]

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def parameters(self):
        return [p for layer in self.layers for p in layer.parameters()]

    def __repr__(self):
        return f"MLP of [{', '.join(str(layer) for layer in self.layers)}]"
