"""Node lifetime: what the arena holds, when it lets go, and _prev's handles.

A node lives while a Python Value or a parent node reaches it; a long chain is
freed without recursion; a training loop stays flat in live nodes, arena capacity
and process RSS. _prev hands out stable Python objects (graph drawing code keeps
nodes in sets and names them by id) with their labels.
Not here: op numbers (test_engine.py), the C calls themselves (test_capi.py).
"""
import gc
import os
import random

from micrograd.engine import Value, stats
from oracle import run_original


def live():
    return stats()["live"]


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_dropping_a_graph_frees_all_its_nodes():
    base = live()
    x, y = Value(2.0), Value(-3.0)
    out = ((x * y + 1) ** 2).relu() / (x - y)
    out.backward()
    assert live() > base
    del x, y, out
    assert live() == base


def test_a_live_root_keeps_its_whole_graph():
    base = live()
    x = Value(1.0)
    z = (x * 2) + 1        # nodes: x, 2, x*2, 1, +
    del x
    assert live() == base + 5
    z.backward()
    (y,) = [c for c in z._prev if c._op == "*"]
    assert y.data == 2.0 and y.grad == 1
    assert sorted(c.data for c in y._prev) == [1.0, 2]
    del y, z
    assert live() == base


def test_failed_ops_leave_nothing_behind():
    base = live()
    v = Value(0.0)
    for bad in (lambda: v ** -1, lambda: v.log(), lambda: 1 / v, lambda: v + "a"):
        try:
            bad()
        except (ZeroDivisionError, ValueError, TypeError):
            pass
    del v
    assert live() == base


def test_a_million_long_chain_is_freed_without_recursion():
    gc.collect()            # earlier tests' cycles, not freed in the middle of the count
    base = live()
    v = Value(0.0)
    for _ in range(1_000_000):
        v = v * 1.0
    v.backward()
    del v                   # one release walks the whole chain
    assert live() == base


def train_step(params, xs, ys):
    """A little MLP by hand (2 -> 4 tanh -> 1), squared loss, backward, SGD."""
    w1, b1, w2, b2 = params
    loss = Value(0.0)
    for x, y in zip(xs, ys):
        h = [(sum((wij * xj for wij, xj in zip(wi, x)), bi)).tanh() for wi, bi in zip(w1, b1)]
        pred = sum((w * hi for w, hi in zip(w2, h)), b2)
        loss = loss + (pred - y) ** 2
    for p in flat(params):
        p.grad = 0
    loss.backward()
    for p in flat(params):
        p.data -= 0.01 * p.grad
    return loss.data


def flat(params):
    w1, b1, w2, b2 = params
    return [w for row in w1 for w in row] + b1 + w2 + [b2]


def test_training_loop_keeps_arena_and_rss_flat():
    rng = random.Random(0)
    params = ([[Value(rng.uniform(-1, 1)) for _ in range(2)] for _ in range(4)],
              [Value(0.0) for _ in range(4)], [Value(rng.uniform(-1, 1)) for _ in range(4)],
              Value(0.0))
    xs = [[rng.uniform(-1, 1), rng.uniform(-1, 1)] for _ in range(16)]
    ys = [1.0 if a * b > 0 else -1.0 for a, b in xs]
    for _ in range(20):                                  # warm-up: arena and heap settle
        train_step(params, xs, ys)
    gc.collect()
    before = (stats()["cap"], live(), rss_bytes())
    losses = [train_step(params, xs, ys) for _ in range(200)]
    gc.collect()
    after = (stats()["cap"], live(), rss_bytes())
    assert after[:2] == before[:2]
    if not os.environ.get("MG_SANITIZE"):                # ASan's quarantine keeps freed memory
        assert after[2] - before[2] < 1 << 20, "RSS grew by more than 1 MiB"
    assert losses[-1] < losses[0]                        # it did train


def test_prev_returns_the_same_objects_each_time():
    x, y = Value(2.0), Value(3.0)
    z = x * y
    assert x in z._prev and y in z._prev and len(z._prev) == 2
    inner = z + 1
    first = inner._prev
    again = inner._prev
    assert {id(v) for v in first} == {id(v) for v in again}
    assert any(v is z for v in first)


def test_prev_of_a_dropped_child_gives_one_stable_handle():
    x = Value(2.0)
    z = x * 3
    del x
    kept = z._prev
    assert {id(v) for v in z._prev} == {id(v) for v in kept}
    assert sorted(v.data for v in kept) == [2.0, 3]


def test_labels_survive_through_prev_while_the_node_lives():
    def build():
        a = Value(2.0, label="a")
        b = a * 3
        b.label = "b"
        return b.relu()
    out = build()                      # a's and b's own Values are gone
    (b,) = out._prev
    (a, three) = sorted(b._prev, key=lambda v: v.data)
    assert (b.label, a.label, three.label, out.label) == ("b", "a", "", "")


def trace(root):
    """The lecture's graphviz trace: nodes in a set, edges as (child, parent)."""
    nodes, edges = set(), set()
    def build(v):
        if v not in nodes:
            nodes.add(v)
            for child in v._prev:
                edges.add((child, v))
                build(child)
    build(root)
    return nodes, edges


GRAPH = """
x = Value(2.0); y = Value(-1.0)
s = x * y
root = (s + x) * (s - 3) + s ** 2
"""


def test_graph_tracing_code_sees_micrographs_nodes_and_edges():
    ns = {"Value": Value}
    exec(GRAPH, ns)
    nodes, edges = trace(ns["root"])
    ours = [len(nodes), len(edges), sorted((v._op, repr(v.data)) for v in nodes)]
    theirs = run_original(f"""
        from micrograd.engine import Value
        {GRAPH.strip().replace(chr(10), chr(10) + ' ' * 8)}
        {trace_source()}
        nodes, edges = trace(root)
        result = [len(nodes), len(edges), sorted((v._op, repr(v.data)) for v in nodes)]
    """)
    assert ours == [theirs[0], theirs[1], [tuple(p) for p in theirs[2]]]


def trace_source():
    import inspect
    return inspect.getsource(trace).replace("\n", "\n" + " " * 8)


def test_a_held_leaf_costs_no_bound_method():
    """Python's bytes per held leaf (tracemalloc: the Value, its weak reference, its int
    index, the registry's slot and the holding list's): about 220 B on CPython 3.11.
    A bound method `_dead.append` made per leaf (kept alive by the weak reference) would
    add 80 B, as it did for leaves made through _own (Value(x), leaves())."""
    import tracemalloc
    from micrograd.engine import leaves

    def per_leaf(make, n=20_000):
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            held = make(n)
            return (tracemalloc.get_traced_memory()[0] - before) / len(held)
        finally:
            tracemalloc.stop()

    assert per_leaf(lambda n: [Value(random.random()) for _ in range(n)]) < 250
    assert per_leaf(lambda n: leaves(random.random() for _ in range(n))) < 260
