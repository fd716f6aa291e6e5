"""Memory of replay: kept orders (plans) and the edges array of n-ary nodes.

A graph replayed for 10,000 steps keeps live nodes, plans and edges flat; a plan
dies with its root; fused graphs built and dropped over and over keep the edges
array bounded (compaction), and what survives a compaction is intact.
The arena's counts are read through micrograd.engine.stats().
Not here: node lifetime without replay (test_memory.py).
"""
import random

import pytest

from micrograd import engine
from micrograd.engine import Value, dot, get_grad, logsumexp, set_data, stats
from micrograd.losses import cross_entropy
from micrograd.nn import MLP


@pytest.fixture(autouse=True)
def _quiet(quiet_gc):
    """Every test here counts nodes, plans and edges: no garbage collection meanwhile."""


def arena_stats():
    """Every count of the arena (live nodes, edges, plans ...), after releasing what died."""
    return engine.stats()


def test_stats_reports_plans_and_edges():
    x = Value(1.0)
    out = dot([x, x], [x, 2.0], Value(0.0), fused=True)
    before = stats()
    out.forward()
    after = stats()
    assert after["plans"] == before["plans"] + 1 and after["edges"] >= 5
    assert after["plan_bytes"] > before["plan_bytes"] and after["edge_bytes"] > 0


def test_replaying_a_small_graph_ten_thousand_times_stays_flat():
    random.seed(0)
    model = MLP(2, [4, 3], fused=True)
    params = model.parameters()
    x = [Value(0.0), Value(0.0)]
    out = cross_entropy(model(x), 0) + 1e-3 * sum(p * p for p in params)
    rng = random.Random(1)
    step = lambda: (set_data(x, [rng.uniform(-1, 1), rng.uniform(-1, 1)]), out.forward(),
                    model.zero_grad(), out.backward(), get_grad(params))
    for _ in range(100):
        step()
    before = arena_stats()
    for _ in range(10_000):
        step()
    after = arena_stats()
    assert after == before
    assert before["plans"] >= 1 and before["edges"] >= 3 * (1 + 2 * 2) + 3 * (1 + 2 * 4)


def test_a_plan_dies_with_its_root():
    base = arena_stats()
    xs = [Value(0.1 * k) for k in range(6)]
    roots = [logsumexp([xs[k], xs[k + 1] * 2]).tanh() for k in range(5)]
    for k in range(5):
        roots[k].forward()
        roots[k].forward()              # one plan per root, however often replayed
    mid = arena_stats()
    assert mid["plans"] == base["plans"] + 5 and mid["plan_bytes"] > base["plan_bytes"]
    del roots[1:3]
    assert arena_stats()["plans"] == base["plans"] + 3
    del roots
    after = arena_stats()
    assert (after["plans"], after["plan_bytes"]) == (base["plans"], base["plan_bytes"])
    assert after["live"] == base["live"] + 6


def test_a_plan_of_an_inner_node_dies_with_it_not_with_the_root():
    base = arena_stats()["plans"]
    x = Value(2.0)
    inner = x * 3
    root = inner.exp()
    inner.forward()
    root.forward()
    assert arena_stats()["plans"] == base + 2
    del inner                           # still held by root: its node and plan live
    assert arena_stats()["plans"] == base + 2
    x.data = 0.5
    (inner,) = root._prev
    inner.forward()
    assert inner.data == 1.5
    del root, inner
    assert arena_stats()["plans"] == base


def test_building_and_dropping_fused_graphs_keeps_edges_bounded():
    base = arena_stats()["edges"]
    xs = [Value(float(k)) for k in range(32)]
    keep = dot(xs, xs, Value(0.0), fused=True)          # survives every compaction
    keep_kids = sorted(v.data for v in keep._prev)

    def churn():
        for n in (8, 32, 3, 17):
            out = dot(xs[:n], xs[-n:], Value(1.0), fused=True)
            lse = logsumexp(xs[:n] + [out])
            lse.forward()
            del out, lse
            engine._flush()             # released now, not a batch of 256 deaths later

    for _ in range(20):
        churn()
    before = arena_stats()
    for _ in range(500):
        churn()
    after = arena_stats()
    assert after["edges"] == before["edges"] == base + 1 + 2 * 32
    assert after["edge_bytes"] == before["edge_bytes"]
    assert (after["live"], after["plans"]) == (before["live"], before["plans"])
    # what survived the compactions is the same node over the same children
    assert sorted(v.data for v in keep._prev) == keep_kids
    set_data(xs, [1.0] * 32)
    keep.forward()
    assert keep.data == 32.0
    keep.backward()
    assert [x.grad for x in xs] == [2.0] * 32


def test_dropping_fused_graphs_frees_their_edges():
    base = arena_stats()
    ws = [Value(1.0) for _ in range(100)]
    outs = [dot(ws, ws, Value(0.0), fused=True) for _ in range(10)]
    assert arena_stats()["edges"] == base["edges"] + 10 * 201
    del outs
    assert arena_stats()["edges"] == base["edges"]


def test_threads_making_and_dropping_plans_leave_none_behind(interleave):
    from concurrency import run_threads
    base = arena_stats()

    def work(k):
        x = Value(0.5 + k)
        total = 0.0
        for j in range(300):
            out = dot([x, x], [j, x], Value(k), fused=True).tanh() + logsumexp([x, j * 0.01])
            x.data = 0.001 * j
            out.forward()
            total += out.data
            del out
        return total

    assert run_threads([lambda k=k: work(k) for k in range(4)]) == [work(k) for k in range(4)]
    after = arena_stats()
    assert (after["plans"], after["plan_bytes"], after["edges"], after["live"]) == \
        (base["plans"], base["plan_bytes"], base["edges"], base["live"])
