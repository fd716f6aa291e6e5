"""Stress: 8 threads building, backpropagating and dropping graphs at once.

A tiny switch interval makes the threads interleave inside ops, __del__ and
the batched release of dead nodes. The oracle is a sequential run of the same
work with the same seeds: each thread's outputs and own-leaf grads must be
bit-identical to it. Leaves shared by several threads only accumulate grads
(backward adds into leaves), in a racy order, so their totals are compared
with the sum of the sequential contributions within rounding. After the
threads, the arena must hold exactly what is still referenced. The last two
tests pin down races between _prev and dropped handles that the stress found.
Not here: the lock's cost (benchmarks/), the 4-thread cases (test_threads.py).
"""
import math
import random
import sys
import threading

from micrograd.engine import Value, stats

THREADS = 8


from concurrency import run_threads


# ---------------------------------------------------------------- build, backward, drop

def fresh_shared():
    return [Value(0.3 + 0.2 * j) for j in range(6)]


def worker(k, shared, rounds, contributions=None):
    """Thread k's rounds: build a graph over every op, backprop, SGD on its own leaves, drop.

    Even threads draw two leaves per round from `shared`, odd ones make their own.
    Returns, per round, the output's data and the own leaves' grads and data (hex).
    With `contributions` (sequential runs only), the shared grads are zeroed before
    each backward and appended after it: this round's contribution to them.
    """
    rng = random.Random(k)
    own = [Value(rng.uniform(-1, 1)) for _ in range(4)]
    seen = []
    for _ in range(rounds):
        if k % 2 == 0:
            s, t = rng.sample(shared, 2)
        else:
            s, t = Value(rng.uniform(0.1, 1)), Value(rng.uniform(0.1, 1))
        a, b, c, d = own
        out = ((a * s + b).tanh() * (c - t).relu() + d / (s.exp() + 1)
               + (a ** 2 + 1).log() + (b * t).sigmoid() + (c * c + 1) ** (d * s))
        for j in range(8):                      # a wider graph, and shared leaves used twice
            out = out + own[j % 4] * rng.uniform(-1, 1) - (s * t) / (j + 2)
        dropped = [(x * rng.random()).tanh() + x for x in own]
        del dropped                             # built and dropped, never backpropagated
        for p in own:
            p.grad = 0
        if contributions is not None:
            for v in shared:
                v.grad = 0
        out.backward()
        if contributions is not None:
            contributions.append([v.grad for v in shared])
        seen.append([out.data.hex()] + [p.grad.hex() for p in own] + [p.data.hex() for p in own])
        for p in own:
            p.data -= 0.01 * p.grad
        del out, s, t, a, b, c, d                # this round's graph dies here
    return seen


def test_eight_threads_building_backpropagating_and_dropping_graphs_match_a_sequential_run(
        interleave):
    rounds = 700
    contributions = []
    shared = fresh_shared()
    alone = [worker(k, shared, rounds, contributions) for k in range(THREADS)]
    want_grads = [math.fsum(c[j] for c in contributions) for j in range(len(shared))]
    # each backward adds its terms to the running total in a racy order: rounding only
    tolerance = [1e-12 * math.fsum(abs(c[j]) for c in contributions) for j in range(len(shared))]
    del shared

    base = stats()["live"]
    shared = fresh_shared()
    initial = [v.data for v in shared]
    together = run_threads([lambda k=k: worker(k, shared, rounds) for k in range(THREADS)])

    assert together == alone
    for v, want, tol, data in zip(shared, want_grads, tolerance, initial):
        assert abs(v.grad - want) <= tol
        assert v.data == data                       # nobody writes the shared leaves' data
    assert stats()["live"] == base + len(shared)    # every graph the threads built is gone
    del shared, v
    assert stats()["live"] == base


# ---------------------------------------------------------------- _prev while others churn

def long_lived_graph():
    """The leaves and root of a binary tree of products, without handles for the inner nodes;
    and, for each product's data (all distinct), its factors' data computed in Python floats."""
    leaves = [Value(2.0 + j / 64) for j in range(32)]
    level, floats, factors = leaves, [v.data for v in leaves], {}
    while len(level) > 1:
        level = [level[j] * level[j + 1] for j in range(0, len(level), 2)]
        pairs = [(floats[j], floats[j + 1]) for j in range(0, len(floats), 2)]
        floats = [x * y for x, y in pairs]
        factors.update((x * y, sorted([x, y])) for x, y in pairs)
    assert len(factors) == 31 and not factors.keys() & {v.data for v in leaves}
    return leaves, level[0], factors


def walk(root):
    """Every node of root's graph, with the _prev set first seen for each (handles held)."""
    first, todo = {}, [root]
    while todo:
        node = todo.pop()
        if node not in first:
            first[node] = node._prev
            todo.extend(first[node])
    return first


def churn(stop):
    while not stop.is_set():
        vs = [Value(float(j)) for j in range(500)]    # many release batches (_BATCH) of deaths
        s = sum(vs, Value(0.0))
        s.backward()
        assert vs[7].grad == 1 and s.data == 124750


def check_prev_identity(root, factors, walks):
    """Walk the graph `walks` times; while a walk's handles are held, _prev gives the same
    objects, and they are the right nodes."""
    for _ in range(walks):
        first = walk(root)
        assert len(first) == 63
        for node, kids in first.items():
            again = node._prev
            assert {id(c) for c in again} == {id(c) for c in kids}
            assert sorted(c.data for c in again) == factors.get(node.data, [])
        del first, node, kids, again                # the handles die; the next walk makes new ones
    return True


def test_prev_returns_the_same_handles_while_other_threads_create_and_drop_values(interleave):
    leaves, root, factors = long_lived_graph()     # leaves held: _prev must return these objects
    base = stats()["live"]
    stop = threading.Event()

    def reader():
        try:
            return check_prev_identity(root, factors, walks=100)
        finally:
            stop.set()

    results = run_threads([reader] + [lambda: churn(stop)] * (THREADS - 1))
    assert results[0] is True
    assert stats()["live"] == base                  # the graph, and nothing the threads made


# ---------------------------------------------------------------- races the stress runs found
# (fixed: a dying handle is never handed out again; one handle per node across threads)

def test_prev_never_returns_a_handle_whose_finalizer_has_started():
    """A thread switch at the start of Value.__del__ (simulated by a profile hook, which runs
    where the interpreter may switch) lets another thread's _prev get the dying handle back."""
    root = Value(2.0).tanh()            # the leaf is held by the tanh node only
    k = next(iter(root._prev))          # a handle, holding one reference of its own
    got = []

    def switch_here(frame, event, arg):
        if event == "call":             # the first Python code run while k is being dropped
            sys.setprofile(None)
            got.append(next(iter(root._prev)))

    sys.setprofile(switch_here)
    try:
        del k
    finally:
        sys.setprofile(None)
    k = got.pop() if got else next(iter(root._prev))
    del root                            # the leaf now lives only through k
    stats()
    other = Value(-99.0)                # would take the leaf's slot if it had been freed
    assert k.data == 2.0 and k._i != other._i


def test_two_threads_calling_prev_on_one_graph_keep_identity_stable(interleave):
    leaves, root, factors = long_lived_graph()
    run_threads([lambda: check_prev_identity(root, factors, walks=60)] * 2)
