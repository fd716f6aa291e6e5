"""One measurement in a fresh process: `python peers.py '<job as JSON>'`.

The job names an implementation and a scenario; this prints one JSON line:
{"metrics": {name: [samples]}, "info": {...}, "error": str or null, "module": path}.
Times are taken inside the process with time.perf_counter, around the work only
(imports, data and model set-up are outside). harness.py runs these, interleaved.

The implementations (ours, ours-fast, mg010, mg010-nogc, torch-scalar, torch-vec) and
the training steps (demo, larger) are micrograd/bench/scenarios.py's, the same code
`python -m micrograd.bench` runs; this file adds the graph, backward, replay and
memory scenarios, and peers_batch.py the batch ones (implementations ours-batch, numpy). PyTorch runs on one thread (torch.set_num_threads(1)), as ours
and micrograd do. Not a test: it checks nothing but that the work ran.
"""
import gc
import math
import os
import random
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ORACLE = os.path.join(ROOT, ".oracle", "micrograd-0.1.0")
# imported as a file: importing micrograd.bench would import micrograd before 0.1.0 can be
sys.path.insert(0, os.path.join(ROOT, "micrograd", "bench"))
import scenarios  # noqa: E402
from scenarios import Scalars, fast_mse_graph, larger_batch, run  # noqa: E402,F401
del sys.path[0]     # none of that folder's other files is a top-level module
import peers_batch  # noqa: E402  (the batch scenarios: a Batch against nn.Linear and numpy)

# ---------------------------------------------------------------- memory


def _proc_status(field):
    """VmRSS or VmHWM (peak RSS) of this process, in bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(field)


# ---------------------------------------------------------------- backends


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


SCENARIOS = {**scenarios.SCENARIOS, "build": scenario_build, "build_chain": scenario_build_chain,
             "backward": scenario_backward, "backward_pyops": scenario_backward_pyops,
             "replay": scenario_replay, "deep": scenario_deep, "memory": scenario_memory,
             "memory_leaf": scenario_memory_leaf, **peers_batch.SCENARIOS}


if __name__ == "__main__":
    run(SCENARIOS, reference=ORACLE)
