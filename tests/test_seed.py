"""The seed's network, exactly: MLP(3, [4, 4, 1]) with tanh in every layer, the output too.

The seed (Karpathy's lecture "building micrograd") writes its own Value, with tanh
through exp, and a Neuron that always applies tanh. LECTURE below is that code,
transcribed; our MLP(..., activation='tanh', activate_output=True) takes the same
parameters and must train to the same numbers, step by step, to 1e-12.
"""
import random

import pytest

from micrograd.nn import MLP

LECTURE = '''
import math
import random

class Value:
    def __init__(self, data, _children=(), _op='', label=''):
        self.data = data
        self.grad = 0.0
        self._backward = lambda: None
        self._prev = set(_children)
        self._op = _op
        self.label = label

    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data + other.data, (self, other), '+')
        def _backward():
            self.grad += 1.0 * out.grad
            other.grad += 1.0 * out.grad
        out._backward = _backward
        return out

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, (self, other), '*')
        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = _backward
        return out

    def __pow__(self, other):
        assert isinstance(other, (int, float)), "only supporting int/float powers for now"
        out = Value(self.data**other, (self,), f'**{other}')
        def _backward():
            self.grad += other * (self.data ** (other - 1)) * out.grad
        out._backward = _backward
        return out

    def __rmul__(self, other): # other * self
        return self * other

    def __truediv__(self, other): # self / other
        return self * other**-1

    def __neg__(self): # -self
        return self * -1

    def __sub__(self, other): # self - other
        return self + (-other)

    def __radd__(self, other): # other + self
        return self + other

    def tanh(self):
        x = self.data
        t = (math.exp(2*x) - 1)/(math.exp(2*x) + 1)
        out = Value(t, (self, ), 'tanh')
        def _backward():
            self.grad += (1 - t**2) * out.grad
        out._backward = _backward
        return out

    def backward(self):
        topo = []
        visited = set()
        def build_topo(v):
            if v not in visited:
                visited.add(v)
                for child in v._prev:
                    build_topo(child)
                topo.append(v)
        build_topo(self)
        self.grad = 1.0
        for node in reversed(topo):
            node._backward()

class Neuron:
    def __init__(self, nin):
        self.w = [Value(random.uniform(-1,1)) for _ in range(nin)]
        self.b = Value(random.uniform(-1,1))

    def __call__(self, x):
        act = sum((wi*xi for wi, xi in zip(self.w, x)), self.b)
        out = act.tanh()
        return out

    def parameters(self):
        return self.w + [self.b]

class Layer:
    def __init__(self, nin, nout):
        self.neurons = [Neuron(nin) for _ in range(nout)]

    def __call__(self, x):
        outs = [n(x) for n in self.neurons]
        return outs[0] if len(outs) == 1 else outs

    def parameters(self):
        return [p for neuron in self.neurons for p in neuron.parameters()]

class MLP:
    def __init__(self, nin, nouts):
        sz = [nin] + nouts
        self.layers = [Layer(sz[i], sz[i+1]) for i in range(len(nouts))]

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def parameters(self):
        return [p for layer in self.layers for p in layer.parameters()]
'''

XS = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
YS = [1.0, -1.0, -1.0, 1.0]


def lecture():
    namespace = {}
    exec(compile(LECTURE, "lecture", "exec"), namespace)
    return namespace


def train(n, steps, lr=0.1):
    """The seed's loop (the lecture's step size): forward, zero grads, MSE loss, backward,
    SGD; per step
    (loss, predictions, grads) before the update."""
    history = []
    for _ in range(steps):
        ypred = [n(x) for x in XS]
        for p in n.parameters():
            p.grad = 0.0
        loss = sum([(y_pred - y_target)**2 for y_target, y_pred in zip(YS, ypred)])
        loss.backward()
        history.append((loss.data, [y.data for y in ypred], [p.grad for p in n.parameters()]))
        for p in n.parameters():
            p.data -= lr * p.grad
    return history


def seed_pair(seed):
    """Our seed network and the lecture's, holding the same parameters."""
    random.seed(seed)
    ours = MLP(3, [4, 4, 1], activation="tanh", activate_output=True)
    theirs = lecture()["MLP"](3, [4, 4, 1])
    assert len(ours.parameters()) == len(theirs.parameters()) == 41
    for p, q in zip(ours.parameters(), theirs.parameters()):
        p.data = q.data         # the lecture draws its biases too; micrograd 0.1.0's are 0
    return ours, theirs


def test_the_seed_network_has_tanh_in_every_layer_the_output_too():
    random.seed(0)
    n = MLP(3, [4, 4, 1], activation="tanh", activate_output=True)
    assert repr(n) == ("MLP of [Layer of [TanhNeuron(3), TanhNeuron(3), TanhNeuron(3), "
                       "TanhNeuron(3)], Layer of [TanhNeuron(4), TanhNeuron(4), TanhNeuron(4), "
                       "TanhNeuron(4)], Layer of [TanhNeuron(4)]]")
    assert n([2.0, 3.0, -1.0])._op == "tanh"


def test_the_default_output_stays_linear_as_micrograd_0_1_0():
    random.seed(0)
    n = MLP(3, [4, 4, 1], activation="tanh")
    assert repr(n.layers[-1]) == "Layer of [LinearNeuron(4)]"
    assert n([2.0, 3.0, -1.0])._op == "+"


@pytest.mark.parametrize("seed", [0, 1337, 2024])
def test_the_seed_network_trains_as_the_lecture_s_code_to_1e_12(seed):
    ours, theirs = seed_pair(seed)
    a, b = train(ours, 20), train(theirs, 20)
    for (loss, ypred, grads), (loss_t, ypred_t, grads_t) in zip(a, b):
        assert loss == pytest.approx(loss_t, rel=1e-12, abs=1e-12)
        assert ypred == pytest.approx(ypred_t, rel=1e-12, abs=1e-12)
        assert grads == pytest.approx(grads_t, rel=1e-12, abs=1e-12)
    assert a[-1][0] < a[0][0] / 10         # it learns: the loss falls tenfold in 20 steps
    assert [p.data for p in ours.parameters()] == \
        pytest.approx([p.data for p in theirs.parameters()], rel=1e-12, abs=1e-12)


def test_a_linear_output_would_not_match_the_lecture():
    """The comparison above can fail: without activate_output the outputs differ."""
    ours, theirs = seed_pair(1337)
    random.seed(1337)
    linear = MLP(3, [4, 4, 1], activation="tanh")
    for p, q in zip(linear.parameters(), ours.parameters()):
        p.data = q.data
    assert linear(XS[0]).data != pytest.approx(theirs(XS[0]).data, rel=1e-6)
    assert ours(XS[0]).data == pytest.approx(theirs(XS[0]).data, rel=1e-12, abs=1e-12)
