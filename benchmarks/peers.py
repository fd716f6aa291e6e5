"""One measurement in a fresh process: `python peers.py '<job as JSON>'`.

The job names an implementation and a scenario; this prints one JSON line:
{"metrics": {name: [samples]}, "info": {...}, "error": str or null, "module": path}.
Times are taken inside the process with time.perf_counter, around the work only
(imports, data and model set-up are outside). harness.py runs these, interleaved.

Implementations (the first two run the same user code through Value and nn):
  ours           micrograd from this package (or from PYTHONPATH: bench_gil.py's builds)
  ours-fast      the same package's fast path: the graph built once (MLP(..., fused=True)),
                 then each step loss.forward() (a replay in C), backward, optim.SGD
  mg010          micrograd 0.1.0 from PyPI, its garbage collector on (its default);
                 it has no tanh, so _closure_tanh adds one in its own style
  mg010-nogc     the same, gc.disable() before the work
  torch-scalar   PyTorch op for op: every Value a 0-d float64 tensor with requires_grad
  torch-vec      PyTorch as a user would pick instead: nn.Linear layers, float64
PyTorch runs on one thread (torch.set_num_threads(1)), as ours and micrograd do.
Not a test: it checks nothing but that the work ran.
"""
import gc
import json
import math
import os
import random
import sys
import time

ORACLE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                      ".oracle", "micrograd-0.1.0")

# ---------------------------------------------------------------- memory


def _proc_status(field):
    """VmRSS or VmHWM (peak RSS) of this process, in bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(field)


# ---------------------------------------------------------------- backends


class Scalars:
    """Value-like scalars: micrograd's Value (ours or 0.1.0) or 0-d tensors."""

    def __init__(self, impl):
        self.impl = impl
        if impl.startswith("mg010"):
            sys.path.insert(0, ORACLE)
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

def build_graph(leaf, n_ops, n_leaves=1000, seed=0, py_every=0):
    """A DAG of about n_ops ops (+ * ** relu tanh) over n_leaves leaves.

    Units y_u = ((a*b + a).relu() ** 2).tanh(): a is a leaf, b a leaf or the
    unit n_leaves back (shared subexpressions, depth ~ 5*units/n_leaves), then
    a pairwise tree of + over all units to one root (depth log2). Shallow enough
    for micrograd's recursive topological sort. 6 ops per unit, minus one.
    Returns (root, ops, seconds to build, leaves); leaves are made off the clock.
    py_every > 0: every py_every-th unit ends in .sin() (python_sin, set on the Value
    class by the caller), a node defined in Python that later units use (as b); ops
    counts the other ops.
    """
    rng = random.Random(seed)
    xs = [leaf(rng.uniform(-1, 1)) for _ in range(n_leaves)]
    units = (n_ops + 1) // 6
    t0 = time.perf_counter()
    ys = []
    for u in range(units):
        a = xs[u % n_leaves]
        b = ys[u - n_leaves] if u >= n_leaves else xs[(7 * u + 1) % n_leaves]
        y = ((a * b + a).relu() ** 2).tanh()
        ys.append(y.sin() if py_every and u % py_every == 0 else y)
    while len(ys) > 1:
        pairs = [ys[i] + ys[i + 1] for i in range(0, len(ys) - 1, 2)]
        ys = pairs + ys[-1:] if len(ys) % 2 else pairs
    seconds = time.perf_counter() - t0
    return ys[0], 6 * units - 1, seconds, xs


def build_chain(leaf, n_ops):
    """A chain of n_ops ops: x = ((x * c + z).relu()) ** 2, n_ops // 4 times (4 ops each).

    c = 0.5, z = 0.25 and x's start 0.5 are leaves made before the clock (constants
    as leaves: no op makes a leaf for a Python number). x stays in (0, 0.5].
    Returns (x, ops, seconds to build, the three leaves).
    """
    c, z, x = leaf(0.5), leaf(0.25), leaf(0.5)
    leaves = (c, z, x)
    steps = n_ops // 4
    t0 = time.perf_counter()
    for _ in range(steps):
        x = ((x * c + z).relu()) ** 2
    seconds = time.perf_counter() - t0
    return x, 4 * steps, seconds, leaves


