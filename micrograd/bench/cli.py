"""The command `python -m micrograd.bench`: which jobs, in what order, and the table.

    python -m micrograd.bench [--quick] [--reference DIR] [--json FILE] [--rounds N]

Columns: micrograd-c (rows: eager, your code unchanged; fast path), micrograd 0.1.0 and
PyTorch nn.Linear (float64, one thread), each with the ratio to the row. A column this
machine cannot measure is named under the table with the reason; progress goes to
stderr, the table to stdout. Exit status 1 if a measurement failed.
Not here: the measured code (scenarios.py), processes and machine (runner.py).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
import time
from pathlib import Path

from micrograd.bench.runner import fmt, machine, median, rotated, run_job

LABELS = {"ours": "micrograd-c", "mg010": "micrograd 0.1.0", "torch-vec": "PyTorch nn.Linear"}
ROWS = [("ours", "eager (your code)"), ("ours-fast", "fast path")]
HOW = ("eager: your code unchanged, a new graph each step (scenarios.value_step). fast path: "
       "MLP(..., fused=True), the graph built once, then each step loss.forward() (a replay "
       "in C), backward and optim.SGD. PyTorch: nn.Linear layers, float64, one thread.")
WIDTH = 100
NO_REFERENCE = ("pass --reference DIR, a folder where "
                "`pip install --target DIR micrograd==0.1.0` put it")


def scenarios(quick):
    """[(key, what, job, {impl: (timed steps, warm-up steps)})]: the same sizes in
    both modes, fewer steps when quick. micrograd 0.1.0 takes seconds a step."""
    q = lambda full, short: short if quick else full
    return [
        ("demo", "demo: MLP(2, [16, 16, 1]), 100 points", {"scenario": "demo", "samples": 100},
         {"ours": (q(10, 3), 1), "ours-fast": (q(100, 30), 2), "torch-vec": (q(100, 20), 5),
          "mg010": (q(2, 1), q(1, 0))}),
        ("mlp64", "MLP(64, [64, 64, 10]), batch 32",
         {"scenario": "larger", "nin": 64, "nouts": [64, 64, 10], "batch": 32},
         {"ours": (q(3, 2), 1), "ours-fast": (q(30, 10), 2), "torch-vec": (q(50, 10), 5),
          "mg010": (1, 0)}),
    ]


def torch_version():
    """PyTorch's version, or None if it cannot be imported."""
    try:
        import torch
    except ImportError:
        return None
    return torch.__version__


def check_reference(folder):
    """The absolute folder holding micrograd 0.1.0's package, or SystemExit saying why not."""
    path = Path(folder).resolve()
    if not (path / "micrograd" / "engine.py").is_file():
        sys.exit(f"--reference {folder}: no micrograd/engine.py in it; make it with "
                 f"`pip install --target {folder} micrograd==0.1.0`")
    if (path / "micrograd" / "_build.py").is_file():
        sys.exit(f"--reference {folder}: that is micrograd-c, not micrograd 0.1.0")
    return str(path)


def measure(plan, impls, rounds, reference, progress):
    """{key: {impl: record}}, every scenario's implementations interleaved over rounds."""
    import micrograd
    ours = os.path.dirname(micrograd.__file__)
    results = {key: {impl: {"ms_per_step": [], "per_round": [], "errors": [], "module": None}
                     for impl in impls} for key, *_ in plan}
    for r in range(rounds):
        for key, _, params, steps in plan:
            for impl in rotated(impls, r):
                progress(f"round {r + 1}/{rounds}: {key}, {impl}")
                timed, warmup = steps[impl]
                job = {**params, "impl": impl, "steps": timed, "warmup": warmup,
                       "reference": reference}
                out = run_job(job, timeout=1200)
                where = {"mg010": reference, "torch-vec": ""}.get(impl, ours)
                if out["module"] and not out["module"].startswith(os.path.join(where, "")):
                    out["error"] = f"imported {out['module']}, not micrograd from {where}"
                rec = results[key][impl]
                rec["module"], rec["steps"], rec["warmup"] = out["module"], timed, warmup
                if out["error"]:
                    rec["errors"].append(out["error"])
                    continue
                samples = out["metrics"].get("ms_per_step", [])
                rec["ms_per_step"] += samples
                rec["per_round"].append(samples)
    for by_impl in results.values():
        for rec in by_impl.values():
            rec["median"] = median(rec["ms_per_step"])
    return results


