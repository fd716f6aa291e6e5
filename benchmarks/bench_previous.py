"""previous: this tree against a previous git revision of itself (A/B), on graphs
without Python-defined ops: build (DAG), build (chain) and backward.

The claim it checks: graphs made only of built-in ops pay nothing for the features
added since the baseline (ops defined in Python, attributes, _prev walks); build and
backward run as fast as before.

    MG_BENCH_BASELINE=db19c22 make bench
    MG_BENCH_BASELINE=db19c22 .venv/bin/python -m pytest benchmarks/bench_previous.py

Without MG_BENCH_BASELINE the test skips. Two builds, compiled identically
(`python micrograd/_build.py`, as bench_gil.py; MG_CFLAGS and MG_RELEASE_GIL
cleared), each in a scratch directory under /tmp/mg-bench-previous, neither the
installed package:
  baseline   `git archive <rev> csrc micrograd`, in <full sha>/ (cached by the sha)
  this tree  a copy of csrc/ and micrograd/ as they are now, committed or not, in
             tree-<hash of the copied files>/ (cached by their contents)
Other directories there (older trees, other baselines) are removed. Both run
interleaved through PYTHONPATH with this tree's peers.py (the baseline has the same
public API: Value and its operators are all the scenarios use).
"""
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from harness import ROOT, interleave, size

SCRATCH = Path("/tmp/mg-bench-previous")
BASELINE = os.environ.get("MG_BENCH_BASELINE", "").strip()
SKIP_MSG = ("A/B against a previous revision: set MG_BENCH_BASELINE to a git revision, e.g. "
            "`MG_BENCH_BASELINE=db19c22 make bench` or `MG_BENCH_BASELINE=db19c22 "
            ".venv/bin/python -m pytest benchmarks/bench_previous.py`")
# build products and caches: not sources, never copied from this tree
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.so", "*.o", "*.pyd", "_mg.c", "build")


def git(*args):
    return subprocess.run(["git", "-C", str(ROOT), *args], check=True, capture_output=True,
                          text=True).stdout.strip()


def compile_in(where):
    """Compile the package copied into `where` as bench_gil.py does; `where`."""
    env = {k: v for k, v in os.environ.items() if k not in ("MG_CFLAGS", "MG_RELEASE_GIL")}
    proc = subprocess.run([sys.executable, "micrograd/_build.py"], cwd=where, env=env,
                          capture_output=True, text=True)
    if proc.returncode != 0 or not built(where):
        shutil.rmtree(where, ignore_errors=True)
        pytest.fail(f"compiling {where} failed (exit {proc.returncode}):\n"
                    + "\n".join((proc.stdout + proc.stderr).splitlines()[-20:]), pytrace=False)
    return where


def built(where):
    return bool(list((where / "micrograd").glob("_mg*.so")))


def baseline_build(sha):
    """`git archive <sha> csrc micrograd` extracted and compiled; its directory."""
    where = SCRATCH / sha
    if not built(where):
        shutil.rmtree(where, ignore_errors=True)
        where.mkdir(parents=True)
        tar = subprocess.run(["git", "-C", str(ROOT), "archive", sha, "csrc", "micrograd"],
                             check=True, capture_output=True).stdout
        with tarfile.open(fileobj=io.BytesIO(tar)) as t:
            if hasattr(tarfile, "data_filter"):     # Python 3.12+, and 3.9-3.11 backports
                t.extractall(where, filter="data")
            else:
                t.extractall(where)
        compile_in(where)
    return where


def tree_files():
    """This tree's csrc/ and micrograd/ files a copy takes (relative paths), sorted."""
    out = []
    for top in ("csrc", "micrograd"):
        for dirpath, dirnames, filenames in os.walk(ROOT / top):
            rel = Path(dirpath).relative_to(ROOT)
            skip = IGNORE(dirpath, dirnames + filenames)
            dirnames[:] = sorted(d for d in dirnames if d not in skip)
            out += [rel / f for f in filenames if f not in skip]
    return sorted(out)


def tree_build():
    """A copy of this tree's csrc/ and micrograd/ compiled; its directory."""
    files = tree_files()
    key = hashlib.sha256()
    for rel in files:
        key.update(str(rel).encode() + b"\0" + (ROOT / rel).read_bytes() + b"\0")
    where = SCRATCH / f"tree-{key.hexdigest()[:16]}"
    if not built(where):
        shutil.rmtree(where, ignore_errors=True)
        for rel in files:
            (where / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(ROOT / rel, where / rel)
        compile_in(where)
    return where


@pytest.fixture(scope="module")
def builds():
    """{label: directory} for this tree and the baseline, and facts for the report."""
    if not BASELINE:
        pytest.skip(SKIP_MSG)
    try:
        sha = git("rev-parse", "--verify", "--end-of-options", BASELINE + "^{commit}")
    except subprocess.CalledProcessError as e:
        error = e.stderr.strip()
    else:
        error = None
    if error is not None:
        pytest.fail(f"MG_BENCH_BASELINE={BASELINE!r} is not a commit of {ROOT}: {error}",
                    pytrace=False)
    short = sha[:7]
    SCRATCH.mkdir(parents=True, exist_ok=True)
    this, base = "this tree", f"baseline {short}"
    dirs = {this: tree_build(), base: baseline_build(sha)}
    for old in set(SCRATCH.iterdir()) - set(dirs.values()):    # other baselines, older trees
        shutil.rmtree(old, ignore_errors=True)
    head = git("rev-parse", "--short=7", "HEAD")
    dirty = bool(git("status", "--porcelain", "--", "csrc", "micrograd"))
    facts = {"this_label": this, "baseline_label": base,
             "baseline": short, "baseline_rev": BASELINE, "baseline_sha": sha,
             "baseline_subject": git("log", "-1", "--format=%s", sha),
             "head": head, "dirty": dirty,
             "tree": f"HEAD {head}" + (" + uncommitted changes in csrc/ or micrograd/"
                                       if dirty else "")}
    return dirs, facts


def ab(benchmark, builds, scenario, unit, primary):
    """`scenario` of peers.py for both builds, interleaved; reported as previous-<scenario>."""
    dirs, facts = builds
    impls = {label: {"impl": "ours", "pythonpath": str(where)} for label, where in dirs.items()}
    interleave(benchmark, scenario, {"n_ops": size(200_000, 50_000), "reps": 1}, impls=impls,
               rounds=size(7, 2), unit=unit, primary=primary)
    benchmark.extra_info["scenario"] = f"previous-{scenario}"
    benchmark.extra_info["ab"] = facts


def test_previous_build(benchmark, builds):
    ab(benchmark, builds, "build", "ns/op", "ns_per_op")


def test_previous_build_chain(benchmark, builds):
    ab(benchmark, builds, "build_chain", "ns/op", "ns_per_op")


def test_previous_backward(benchmark, builds):
    ab(benchmark, builds, "backward", "ns/node", "ns_per_node")
