"""Run code under the original micrograd 0.1.0 (the behavioural oracle), in a subprocess.

Its import name is ours, so it is installed with `pip install --target .oracle/...`
(make test does it) and imported only in a child process whose sys.path puts it first.
"""
import json
import subprocess
import sys
import textwrap
from pathlib import Path

ORACLE = Path(__file__).resolve().parents[1] / ".oracle" / "micrograd-0.1.0"


def run_original(code, timeout=600):
    """Execute `code` with micrograd 0.1.0 importable; it must assign `result`.

    `result` travels back as JSON (floats round-trip exactly, ints stay ints).
    """
    if not (ORACLE / "micrograd" / "engine.py").exists():
        raise RuntimeError(f"micrograd 0.1.0 is not installed in {ORACLE}: run `make test`")
    prog = "import sys, json\nsys.path.insert(0, %r)\n%s\nprint(json.dumps(result))\n" % (
        str(ORACLE), textwrap.dedent(code))
    out = subprocess.run([sys.executable, "-c", prog], capture_output=True, text=True,
                         timeout=timeout, cwd="/")
    if out.returncode != 0:
        raise RuntimeError(f"oracle failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])
