"""The training steps that `python -m micrograd.bench` and benchmarks/ time, written once.

Each scenario runs in a fresh process (micrograd/bench/worker.py here, benchmarks/peers.py
in the checkout, both calling run()), as one implementation of:
  ours           micrograd-c, the unchanged user code (Value and nn, a new graph each step)
  ours-fast      the fast path: the graph built once (MLP(..., fused=True)), then each
                 step loss.forward() (a replay in C), backward, optim.SGD
  mg010          micrograd 0.1.0 (from the folder job["reference"]), its garbage
                 collector on (its default); it has no tanh, so _closure_tanh adds one
  mg010-nogc     the same, gc.disable() before the work
  torch-scalar   PyTorch op for op: every Value a 0-d float64 tensor with requires_grad
  torch-vec      PyTorch as a user would pick instead: nn.Linear layers, float64
PyTorch runs on one thread (torch.set_num_threads(1)), as ours and micrograd do.
Times are taken inside the process with time.perf_counter, around the steps only.
This file imports no micrograd at its top, so that a process can load it and then
micrograd 0.1.0 under the same import name; it is loaded as a file, not as
micrograd.bench.scenarios. Not a test: it checks nothing but that the work ran.
"""
import gc
import json
import math
import os
import random
import sys
import time

# ---------------------------------------------------------------- implementations


class Scalars:
    """Value-like scalars: micrograd's Value (ours or 0.1.0) or 0-d tensors."""

    def __init__(self, impl, reference=None):
        self.impl = impl
        if impl.startswith("mg010"):
            sys.path.insert(0, reference)     # its micrograd before ours
        if impl.startswith("torch"):
            import torch
            torch.set_num_threads(1)
            self.torch = torch
            self.leaf = lambda x: torch.tensor(float(x), dtype=torch.float64, requires_grad=True)
            self.module = torch.__file__
        else:
            from micrograd.engine import Value
            import micrograd
            if impl.startswith("mg010"):
                Value.tanh = _closure_tanh
            self.leaf = Value
            self.module = micrograd.__file__


def _closure_tanh(self):
    """tanh for micrograd 0.1.0, which has none: its relu's shape (one closure per
    node), with the backward rule of the lecture's Value and of csrc/mg.c."""
    out = type(self)(math.tanh(self.data), (self,), 'tanh')

    def _backward():
        self.grad += (1 - out.data**2) * out.grad
    out._backward = _backward

    return out


class TorchNeuron:
    """micrograd's Neuron, op for op, over 0-d tensors (the same draws and sums)."""

    def __init__(self, leaf, nin, nonlin=True):
        self.w = [leaf(random.uniform(-1, 1)) for _ in range(nin)]
        self.b = leaf(0)
        self.nonlin = nonlin

    def __call__(self, x):
        act = sum((wi*xi for wi, xi in zip(self.w, x)), self.b)
        return act.relu() if self.nonlin else act

    def parameters(self):
        return self.w + [self.b]


class TorchMLP:
    """micrograd's MLP and Layer, op for op, over 0-d tensors."""

    def __init__(self, leaf, nin, nouts):
        sz = [nin] + nouts
        self.layers = [[TorchNeuron(leaf, sz[i], nonlin=i != len(nouts) - 1)
                        for _ in range(sz[i + 1])] for i in range(len(nouts))]

    def __call__(self, x):
        for layer in self.layers:
            out = [n(x) for n in layer]
            x = out[0] if len(out) == 1 else out
        return x

    def parameters(self):
        return [p for layer in self.layers for n in layer for p in n.parameters()]

    def zero_grad(self):
        for p in self.parameters():
            p.grad = None


def mlp(s, nin, nouts):
    """The model for implementation s, after random.seed(1337)."""
    random.seed(1337)
    if s.impl == "torch-scalar":
        return TorchMLP(s.leaf, nin, nouts)
    if s.impl == "torch-vec":
        nn, sz, layers = s.torch.nn, [nin] + nouts, []
        for i in range(len(nouts)):
            layers.append(nn.Linear(sz[i], sz[i + 1], dtype=s.torch.float64))
            if i != len(nouts) - 1:
                layers.append(nn.ReLU())
        return nn.Sequential(*layers)
    from micrograd.nn import MLP
    if s.impl == "ours-fast":
        return MLP(nin, nouts, fused=True)      # the same draws as ours
    return MLP(nin, nouts)


# ---------------------------------------------------------------- graphs