def python_sin(Value):
    """sin defined in Python, micrograd's way (issue 11's code, unchanged), for Value."""
    def sin(self):
        out = Value(math.sin(self.data), (self,), 'sin')

        def _backward():
            self.grad += math.cos(self.data) * out.grad
        out._backward = _backward
        return out
    return sin


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


# ---------------------------------------------------------------- scenarios

def timed_builds(build, s, job):
    """ns per op of build(leaf, n_ops) (build_graph or build_chain), one build per rep."""
    ns = []
    for _ in range(job["reps"]):
        root, ops, seconds, _ = build(s.leaf, job["n_ops"])
        ns.append(seconds / ops * 1e9)
        del root
    return {"ns_per_op": ns}, {"ops": ops}


def scenario_build(s, job):
    return timed_builds(build_graph, s, job)


def scenario_build_chain(s, job):
    return timed_builds(build_chain, s, job)


def scenario_backward(s, job):
    ns = []
    for _ in range(job["reps"]):
        root, ops, _, xs = build_graph(s.leaf, job["n_ops"])
        t0 = time.perf_counter()
        root.backward()
        ns.append((time.perf_counter() - t0) / (ops + len(xs)) * 1e9)
        del root, xs
    return {"ns_per_node": ns}, {"nodes": ops + 1000}


