"""Soak: 10,000 training steps of the demo model, watching memory.

MLP(2, [16, 16, 1]) on 100 two-moons points, the demo's SVM loss + L2 and SGD
(micrograd.demo.moons.step), with the arena's live node count and the process's RSS
sampled every 500 steps. Both must be flat after warm-up: every step builds and
drops a graph of about 100,000 nodes, so a leak of one node per step shows.
--replay soaks the fast path instead: a fused model's graph built once, then per
step set_data, forward(), zero_grad, backward and a C SGD step (plus, every 500
steps, a second graph built, replayed and dropped, so kept orders die and slots
are reused); live nodes, kept orders and edges must stay flat.
Writes benchmarks/soak.csv and plots benchmarks/soak.png; exits 1 if live nodes
grow after the first sample or RSS grows by more than --rss-slack MB.
A script, not a unit test: `make soak` (about 10 minutes). Not a speed benchmark.
"""
import argparse
import csv
import os
import random
import sys
import time
from pathlib import Path

from micrograd.data import moons
from micrograd.demo.moons import learning_rate, step
from micrograd.engine import stats
from micrograd.nn import MLP

HERE = Path(__file__).resolve().parent


def rss_mb():
    """Resident set size now (not the peak), from /proc; None where there is no /proc."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20
    except OSError:
        return None


def replay_step(X, y, steps):
    """The fast path's step function: the graph is built here, once."""
    from micrograd.engine import Value, get_data, set_data
    from micrograd.losses import hinge
    from micrograd.optim import SGD
    model = MLP(2, [16, 16, 1], fused=True)
    inputs = [[Value(0.0), Value(0.0)] for _ in X]
    scores = [model(x) for x in inputs]
    total = hinge(scores, y) + 1e-4 * sum(p*p for p in model.parameters())
    opt, flat = SGD(model.parameters(), lr=1.0), [v for row in inputs for v in row]

    def one(model, X, y, lr):
        set_data(flat, [a for row in X for a in row])
        total.forward()
        opt.zero_grad()
        total.backward()
        opt.lr = lr
        opt.step()
        if k_of[0] % 500 == 0:          # a second graph: built, replayed, dropped
            other = sum(model([Value(a) for a in X[0]]) for _ in range(3))
            other.forward()
        k_of[0] += 1
        return total.data, sum((yi > 0) == (s > 0) for yi, s in zip(y, get_data(scores))) / len(y)
    k_of = [0]
    return model, one


def soak(steps, every, replay=False):
    X, y = moons(100, noise=0.1, seed=1337)
    random.seed(1337)
    model, one = replay_step(X, y, steps) if replay else (MLP(2, [16, 16, 1]), step)
    rows, t0 = [], time.perf_counter()
    for k in range(1, steps + 1):
        loss, acc = one(model, X, y, learning_rate(k - 1, steps))
        if k % every == 0 or k == 1:
            st = stats()
            rows.append({"step": k, "live_nodes": st["live"], "plans": st["plans"],
                         "edges": st["edges"], "rss_mb": rss_mb(),
                         "loss": loss, "accuracy": acc, "seconds": time.perf_counter() - t0})
            print("step {step:6d}  live {live_nodes:6d}  plans {plans} edges {edges:6d}  "
                  "rss {rss_mb:7.1f} MB  loss {loss:.4f}  acc {accuracy:.2f}  {seconds:7.1f} s"
                  .format(**rows[-1]), flush=True)
    return rows


def plot(rows, path, replay=False):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    steps = [r["step"] for r in rows]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(6, 5), sharex=True)
    for ax, key, label, color in ((top, "live_nodes", "arena live nodes", "tab:blue"),
                                  (bottom, "rss_mb", "RSS (MB)", "tab:red")):
        ys = [r[key] for r in rows]
        ax.plot(steps, ys, "o-", color=color)
        ax.set_ylabel(label)
        ax.set_ylim(0, max(ys) * 1.25)
        ax.annotate(f"{ys[-1]:,.1f}" if key == "rss_mb" else f"{ys[-1]:,}", (steps[-1], ys[-1]),
                    textcoords="offset points", xytext=(-10, 8), ha="right")
    bottom.set_xlabel("training step")
    top.set_title(f"soak{' (replay)' if replay else ''}: MLP(2, [16, 16, 1]), 100 moons points, "
                  f"{steps[-1]:,} steps")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=10_000)
    p.add_argument("--every", type=int, default=500)
    p.add_argument("--rss-slack", type=float, default=5.0, help="MB of RSS growth allowed")
    p.add_argument("--out", type=Path, default=HERE / "soak", help="prefix of the .csv and .png")
    p.add_argument("--replot", action="store_true", help="plot the existing .csv, no run")
    p.add_argument("--replay", action="store_true",
                   help="the fast path: one fused graph replayed (writes soak-replay.*)")
    args = p.parse_args(argv)
    if args.replay and args.out == HERE / "soak":
        args.out = HERE / "soak-replay"
    if args.replot:
        with open(args.out.with_suffix(".csv"), newline="") as f:
            rows = [{k: int(v) if k in ("step", "live_nodes", "plans", "edges") else float(v)
                     for k, v in r.items()}
                    for r in csv.DictReader(f)]
    else:
        rows = soak(args.steps, args.every, args.replay)
        with open(args.out.with_suffix(".csv"), "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    plot(rows, args.out.with_suffix(".png"), args.replay)
    warm, last = rows[1] if len(rows) > 1 else rows[0], rows[-1]
    print(f"after warm-up (step {warm['step']}) to step {last['step']}: "
          f"live nodes {warm['live_nodes']} -> {last['live_nodes']}, "
          f"RSS {warm['rss_mb']:.1f} -> {last['rss_mb']:.1f} MB")
    grew = last["live_nodes"] > warm["live_nodes"] or last.get("plans", 0) > warm.get("plans", 0) \
        or last.get("edges", 0) > warm.get("edges", 0) or (
        warm["rss_mb"] is not None and last["rss_mb"] - warm["rss_mb"] > args.rss_slack)
    return 1 if grew else 0


if __name__ == "__main__":
    sys.exit(main())