def moons(n=100, noise=0.1, seed=1):
    """Two interleaving half circles (make_moons' recipe), labels -1/1, plain Python."""
    rng = random.Random(seed)
    n_out = n // 2
    pts = [(math.cos(math.pi * i / (n_out - 1)), math.sin(math.pi * i / (n_out - 1)), -1)
           for i in range(n_out)]
    n_in = n - n_out
    pts += [(1 - math.cos(math.pi * i / (n_in - 1)), 0.5 - math.sin(math.pi * i / (n_in - 1)), 1)
            for i in range(n_in)]
    rng.shuffle(pts)
    X = [[x0 + rng.gauss(0, noise), x1 + rng.gauss(0, noise)] for x0, x1, _ in pts]
    return X, [c for _, _, c in pts]



# ---------------------------------------------------------------- training steps

def value_step(model, X, y, Value, learning_rate):
    """One training step of the demo notebook, unchanged user code (Value and nn only):
    its loss() (accuracy included), zero_grad, backward and SGD update."""
    inputs = [list(map(Value, xrow)) for xrow in X]
    scores = list(map(model, inputs))
    losses = [(1 + -yi*scorei).relu() for yi, scorei in zip(y, scores)]
    data_loss = sum(losses) * (1.0 / len(losses))
    alpha = 1e-4
    reg_loss = alpha * sum((p*p for p in model.parameters()))
    total_loss = data_loss + reg_loss
    accuracy = [(yi > 0) == (scorei.data > 0) for yi, scorei in zip(y, scores)]
    model.zero_grad()
    total_loss.backward()
    for p in model.parameters():
        p.data -= learning_rate * p.grad
    return total_loss.data


def torch_sgd(torch, model, loss, learning_rate):
    """The end of every PyTorch step: zero_grad, backward, SGD; the loss as a float."""
    model.zero_grad()
    loss.backward()
    with torch.no_grad():
        for p in model.parameters():
            p -= learning_rate * p.grad
    return loss.item()


def torch_scalar_step(model, X, y, T, learning_rate):
    """value_step op for op in 0-d tensors: what switching Value for tensor gives."""
    inputs = [list(map(T.leaf, xrow)) for xrow in X]
    scores = list(map(model, inputs))
    losses = [(1 + -yi*scorei).relu() for yi, scorei in zip(y, scores)]
    data_loss = sum(losses) * (1.0 / len(losses))
    reg_loss = 1e-4 * sum((p*p for p in model.parameters()))
    total_loss = data_loss + reg_loss
    accuracy = [(yi > 0) == (scorei.item() > 0) for yi, scorei in zip(y, scores)]
    return torch_sgd(T.torch, model, total_loss, learning_rate)


def torch_vec_step(model, X, y, torch, learning_rate):
    """The same step with nn.Linear layers on whole tensors."""
    scores = model(X).squeeze(1)
    data_loss = torch.relu(1 - y * scores).mean()
    reg_loss = 1e-4 * sum((p * p).sum() for p in model.parameters())
    total_loss = data_loss + reg_loss
    accuracy = ((y > 0) == (scores > 0)).double().mean()
    return torch_sgd(torch, model, total_loss, learning_rate)


def value_mse_step(model, X, Y, Value, learning_rate):
    """A training step with a mean squared error to one-hot targets (user code)."""
    inputs = [list(map(Value, xrow)) for xrow in X]
    outs = list(map(model, inputs))
    loss = sum((o - t)**2 for out, tgt in zip(outs, Y) for o, t in zip(out, tgt)) * (1.0 / len(X))
    model.zero_grad()
    loss.backward()
    for p in model.parameters():
        p.data -= learning_rate * p.grad
    return loss.data


def torch_vec_mse_step(model, X, Y, torch, learning_rate):
    loss = ((model(X) - Y) ** 2).sum() * (1.0 / len(X))
    return torch_sgd(torch, model, loss, learning_rate)


def torch_scalar_mse_step(model, X, Y, T, learning_rate):
    """value_mse_step op for op in 0-d tensors."""
    inputs = [list(map(T.leaf, xrow)) for xrow in X]
    outs = list(map(model, inputs))
    loss = sum((o - t)**2 for out, tgt in zip(outs, Y) for o, t in zip(out, tgt)) * (1.0 / len(X))
    return torch_sgd(T.torch, model, loss, learning_rate)


def fast_hinge_graph(model, X, y, Value):
    """value_step's loss as a graph built once (losses.hinge is its data loss, op for op):
    the loss, and what a step reads after the replay (the accuracy, from the scores)."""
    from micrograd.engine import get_data
    from micrograd.losses import hinge
    inputs = [list(map(Value, xrow)) for xrow in X]
    scores = list(map(model, inputs))
    data_loss = hinge(scores, y)
    reg_loss = 1e-4 * sum((p*p for p in model.parameters()))
    accuracy = lambda: [(yi > 0) == (si > 0) for yi, si in zip(y, get_data(scores))]
    return data_loss + reg_loss, accuracy