def scenario_backward_pyops(s, job):
    """Backward over a graph that mixes C ops and ops defined in Python: ns per C node
    and ns per Python node.

    Graph A is build_graph's DAG (n_ops ops over 1000 leaves, all built-in ops);
    graph B is the same DAG where every py_every-th unit ends in a Python-defined sin
    (build_graph with py_every): the same leaves and C ops, plus k Python nodes. Both are
    built once in this process, A then B, and both kept alive (B does not reuse A's
    freed memory). Then `reps` times: backward() timed once on each graph, the order
    A, B alternating with B, A from rep to rep (grads accumulate; the work is the
    same). Per rep:
      c_ns_per_node     = tA / nodes_A (leaves included, as the backward scenario)
      py_ns_per_node    = (tB - tA) / k: what one Python node adds to a backward
                          (the engine handing over to Python, the closure reading
                          data and grads and adding to a grad through the Value),
                          assuming A's nodes cost in B what they cost in A
      mixed_ns_per_node = tB / nodes_B
    Builds are not timed here (with A alive, B's build pays for A in a garbage
    collector). micrograd 0.1.0 (reference): every node is Python, its built-in ops
    too, so its difference is about one node's cost and within its noise; its sin is
    the same user code on its own Value.
    """
    Value = s.leaf
    Value.sin = python_sin(Value)
    root_a, ops, _, xs_a = build_graph(Value, job["n_ops"])
    root_b, _, _, xs_b = build_graph(Value, job["n_ops"], py_every=job["py_every"])
    k = len(range(0, (job["n_ops"] + 1) // 6, job["py_every"]))     # the sin nodes
    nodes_a = ops + len(xs_a)
    metrics = {}
    add = lambda name, x: metrics.setdefault(name, []).append(x)
    for rep in range(job["reps"]):
        t = {}
        for which, root in ((("A", root_a), ("B", root_b)) if rep % 2 == 0
                            else (("B", root_b), ("A", root_a))):
            t0 = time.perf_counter()
            root.backward()
            t[which] = time.perf_counter() - t0
        add("c_ns_per_node", t["A"] / nodes_a * 1e9)
        add("py_ns_per_node", (t["B"] - t["A"]) / k * 1e9)
        add("mixed_ns_per_node", t["B"] / (nodes_a + k) * 1e9)
    return metrics, {"nodes": nodes_a, "ops": ops, "py_nodes": k,
                     "py_share": k / (nodes_a + k)}


def scenario_replay(s, job):
    """backward's graph built once, then: backward before any forward (no kept order),
    the first forward() (sorts the graph and keeps the order), and `reps` times a
    replay forward() then a backward() over the kept order. ns per node, leaves included."""
    root, ops, _, xs = build_graph(s.leaf, job["n_ops"])
    nodes = ops + len(xs)
    ns = lambda t0: (time.perf_counter() - t0) / nodes * 1e9
    metrics = {}
    t0 = time.perf_counter()
    root.backward()
    metrics["backward_unkept_ns_per_node"] = [ns(t0)]
    t0 = time.perf_counter()
    root.forward()
    metrics["first_forward_ns_per_node"] = [ns(t0)]
    for _ in range(job["reps"]):
        t0 = time.perf_counter()
        root.forward()
        metrics.setdefault("forward_ns_per_node", []).append(ns(t0))
        t0 = time.perf_counter()
        root.backward()
        metrics.setdefault("backward_ns_per_node", []).append(ns(t0))
    return metrics, {"nodes": nodes}


def scenario_deep(s, job):
    """A chain of depth n: tanh, + x, tanh, + x, ... (x one shared leaf)."""
    x = s.leaf(0.5)
    v = x
    t0 = time.perf_counter()
    for i in range(job["depth"]):
        v = v.tanh() if i % 2 == 0 else v + x
    metrics = {"build_ns_per_op": [(time.perf_counter() - t0) / job["depth"] * 1e9]}
    info = {"nodes": job["depth"] + 1}
    t0 = time.perf_counter()
    try:
        v.backward()
    except RecursionError as e:     # micrograd 0.1.0's recursive topological sort
        info["error"] = f"RecursionError: {e}"
        return metrics, info
    metrics["ns_per_node"] = [(time.perf_counter() - t0) / (job["depth"] + 1) * 1e9]
    return metrics, info


def scenario_memory(s, job):
    """Peak RSS and RSS per node of one graph of ~n nodes (leaves included)."""
    gc.collect()
    base = _proc_status("VmRSS")
    root, ops, _, xs = build_graph(s.leaf, job["n_ops"])
    nodes = ops + len(xs)
    metrics = {"peak_rss_mb": [_proc_status("VmHWM") / 2**20],
               "rss_bytes_per_node": [(_proc_status("VmRSS") - base) / nodes]}
    if s.impl == "ours":
        from micrograd.engine import stats
        st = stats()
        metrics["arena_bytes_per_node"] = [st["bytes_per_node"]]
        metrics["arena_bytes_per_live_node"] = [st["bytes"] / st["live"]]
    return metrics, {"nodes": nodes, "baseline_rss_mb": base / 2**20}


def scenario_memory_leaf(s, job):
    """RSS per leaf held by Python: n leaves Value(random number), each kept in a list.

    The list is made first ([None] * n, before the baseline), so its 8 B per entry is
    not counted; each leaf is then made as a user writes it, Value(rng.random()):
    micrograd 0.1.0 keeps that float object (24 B, counted: it is part of its leaf),
    ours copies the number into its arena and the float is freed. 1,000 leaves are
    made and kept before the baseline, so first-use allocations are not counted.
    RSS per leaf = (RSS after - RSS before) / n; ours also reports its arena's
    bytes per node (micrograd.engine.stats()).
    """
    n = job["n_leaves"]
    rng = random.Random(0)
    warm = [s.leaf(rng.random()) for _ in range(1000)]
    xs = [None] * n
    gc.collect()
    base = _proc_status("VmRSS")
    for i in range(n):
        xs[i] = s.leaf(rng.random())
    grown = _proc_status("VmRSS") - base
    metrics = {"rss_bytes_per_leaf": [grown / n]}
    if s.impl == "ours":
        from micrograd.engine import stats
        metrics["arena_bytes_per_node"] = [stats()["bytes_per_node"]]
    info = {"leaves": n, "list_bytes_per_entry": (sys.getsizeof(xs) - sys.getsizeof([])) / n,
            "baseline_rss_mb": base / 2**20}
    del warm
    return metrics, info


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


SCENARIOS = {"build": scenario_build, "build_chain": scenario_build_chain,
             "backward": scenario_backward, "backward_pyops": scenario_backward_pyops,
             "replay": scenario_replay, "deep": scenario_deep, "memory": scenario_memory,
             "memory_leaf": scenario_memory_leaf, "demo": scenario_demo,
             "larger": scenario_larger}


def main():
    job = json.loads(sys.argv[1])
    s = Scalars(job["impl"])
    if job["impl"] == "mg010-nogc":
        gc.disable()
    out = {"metrics": {}, "info": {}, "error": None, "module": s.module}
    out["metrics"], out["info"] = SCENARIOS[job["scenario"]](s, job)
    out["error"] = out["info"].pop("error", None)
    print(json.dumps(out), flush=True)
    os._exit(0)     # skip tearing down a million-node graph


if __name__ == "__main__":
    main()
