"""Running code under the original micrograd 0.1.0, for --compare: its import name is
ours, so it runs in a subprocess whose sys.path puts it first, and its result comes
back as JSON. Not a test oracle (tests/oracle.py is): this one looks for the original
where a user may have it, and says so when it is not there.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

ORACLE_DIRS = [Path(__file__).resolve().parents[2] / ".oracle" / "micrograd-0.1.0",
               Path.cwd() / ".oracle" / "micrograd-0.1.0"]

_PROBE = """import micrograd.engine, micrograd.nn
assert not hasattr(micrograd.engine, "stats"), "this is micrograd-c, not the original"
try:
    from importlib.metadata import version
    result = version("micrograd")
except Exception:
    result = "unknown version"
"""


def run_in(path, code, timeout=600):
    """Run `code` (which assigns `result`) in a subprocess with `path` first on sys.path
    (None: the interpreter's own path, from /); result comes back through JSON."""
    prefix = "" if path is None else f"sys.path.insert(0, {str(path)!r})\n"
    prog = f"import sys, json\n{prefix}{code}\nprint(json.dumps(result))\n"
    out = subprocess.run([sys.executable, "-c", prog], capture_output=True, text=True,
                         timeout=timeout, cwd="/")
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip().splitlines()[-1] if out.stderr else "failed")
    return json.loads(out.stdout.strip().splitlines()[-1])


def find_original():
    """(sys.path entry or None, version) of an importable micrograd 0.1.0, else (None, None)."""
    env = os.environ.get("MICROGRAD_ORIGINAL")
    for path in ([Path(env)] if env else []) + ORACLE_DIRS + [None]:
        if path is not None and not (path / "micrograd" / "nn.py").exists():
            continue
        try:
            return path, run_in(path, _PROBE, timeout=60)
        except (RuntimeError, subprocess.TimeoutExpired):
            continue
    return None, None
