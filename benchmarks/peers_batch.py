"""The batch scenarios of peers.py: one minibatch training step, and what a Batch costs.

batch: one step (forward, backward, SGD) of MLP(nin, nouts) on `batch` rows, every
implementation from the same initial weights (micrograd's draws after random.seed(1337))
and the same data, so their losses agree and the report checks that they do:
  ours-batch   micrograd-c's Batch: one example's graph (MLP(..., fused=True)), run over
               every row as lanes; job["threads"] threads
  ours-fast    the replay path: a graph of `batch` copies of the model, built once and
               replayed (scenarios.fast_step; digits' old BatchGraph), small sizes only
  torch-vec    nn.Linear float64, torch.set_num_threads(job["threads"])
  numpy        a hand-written step, one BLAS thread (set before numpy is imported)
The loss is the moons demo's (hinge + 1e-4 L2, its decaying learning rate) or a mean
squared error to one-hot targets (job["lr"]), as in the demo and larger scenarios.
batch_memory: RSS of a Batch beyond its model, and the time to build one example's graph.
Times are time.perf_counter around the steps only. Not a test.
"""
import gc
import os
import random
import sys
import time

import scenarios

ALPHA = 1e-4            # the demo's L2 weight
BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")

# ---------------------------------------------------------------- model, data, machine


def draws(nin, nouts):
    """micrograd's initial weights after random.seed(1337): per layer, (W as nin rows of
    nout numbers, biases), drawn in nn.MLP's order (neuron by neuron, biases 0)."""
    random.seed(1337)
    sz, layers = [nin] + list(nouts), []
    for i in range(len(nouts)):
        rows = [[random.uniform(-1, 1) for _ in range(sz[i])] for _ in range(sz[i + 1])]
        layers.append(([list(col) for col in zip(*rows)], [0.0] * sz[i + 1]))
    return layers


def batch_data(job):
    """(X rows, targets, lr(k)): moons' points and +-1 labels with the demo's decaying rate,
    or larger's random rows and one-hot targets at job["lr"] (small enough not to diverge
    from micrograd's uniform(-1, 1) weights)."""
    if job["loss"] == "hinge":
        X, y = scenarios.moons(job["batch"], 0.1, seed=1)
        return X, y, lambda k: 1.0 - 0.9 * k / 100
    X, Y = scenarios.larger_batch(job["nin"], job["nouts"][-1], job["batch"])
    return X, Y, lambda k: job["lr"]


def flops(nin, nouts, rows):
    """Floating-point operations of one step's dots: 2 per multiply-add, forward and
    backward (input grads and weight grads) 3 times the forward's."""
    sz = [nin] + list(nouts)
    return 3 * 2 * rows * sum(a * b for a, b in zip(sz, sz[1:]))


def machine_peak():
    """The no-FMA peak of one core: 2 vector multiplies or adds a cycle x float64 lanes
    (8 with AVX-512, 4 with AVX2 or AVX, 2 with SSE2) x the clock of /proc/cpuinfo."""
    mhz, flags = 0.0, set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "cpu MHz":
                    mhz = max(mhz, float(value))
                elif key.strip() == "flags":
                    flags = set(value.split())
    except OSError:
        return {}
    isa = next((f for f in ("avx512f", "avx2", "avx") if f in flags), "sse2")
    lanes = {"avx512f": 8, "avx2": 4, "avx": 4}.get(isa, 2)
    return {"clock_ghz": mhz / 1e3, "isa": isa, "lanes": lanes,
            "peak_gflops": 2 * lanes * mhz / 1e3}


def rss_bytes():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise KeyError("VmRSS")


# ---------------------------------------------------------------- one example's graph


def example_graph(model, nin, nouts, loss):
    """One example's loss over input leaves: (root, inputs, outputs). hinge: the demo's
    (1 + -y*score).relu() plus its L2 term (shared: it depends on no input); mse: the sum
    of squared errors to one-hot target leaves (the batch's mean is the reduction)."""
    from micrograd.engine import Value
    xs = [Value(0.0) for _ in range(nin)]
    out = model(xs)
    if loss == "hinge":
        y = Value(0.0)
        reg = ALPHA * sum(p*p for p in model.parameters())
        return (1 + -y*out).relu() + reg, xs + [y], [out]
    ts = [Value(0.0) for _ in range(nouts[-1])]
    return sum((o - t)**2 for o, t in zip(out, ts)), xs + ts, out


# ---------------------------------------------------------------- steps


def ours_batch(job, X, T, lr):
    """A step through Batch: forward over every row, backward (the mean), optim.SGD."""
    import numpy as np
    from micrograd.engine import Batch
    from micrograd.nn import MLP
    from micrograd.optim import SGD
    random.seed(1337)
    model = MLP(job["nin"], job["nouts"], fused=True)
    root, inputs, outs = example_graph(model, job["nin"], job["nouts"], job["loss"])
    batch = Batch(root, inputs, threads=job["threads"])
    cols = np.column_stack([np.asarray(X, dtype=np.float64), np.asarray(T, dtype=np.float64)])
    data = np.ascontiguousarray(cols)
    losses, scores = np.empty(len(X)), np.empty((len(X), len(outs)))
    y = np.asarray(T)
    opt = SGD(model.parameters(), lr=lr(0))

    def step(k):
        batch.forward(data, out=losses)
        if job["loss"] == "hinge":      # the demo's accuracy, as the other rows compute it
            batch.data(outs, out=scores)
            ((y > 0) == (scores[:, 0] > 0)).mean()
        opt.zero_grad()
        batch.backward()
        opt.lr = lr(k)
        opt.step()
        return losses.mean()
    return step, {"threads": job["threads"], "flops": flops(job["nin"], job["nouts"], len(X)),
                  **machine_peak()}