def times(ref, x):
    """How x compares with ref: '34x faster', '1.7x slower', '-' if either is missing."""
    if not ref or not x:
        return "-"
    return f"{fmt(ref / x)}x faster" if ref >= x else f"{fmt(x / ref)}x slower"


def table(plan, results, unmeasured, rounds):
    """The lines of the table, its notes and nothing else."""
    head = ["ms per training step", LABELS["ours"], LABELS["mg010"], "vs 0.1.0",
            LABELS["torch-vec"], "vs PyTorch"]
    rows = []
    for key, what, _, _ in plan:
        res = results[key]
        ref = res.get("mg010", {}).get("median")
        torch = res.get("torch-vec", {}).get("median")
        rows.append([what])
        for impl, how in ROWS:
            this = res[impl]["median"]
            rows.append([f"  {how}", fmt(this), fmt(ref), times(ref, this), fmt(torch),
                         times(torch, this)])
    widths = [max(len(r[i]) for r in [head] + rows if len(r) > 1) for i in range(len(head))]
    line = lambda cells: cells[0] if len(cells) == 1 else "  ".join(
        c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))
    out = [line(head), line(["-" * w for w in widths])] + [line(r) for r in rows]
    out += [""] + textwrap.wrap(
        f"Medians of every timed step of {rounds} interleaved rounds, each implementation "
        f"in a fresh process per round; lower is better. {HOW}", WIDTH)
    for impl, why in unmeasured.items():
        out += textwrap.wrap(f"not measured: {LABELS[impl]}: {why}", WIDTH,
                             subsequent_indent="    ")
    for key, what, _, _ in plan:
        for impl, rec in results[key].items():
            for err in sorted(set(rec["errors"])):
                out.append(f"failed: {LABELS.get(impl, impl)}, {what}: {err}")
    return out


def machine_lines(info, torch):
    return [f"machine: {info['cpu_model']}, {info['cores']} cores, {info['os']}; "
            f"load average {', '.join(f'{x:.2f}' for x in info['loadavg'] or [])}",
            f"python:  {info['python']} ({sys.executable})",
            f"engine:  micrograd-c {info['micrograd_c']}, {info['build']}",
            f"torch:   {torch or 'not installed'}"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m micrograd.bench", description=__doc__.split(
        "\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer steps and rounds (~20 s)")
    ap.add_argument("--reference", metavar="DIR",
                    help="time micrograd 0.1.0 too, from DIR (pip install --target DIR "
                         "micrograd==0.1.0)")
    ap.add_argument("--json", metavar="FILE", help="write the raw numbers to FILE")
    ap.add_argument("--rounds", type=int, help="interleaved rounds (default 3, quick 2)")
    args = ap.parse_args(argv)
    rounds = args.rounds or (2 if args.quick else 3)
    if rounds < 1:
        ap.error("--rounds must be at least 1")
    reference = check_reference(args.reference) if args.reference else None
    torch = torch_version()
    impls, unmeasured = ["ours", "ours-fast"], {}
    if reference:
        impls.append("mg010")
    else:
        unmeasured["mg010"] = NO_REFERENCE
    if torch:
        impls.append("torch-vec")
    else:
        unmeasured["torch-vec"] = "torch not installed (pip install torch)"
    plan = scenarios(args.quick)
    t0 = time.perf_counter()
    results = measure(plan, impls, rounds, reference,
                      lambda text: print(text, file=sys.stderr, flush=True))
    info = machine()
    lines = table(plan, results, unmeasured, rounds) + [""] + machine_lines(info, torch)
    print("\n".join(lines + [f"took {time.perf_counter() - t0:.0f} s"]))
    if args.json:
        doc = {"command": ["python", "-m", "micrograd.bench"] + (argv or sys.argv[1:]),
               "quick": args.quick, "rounds": rounds, "machine": info, "torch": torch,
               "reference": reference, "unmeasured": unmeasured, "unit": "ms_per_step",
               "scenarios": {key: {"what": what, "job": params, "results": results[key]}
                             for key, what, params, _ in plan}}
        Path(args.json).write_text(json.dumps(doc, indent=1) + "\n")
    failed = any(rec["errors"] for by_impl in results.values() for rec in by_impl.values())
    return 1 if failed else 0
