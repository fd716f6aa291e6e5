"""Run code under the original micrograd 0.1.0 (the behavioural oracle), in a subprocess.

Its import name is ours, so it is installed with `pip install --target .oracle/...`
(make test does it) and imported only in a child process whose sys.path puts it first.
Without it (`pip install -e '.[test]' && pytest`), tests that need it skip and say how
to get it; under `make test` (MG_REQUIRE_ORACLE=1) a missing oracle fails instead.
"""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ORACLE = Path(__file__).resolve().parents[1] / ".oracle" / "micrograd-0.1.0"
HOW = (f"micrograd 0.1.0, the oracle, is not installed in {ORACLE}: run `make test`, or "
       f"`python -m pip install --target {ORACLE} micrograd==0.1.0`")


def require_original():
    """Skip the calling test (fail under make test) unless the oracle is installed."""
    if not (ORACLE / "micrograd" / "engine.py").exists():
        if os.environ.get("MG_REQUIRE_ORACLE"):
            pytest.fail(HOW)
        pytest.skip(HOW)


def run_original(code, timeout=600):
    """Execute `code` with micrograd 0.1.0 importable; it must assign `result`.

    `result` travels back as JSON (floats round-trip exactly, ints stay ints).
    """
    require_original()
    prog = "import sys, json\nsys.path.insert(0, %r)\n%s\nprint(json.dumps(result))\n" % (
        str(ORACLE), textwrap.dedent(code))
    out = subprocess.run([sys.executable, "-c", prog], capture_output=True, text=True,
                         timeout=timeout, cwd="/")
    if out.returncode != 0:
        raise RuntimeError(f"oracle failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])
