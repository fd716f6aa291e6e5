"""Fresh processes, interleaved rounds, and the machine: what every benchmark run needs.

run_job runs one job in its own process (this folder's worker.py, or the checkout's
benchmarks/peers.py); interleaved() runs jobs round after round, the order rotating by
one each round, so that no implementation always follows the same other one. fmt and
ratio format numbers for tables (benchmarks/report.py uses them too).
Not here: what is measured (scenarios.py) or which jobs (cli.py, benchmarks/bench_*.py).
"""
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

WORKER = Path(__file__).resolve().parent / "worker.py"


def run_job(job, script=WORKER, env=None, timeout=1800):
    """Run one job in a fresh process (`python script '<job>'`, from /); its JSON result,
    or a record whose "error" says what went wrong."""
    try:
        proc = subprocess.run([sys.executable, str(script), json.dumps(job)], capture_output=True,
                              text=True, cwd="/", env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"metrics": {}, "info": {}, "module": None, "error": f"timed out after {timeout} s"}
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"metrics": {}, "info": {}, "module": None,
                "error": f"crashed (exit {proc.returncode}): {tail}"}
    return json.loads(lines[-1])


def rotated(labels, r):
    """Round r's order of labels: A B C, then B C A, then C A B, ..."""
    labels = list(labels)
    return labels[r % len(labels):] + labels[:r % len(labels)]


def median(xs):
    return statistics.median(xs) if xs else None


def fmt(x):
    """Three significant figures, thousands separated: 13,300 / 812 / 41.7 / 0.524."""
    if x is None:
        return "-"
    if abs(x) >= 100:
        return f"{x:,.0f}" if abs(x) < 1000 else f"{float(f'{x:.3g}'):,.0f}"
    return f"{x:.3g}"


def ratio(ref, x):
    """ref / x as 16.2x, or 1/111x when x is the slower."""
    if not ref or not x:
        return "-"
    return f"{fmt(ref / x)}x" if ref >= x else f"1/{fmt(x / ref)}x"


# ---------------------------------------------------------------- the machine

def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine():
    """What the numbers depend on: CPU, cores, OS, Python, this build of micrograd-c."""
    import micrograd
    from micrograd._mg import ffi, lib
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {"cpu_model": cpu_model(), "cores": os.cpu_count(),
            "os": f"{platform.system()} {platform.release()} {platform.machine()}",
            "python": f"{platform.python_implementation()} {platform.python_version()}",
            "micrograd_c": micrograd.__version__, "micrograd_file": micrograd.__file__,
            "build": ffi.string(lib.mg_build_info()).decode(),
            "loadavg": list(load) if load else None}
