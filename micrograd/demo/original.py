"""moons --compare: the notebook's training, run under the original micrograd 0.1.0.
Its import name is ours, so it runs in a subprocess whose sys.path puts it first, and
its result comes back as JSON. Not a test oracle (tests/oracle.py is): this one looks
for the original where a user may have it, and says so when it is not there.
"""
import inspect
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


def original_paths():
    """The folders find_original tries before the installed packages: MICROGRAD_ORIGINAL
    (the folder that holds micrograd/, or micrograd/ itself), then the .oracle folders."""
    env = os.environ.get("MICROGRAD_ORIGINAL")
    paths = []
    if env:
        path = Path(env).expanduser().resolve()
        paths.append(path.parent if path.name == "micrograd" and (path / "nn.py").exists()
                     else path)
    return list(dict.fromkeys(paths + ORACLE_DIRS))     # one entry per folder


def find_original():
    """(sys.path entry or None, version) of an importable micrograd 0.1.0, else (None, None)."""
    for path in original_paths() + [None]:
        if path is not None and not (path / "micrograd" / "nn.py").exists():
            continue
        try:
            return path, run_in(path, _PROBE, timeout=60)
        except (RuntimeError, subprocess.TimeoutExpired):
            continue
    return None, None


def original_program(notebook, X, y, seed, hidden, steps, horizon=None, gc_enabled=True):
    """Python source that trains MLP(2, hidden + [1]) under whatever micrograd it imports
    and assigns result = {'losses', 'accuracies', 'seconds', 'repr', 'nparams'}.
    notebook: moons' functions loss, step, learning_rate and train, whose source it runs."""
    funcs = "\n\n".join(inspect.getsource(f) for f in notebook)
    return f"""import gc, random, time
from micrograd.engine import Value
from micrograd.nn import MLP
{'' if gc_enabled else 'gc.disable()'}
{funcs}
X, y = {X!r}, {y!r}
random.seed({seed!r})
model = MLP(2, {list(hidden) + [1]!r})
history = train(model, X, y, {steps!r}, {horizon!r})
result = {{"losses": [h[0] for h in history], "accuracies": [h[1] for h in history],
          "seconds": [h[2] for h in history], "repr": repr(model),
          "nparams": len(model.parameters())}}
"""


def compare(args, X, y, history, notebook, n=3, tol=1e-9):
    """Run the first n steps of moons' notebook functions under micrograd 0.1.0 and print
    how they compare with history, ours; 0 if the losses agree, else 1."""
    if args.activation != "relu":
        print(f"compare: skipped, micrograd 0.1.0 has no {args.activation} neurons")
        return 0
    path, version = find_original()
    if version is None:
        tried = ", ".join(str(p) for p in original_paths())
        print(f"compare: skipped, micrograd 0.1.0 not found in {tried}, nor installed (make "
              "test installs it in .oracle/micrograd-0.1.0; or set MICROGRAD_ORIGINAL to the "
              "folder that holds its micrograd/, or to micrograd/ itself)")
        return 0
    n = min(n, args.steps)
    print(f"compare: {n} steps of micrograd {version} ({path or 'installed'}), "
          f"same data and init, its gc on ...", flush=True)
    try:
        theirs = run_in(path, original_program(notebook, X, y, args.seed, args.hidden, n, args.steps))
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        print(f"compare: micrograd {version} failed: {e}")
        return 1
    ours_ms = sum(h[2] for h in history[:n]) / n * 1e3
    theirs_ms = sum(theirs["seconds"]) / n * 1e3
    diff = max(abs(h[0] - t) for h, t in zip(history, theirs["losses"]))
    same_acc = [h[1] for h in history[:n]] == theirs["accuracies"]
    agree = diff <= tol and same_acc
    print(f"  micrograd {version}: {theirs_ms:.1f} ms/step, this package: {ours_ms:.2f} ms/step"
          f" (first {n} steps): {theirs_ms/ours_ms:.1f}x faster")
    print(f"  losses agree within {tol:g}: {'yes' if diff <= tol else 'NO'} "
          f"(max difference {diff:.3g}); accuracies equal: {'yes' if same_acc else 'NO'}")
    return 0 if agree else 1
