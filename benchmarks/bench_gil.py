"""gil: what the thread-safety choice in micrograd/_build.py costs per op (build, ns/op).

Three builds of the same sources, each compiled in its own scratch copy under
/tmp/mg-bench-gil (cached by a hash of the sources and flags; the installed
package is never touched), run interleaved through PYTHONPATH:
  default         the wrappers keep the GIL; the arena's mutex stays, uncontended
  MG_NO_LOCK      the GIL kept, no mutex (MG_CFLAGS=-DMG_NO_LOCK: not thread-safe)
  MG_RELEASE_GIL  cffi releases and re-takes the GIL around every call; the mutex guards
"""
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from harness import ROOT, interleave, size

SCRATCH = Path("/tmp/mg-bench-gil")
VARIANTS = {"default (GIL kept, mutex)": {},
            "MG_CFLAGS=-DMG_NO_LOCK (GIL kept, no mutex)": {"MG_CFLAGS": "-DMG_NO_LOCK"},
            "MG_RELEASE_GIL=1 (GIL released, mutex)": {"MG_RELEASE_GIL": "1"}}


def sources():
    """The files a build depends on: csrc/ and the package's Python modules."""
    return sorted(p for p in ROOT.glob("csrc/*") if p.is_file()) + sorted(ROOT.glob("micrograd/*.py"))


def scratch_build(flags):
    """A copy of the package compiled with `flags` (env vars); its directory."""
    key = hashlib.sha256(repr(sorted(flags.items())).encode())
    for path in sources():
        key.update(path.name.encode() + path.read_bytes())
    where = SCRATCH / key.hexdigest()[:16]
    if not list((where / "micrograd").glob("_mg*.so")):
        shutil.rmtree(where, ignore_errors=True)
        for path in sources():
            dest = where / path.relative_to(ROOT)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, dest)
        env = {k: v for k, v in os.environ.items() if k not in ("MG_CFLAGS", "MG_RELEASE_GIL")}
        subprocess.run([sys.executable, "micrograd/_build.py"], cwd=where, env={**env, **flags},
                       check=True, capture_output=True)
    return where


def test_gil(benchmark):
    builds = {label: scratch_build(flags) for label, flags in VARIANTS.items()}
    for old in set(SCRATCH.iterdir()) - set(builds.values()):    # builds of older sources
        shutil.rmtree(old, ignore_errors=True)
    impls = {label: {"impl": "ours", "pythonpath": str(where)} for label, where in builds.items()}
    interleave(benchmark, "build", {"n_ops": size(200_000, 50_000), "reps": 1}, impls=impls,
               rounds=size(5, 2), unit="ns/op", primary="ns_per_op")
    benchmark.extra_info["scenario"] = "gil"
