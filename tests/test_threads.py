"""Threads: several Python threads building and backpropagating graphs at once.

Each thread's results must equal a sequential run's: bit-identical losses for
independent models, and identical data and own-leaf grads when threads share
leaves (the shared leaves' grads are sums in a racy order, so they are compared
within 1e-12). A tiny switch interval makes the threads interleave within ops.
Not here: the lock's cost (benchmarks/).
"""
import random

from micrograd import nn
from micrograd.engine import Value, stats


from concurrency import run_threads


def train_by_hand(seed, steps=60):
    """A 2 -> 4 tanh -> 1 network of Values, trained with SGD; the loss at every step."""
    rng = random.Random(seed)
    w1 = [[Value(rng.uniform(-1, 1)) for _ in range(2)] for _ in range(4)]
    b1 = [Value(0.0) for _ in range(4)]
    w2 = [Value(rng.uniform(-1, 1)) for _ in range(4)]
    b2 = Value(0.0)
    params = [w for row in w1 for w in row] + b1 + w2 + [b2]
    xs = [[rng.uniform(-1, 1), rng.uniform(-1, 1)] for _ in range(12)]
    ys = [1.0 if a * b > 0 else -1.0 for a, b in xs]
    losses = []
    for _ in range(steps):
        loss = Value(0.0)
        for x, y in zip(xs, ys):
            h = [(wi[0] * x[0] + wi[1] * x[1] + bi).tanh() for wi, bi in zip(w1, b1)]
            pred = sum((w * hi for w, hi in zip(w2, h)), b2)
            loss = loss + (pred - y) ** 2
        for p in params:
            p.grad = 0
        loss.backward()
        for p in params:
            p.data -= 0.01 * p.grad
        losses.append(loss.data.hex())
    return losses


def test_four_threads_training_their_own_models_match_a_single_thread(interleave):
    seeds = [1, 2, 3, 4]
    alone = [train_by_hand(s) for s in seeds]
    together = run_threads([lambda s=s: train_by_hand(s) for s in seeds])
    assert together == alone


def nn_trainer(model, steps=15):
    xs = [[0.5, -1.0, 0.25], [-0.3, 0.8, 1.0], [1.0, 1.0, -1.0], [0.0, -0.5, 0.5]]
    ys = [1.0, -1.0, -1.0, 1.0]

    def train():
        losses = []
        for _ in range(steps):
            loss = sum(((model(x) - y) ** 2 for x, y in zip(xs, ys)), Value(0.0))
            model.zero_grad()
            loss.backward()
            for p in model.parameters():
                p.data -= 0.02 * p.grad
            losses.append(loss.data.hex())
        return losses
    return train


def models(seeds):
    """Built in this thread: nn draws from the global random module."""
    out = []
    for s in seeds:
        random.seed(s)
        out.append(nn.MLP(3, [8, 8, 1]))
    return out


def test_four_threads_training_nn_mlps_match_a_single_thread(interleave):
    seeds = [10, 11, 12, 13]
    alone = [nn_trainer(m)() for m in models(seeds)]
    together = run_threads([nn_trainer(m) for m in models(seeds)])
    assert together == alone


def shared_leaf_worker(shared, k, rounds=200):
    """Graphs over the shared leaves and this worker's own: data and own grads per round."""
    own = [Value(0.1 * (k + 1)), Value(-0.2 * (k + 1))]
    seen = []
    for r in range(rounds):
        a, b = shared[r % len(shared)], shared[(r + k + 1) % len(shared)]
        out = ((a * own[0] + b) * own[1] - a / (b + 3)).tanh() + (own[0] * a) ** 2
        for v in own:
            v.grad = 0
        out.backward()
        seen.append([out.data.hex()] + [v.grad.hex() for v in own])
    return seen


def test_threads_sharing_leaves_get_the_sequential_results(interleave):
    def fresh():
        return [Value(0.5 + 0.25 * j) for j in range(5)]

    shared = fresh()
    alone = [shared_leaf_worker(shared, k) for k in range(4)]
    alone_grads = [v.grad for v in shared]
    base = stats()["live"]

    shared = fresh()
    together = run_threads([lambda k=k: shared_leaf_worker(shared, k) for k in range(4)])
    assert together == alone
    for got, want in zip([v.grad for v in shared], alone_grads):
        assert abs(got - want) <= 1e-12 * abs(want)
    assert stats()["live"] == base        # nothing leaked by the threaded run


def test_threads_dropping_many_handles_keep_the_arena_consistent(interleave):
    base = stats()["live"]

    def churn(k):
        total = 0.0
        for _ in range(60):
            vs = [Value(float(j + k)) for j in range(300)]   # many release batches (_BATCH) per thread
            s = sum(vs, Value(0.0))
            s.backward()
            total += s.data + vs[0].grad
        return total

    results = run_threads([lambda k=k: churn(k) for k in range(4)])
    assert results == [churn(k) for k in range(4)]
    assert stats()["live"] == base