def fast_mse_graph(model, X, Y, Value):
    """value_mse_step's loss as a graph built once, the one-hot targets leaves too."""
    inputs = [list(map(Value, xrow)) for xrow in X]
    T = [list(map(Value, row)) for row in Y]
    outs = list(map(model, inputs))
    loss = sum((o - t)**2 for out, tgt in zip(outs, T) for o, t in zip(out, tgt)) * (1.0 / len(X))
    return loss, lambda: None


def fast_step(loss, read, opt, learning_rate, first):
    """One step of the fast path: replay the graph's forward in C (the build computed
    the first step's), zero_grad, backward and SGD, one C call each."""
    if not first:
        loss.forward()
    read()
    opt.zero_grad()
    loss.backward()
    opt.lr = learning_rate
    opt.step()
    return loss.data


def train_steps(s, job, model, X, y, steps, lr):
    """Warm-up steps, then timed steps: ms per step, and every step's loss.

    steps: (Value step, 0-d tensor step, nn.Linear step, fast path's graph builder);
    lr(k): step k's rate. The fast path's graph is built off the clock."""
    value_fn, scalar_fn, vec_fn, fast_graph = steps
    if s.impl == "ours-fast":
        from micrograd.optim import SGD
        loss, read = fast_graph(model, X, y, s.leaf)
        opt = SGD(model.parameters(), lr=lr(0))
        step = lambda k: fast_step(loss, read, opt, lr(k), k == 0)
    elif s.impl == "torch-vec":
        t = s.torch
        X, y = t.tensor(X, dtype=t.float64), t.tensor(y, dtype=t.float64)
        step = lambda k: vec_fn(model, X, y, t, lr(k))
    elif s.impl == "torch-scalar":
        step = lambda k: scalar_fn(model, X, y, s, lr(k))
    else:
        step = lambda k: value_fn(model, X, y, s.leaf, lr(k))
    return timed_steps(step, job)


def timed_steps(step, job):
    """step(k) for job["warmup"] steps, then job["steps"] timed ones: ms per timed step,
    and every step's loss."""
    ms, losses = [], []
    for k in range(job["warmup"] + job["steps"]):
        t0 = time.perf_counter()
        losses.append(float(step(k)))
        if k >= job["warmup"]:
            ms.append((time.perf_counter() - t0) * 1e3)
    return {"ms_per_step": ms}, {"losses": losses}


def scenario_demo(s, job):
    X, y = moons(job["samples"], 0.1, seed=1)
    model = mlp(s, 2, [16, 16, 1])
    steps = (value_step, torch_scalar_step, torch_vec_step, fast_hinge_graph)
    return train_steps(s, job, model, X, y, steps, lambda k: 1.0 - 0.9 * k / 100)


def larger_batch(nin, nout, batch):
    """larger's random batch: inputs in [0, 1), one-hot targets of nout classes."""
    rng = random.Random(2)
    X = [[rng.random() for _ in range(nin)] for _ in range(batch)]
    labels = [rng.randrange(nout) for _ in range(batch)]
    return X, [[1 if c == label else 0 for c in range(nout)] for label in labels]


def scenario_larger(s, job):
    """MLP(nin, nouts) on a random batch, one-hot targets, mean squared error."""
    nin, nouts, batch = job["nin"], job["nouts"], job["batch"]
    X, Y = larger_batch(nin, nouts[-1], batch)
    model = mlp(s, nin, nouts)
    steps = (value_mse_step, torch_scalar_mse_step, torch_vec_mse_step, fast_mse_graph)
    return train_steps(s, job, model, X, Y, steps, lambda k: 0.01)


SCENARIOS = {"demo": scenario_demo, "larger": scenario_larger}


def run(scenarios=SCENARIOS, reference=None):
    """The body of a measuring process: `python worker.py '<job as JSON>'` prints one line,
    {"metrics": {name: [samples]}, "info": {...}, "error": str or null, "module": path}.
    micrograd 0.1.0 is imported from job["reference"], or else from reference."""
    job = json.loads(sys.argv[1])
    s = Scalars(job["impl"], job.get("reference", reference))
    if job["impl"] == "mg010-nogc":
        gc.disable()
    out = {"metrics": {}, "info": {}, "error": None, "module": s.module}
    out["metrics"], out["info"] = scenarios[job["scenario"]](s, job)
    out["error"] = out["info"].pop("error", None)
    print(json.dumps(out), flush=True)
    os._exit(0)     # skip tearing down a million-node graph