def ours_fast(job, X, T, lr):
    """The replay path: a graph of len(X) copies of the model (scenarios' fast graphs)."""
    from micrograd.engine import Value
    from micrograd.nn import MLP
    from micrograd.optim import SGD
    random.seed(1337)
    model = MLP(job["nin"], job["nouts"], fused=True)
    graph = scenarios.fast_hinge_graph if job["loss"] == "hinge" else scenarios.fast_mse_graph
    loss, read = graph(model, X, T, Value)
    opt = SGD(model.parameters(), lr=lr(0))
    return lambda k: scenarios.fast_step(loss, read, opt, lr(k), k == 0), {}


def torch_vec(job, X, T, lr):
    """nn.Linear float64 layers holding micrograd's draws, scenarios' nn.Linear steps."""
    import torch
    torch.set_num_threads(job["threads"])
    nn, layers = torch.nn, []
    for i, (W, b) in enumerate(draws(job["nin"], job["nouts"])):
        lin = nn.Linear(len(W), len(b), dtype=torch.float64)
        with torch.no_grad():
            lin.weight.copy_(torch.tensor(W, dtype=torch.float64).T)
            lin.bias.copy_(torch.tensor(b, dtype=torch.float64))
        layers += [lin] if i == len(job["nouts"]) - 1 else [lin, nn.ReLU()]
    model = nn.Sequential(*layers)
    X, T = torch.tensor(X, dtype=torch.float64), torch.tensor(T, dtype=torch.float64)
    fn = scenarios.torch_vec_step if job["loss"] == "hinge" else scenarios.torch_vec_mse_step
    return lambda k: fn(model, X, T, torch, lr(k)), {"threads": torch.get_num_threads()}


def numpy_step(job, X, T, lr):
    """The same step written by hand in numpy: relu hidden layers, matrix products, SGD."""
    in_time = "numpy" not in sys.modules
    for name in BLAS_THREADS:           # read by OpenBLAS when numpy is first imported
        os.environ[name] = "1"
    import numpy as np
    params = [(np.array(W), np.array(b)) for W, b in draws(job["nin"], job["nouts"])]
    X, T = np.asarray(X, dtype=np.float64), np.asarray(T, dtype=np.float64)
    hinge, last, n = job["loss"] == "hinge", len(params) - 1, len(X)

    def step(k):
        acts = [X]
        for i, (W, b) in enumerate(params):
            z = acts[-1] @ W + b
            acts.append(np.maximum(z, 0.0) if i < last else z)
        if hinge:
            s = acts[-1][:, 0]
            margin = 1.0 - T * s
            loss = np.maximum(margin, 0.0).mean() + ALPHA * sum(
                (W * W).sum() + (b * b).sum() for W, b in params)
            ((T > 0) == (s > 0)).mean()             # the accuracy, as the other rows
            g = (-T * (margin > 0) / n)[:, None]
        else:
            diff = acts[-1] - T
            loss = (diff * diff).sum() / n
            g = 2.0 * diff / n
        for i in range(last, -1, -1):
            W, b = params[i]
            gW, gb = acts[i].T @ g, g.sum(axis=0)
            if i:
                g = (g @ W.T) * (acts[i] > 0)
            if hinge:
                gW += 2 * ALPHA * W
                gb += 2 * ALPHA * b
            W -= lr(k) * gW
            b -= lr(k) * gb
        return loss
    return step, {"blas_threads_set_before_numpy": in_time}


STEPS = {"ours-batch": ours_batch, "ours-fast": ours_fast, "torch-vec": torch_vec,
         "numpy": numpy_step}


def scenario_batch(s, job):
    """Warm-up steps, then timed ones: ms per step and every step's loss."""
    X, T, lr = batch_data(job)
    step, info = STEPS[s.impl]({"threads": 1, **job}, X, T, lr)
    metrics, losses = scenarios.timed_steps(step, job)
    return metrics, {**losses, **info}


def scenario_batch_memory(s, job):
    """RSS beyond the model of one example's graph and a Batch of job["rows"] rows of
    MLP(nin, nouts) after a forward and a backward (the data allocated before the
    baseline); then the seconds to build one example's graph of MLP(*job["build"])."""
    import numpy as np
    from micrograd.engine import Batch
    from micrograd.nn import MLP
    nin, nouts = job["nin"], job["nouts"]
    random.seed(1337)
    model = MLP(nin, nouts, fused=True)
    data = np.random.default_rng(0).random((job["rows"], nin + nouts[-1]))
    gc.collect()
    base = rss_bytes()
    root, inputs, _ = example_graph(model, nin, nouts, "mse")
    graph = rss_bytes() - base
    batch = Batch(root, inputs, threads=1)
    batch.forward(data)
    batch.backward()
    metrics = {"graph_rss_mb": [graph / 2**20], "batch_rss_mb": [(rss_bytes() - base) / 2**20]}
    bnin, bnouts = job["build"]
    big = MLP(bnin, bnouts, fused=True)
    for _ in range(job["reps"]):
        t0 = time.perf_counter()
        example_graph(big, bnin, bnouts, "mse")
        metrics.setdefault("build_s", []).append(time.perf_counter() - t0)
    return metrics, {"rows": job["rows"], "model": f"MLP({nin}, {nouts})",
                     "build_model": f"MLP({bnin}, {bnouts})", "batch_len": len(batch)}


SCENARIOS = {"batch": scenario_batch, "batch_memory": scenario_batch_memory}
