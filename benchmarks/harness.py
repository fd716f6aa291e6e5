"""The benchmark runner: implementations interleaved, each run in a fresh process.

interleave() is called by every bench_*.py test. It runs `rounds` rounds through
pytest-benchmark's pedantic mode; one round runs each implementation once, the
order rotating by one each round (A B C, B C A, C A B, ...: no implementation
always runs right after the same other one), each as a fresh `python peers.py`
process that times its own work with time.perf_counter. pytest-benchmark's own
time is therefore that of a whole round, process starts included, and is not a
result: the per-implementation samples go to benchmark.extra_info, which
report.py turns into tables and ratios. All ratios come from one run.

Quick mode (MG_BENCH_QUICK=1): smaller sizes and fewer rounds, for checking that
a change did not break or slow things; its numbers are not the ones we publish.
"""
import os
from pathlib import Path

from micrograd.bench import runner  # the process runner python -m micrograd.bench uses too

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PEERS = HERE / "peers.py"
QUICK = os.environ.get("MG_BENCH_QUICK", "") not in ("", "0")

LABELS = {
    "ours": "micrograd-c (ours)",
    "ours-fast": "micrograd-c fast path (fused + replay + C optimizer)",
    "mg010": "micrograd 0.1.0 (GC on, its default)",
    "mg010-nogc": "micrograd 0.1.0 (GC off)",
    "torch-scalar": "PyTorch op for op (0-d float64)",
    "torch-vec": "PyTorch vectorised (nn.Linear float64)",
    "ours-batch": "micrograd-c Batch (one example's graph over the rows, fused, 1 thread)",
    "ours-batch-2t": "micrograd-c Batch, 2 threads",
    "ours-replay": "micrograd-c replay path (a graph of B copies, fused, replayed)",
    "torch-vec-2t": "PyTorch nn.Linear float64, 2 threads",
    "numpy": "numpy by hand (one BLAS thread)",
}


def size(full, quick):
    """The full-run value, or the quick-mode one."""
    return quick if QUICK else full


def run_job(job, env=None, timeout=1800):
    """Run one peers.py job in a fresh process; its JSON result, or an error record."""
    return runner.run_job(job, PEERS, env, timeout)


def interleave(benchmark, scenario, params, impls, rounds, unit, primary):
    """Run `scenario` for every implementation, interleaved over `rounds` rounds.

    impls: {label: overrides}; overrides may set "impl" (default: the label),
    "rounds" (fewer for a slow peer), "pythonpath" (an alternative build of
    ours), and any job parameter (steps, warmup, ...).
    """
    rows = {label: {"metrics": {}, "per_round": {}, "errors": [], "info": {}, "module": None,
                    "job": None} for label in impls}
    state = {"round": 0}

    def one_round():
        r = state["round"]
        state["round"] += 1
        for label in runner.rotated(impls, r):
            over = impls[label]
            if r >= over.get("rounds", rounds):
                continue
            job = {**params, "scenario": scenario, "impl": label,
                   **{k: v for k, v in over.items() if k not in ("rounds", "pythonpath")}}
            env = None
            if "pythonpath" in over:
                env = {**os.environ, "PYTHONPATH": over["pythonpath"]}
            out = run_job(job, env)
            row = rows[label]
            row["job"], row["info"] = job, out["info"] or row["info"]
            row["module"] = out["module"]
            if "pythonpath" in over and out["module"] and \
                    not out["module"].startswith(over["pythonpath"]):
                out["error"] = f"imported {out['module']}, not the build in {over['pythonpath']}"
            if out["error"]:
                row["errors"].append(out["error"])
            for name, samples in out["metrics"].items():
                row["metrics"].setdefault(name, []).extend(samples)
                row["per_round"].setdefault(name, []).append(samples)

    benchmark.pedantic(one_round, rounds=rounds, iterations=1, warmup_rounds=0)
    benchmark.extra_info.update({
        "scenario": scenario, "params": params, "rounds": rounds, "quick": QUICK,
        "unit": unit, "primary": primary, "rows": rows,
        "labels": {label: LABELS.get(label, LABELS.get(over.get("impl", label), label))
                   for label, over in impls.items()},
    })
    return rows
