"""Soak: 10,000 eager training steps of the demo model, watching memory.

MLP(2, [16, 16, 1]) on 100 two-moons points, the demo's SVM loss + L2 and SGD
(micrograd.demo.moons.step), with the arena's live node count and the process's RSS
sampled every 500 steps. Both must be flat after warm-up: every step builds and
drops a graph of about 100,000 nodes, so a leak of one node per step shows.
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


def soak(steps, every):
    X, y = moons(100, noise=0.1, seed=1337)
    random.seed(1337)
    model = MLP(2, [16, 16, 1])
    rows, t0 = [], time.perf_counter()
    for k in range(1, steps + 1):
        loss, acc = step(model, X, y, learning_rate(k - 1, steps))
        if k % every == 0 or k == 1:
            rows.append({"step": k, "live_nodes": stats()["live"], "rss_mb": rss_mb(),
                         "loss": loss, "accuracy": acc, "seconds": time.perf_counter() - t0})
            print("step {step:6d}  live {live_nodes:6d}  rss {rss_mb:7.1f} MB  loss {loss:.4f}"
                  "  acc {accuracy:.2f}  {seconds:7.1f} s".format(**rows[-1]), flush=True)
    return rows


def plot(rows, path):
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
    top.set_title(f"soak: MLP(2, [16, 16, 1]), 100 moons points, {steps[-1]:,} steps")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=10_000)
    p.add_argument("--every", type=int, default=500)
    p.add_argument("--rss-slack", type=float, default=5.0, help="MB of RSS growth allowed")
    p.add_argument("--out", type=Path, default=HERE / "soak", help="prefix of the .csv and .png")
    p.add_argument("--replot", action="store_true", help="plot the existing .csv, no run")
    args = p.parse_args(argv)
    if args.replot:
        with open(args.out.with_suffix(".csv"), newline="") as f:
            rows = [{k: int(v) if k in ("step", "live_nodes") else float(v) for k, v in r.items()}
                    for r in csv.DictReader(f)]
    else:
        rows = soak(args.steps, args.every)
        with open(args.out.with_suffix(".csv"), "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    plot(rows, args.out.with_suffix(".png"))
    warm, last = rows[1] if len(rows) > 1 else rows[0], rows[-1]
    print(f"after warm-up (step {warm['step']}) to step {last['step']}: "
          f"live nodes {warm['live_nodes']} -> {last['live_nodes']}, "
          f"RSS {warm['rss_mb']:.1f} -> {last['rss_mb']:.1f} MB")
    grew = last["live_nodes"] > warm["live_nodes"] or (
        warm["rss_mb"] is not None and last["rss_mb"] - warm["rss_mb"] > args.rss_slack)
    return 1 if grew else 0


if __name__ == "__main__":
    sys.exit(main())
