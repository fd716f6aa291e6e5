"""A small training script, checked by mypy --strict (tests/test_types.py) and run.

What a user writes with micrograd-c: an MLP on a few points, a loss, backward, an
optimizer step, and the bulk calls; every line must type-check with no error.
"""
import random
from array import array

from micrograd.engine import Value, dot, get_data, get_grad, leaves, logsumexp, set_data
from micrograd.gradcheck import gradcheck
from micrograd.losses import cross_entropy, hinge, mse
from micrograd.nn import MLP, Neuron
from micrograd.optim import SGD, Adam, AdamW

random.seed(0)
xs = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
ys = [1.0, -1.0, -1.0, 1.0]

# the lecture's loop, by hand
n = MLP(3, [4, 4, 1])
for k in range(5):
    ypred = [n(x) for x in xs]
    loss = sum((yout - ygt)**2 for ygt, yout in zip(ys, ypred))
    n.zero_grad()
    loss.backward()
    for p in n.parameters():
        p.data -= 0.05 * p.grad

# an optimizer, a loss from micrograd.losses, a model output named as a Value
model = MLP(3, [8, 1], activation="tanh", fused=True)
opt = SGD(model.parameters(), lr=0.05, momentum=0.9)
for k in range(5):
    preds: list[Value] = [model(x) for x in xs]
    total = mse(preds, ys) + hinge(preds, [1, -1, -1, 1])
    opt.zero_grad()
    total.backward()
    opt.step()
    opt.lr = 0.05 * (1 - k / 5)
first: float = total.data

# build once, replay
inputs, target = [Value(0.0) for _ in range(3)], Value(0.0)
out: Value = model(inputs)
replayed = mse([out], [target])
adam = Adam(model.parameters(), lr=0.01, betas=(0.9, 0.99))
for x, y in zip(xs, ys):
    set_data(inputs, x)
    set_data([target], [y])
    replayed.forward()
    adam.zero_grad()
    replayed.backward()
    adam.step()
grads = get_grad(model.parameters())
data = get_data(model.parameters(), out=array("d", grads))
print(len(grads), len(data), adam.state_dict()["step"])

# Values by hand: operators on both sides, methods, fields
a, b = Value(-4.0, label="a"), Value(2.0)
c = (a * b + b**3 - 1 / a + 2 ** b - (-a) / 3.0).relu() + b.tanh() * b.exp() + b.log()
c = c + c.sigmoid()
c.backward()
names: list[str] = [v._op for v in c._prev] + [a.label]
neuron = Neuron(2, activation="sigmoid")
z = dot(neuron.w, [1.0, 2.0], neuron.b) + logsumexp([a, b, 1.0])
ce = cross_entropy([a, b, c], 1) + cross_entropy([[a, b], [b, c]], [0, 1])
ws = leaves([0.5, -0.5])
AdamW(ws, weight_decay=0.1).step()
ok: bool = gradcheck(lambda x: (x * 3).tanh(), [0.7])
state = model.state_dict()
model.load_state_dict(state)
print(f"{first:.3f} {c.data:.3f} {z.grad} {ce.data:.3f}", names, ok, opt)
