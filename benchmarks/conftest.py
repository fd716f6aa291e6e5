"""pytest set-up for benchmarks/: collect bench_*.py, and describe the machine.

The machine description (CPU, cores, Python, gcc, the engine's compile flags,
load average) and the command go into pytest-benchmark's JSON, for report.py.
Not here: the runner (harness.py) and the measured code (peers.py).
"""
import importlib.util
import os
import subprocess
import sys
from datetime import datetime, timezone

import pytest

from harness import QUICK, ROOT
from micrograd.bench.runner import cpu_model


def pytest_collect_file(file_path, parent):
    # a file named on the command line is collected by pytest itself
    if file_path.suffix == ".py" and file_path.name.startswith("bench_") \
            and not parent.session.isinitpath(file_path):
        return pytest.Module.from_parent(parent, path=file_path)
    return None


def _gcc_version():
    try:
        out = subprocess.run(["gcc", "--version"], capture_output=True, text=True)
        return out.stdout.splitlines()[0]
    except (OSError, IndexError):
        return "unknown"


def _compile_flags():
    """compile_args() of micrograd/_build.py (MG_CFLAGS included), loaded from its file."""
    spec = importlib.util.spec_from_file_location("_mg_build", ROOT / "micrograd" / "_build.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    return " ".join(build.compile_args())


def pytest_sessionstart(session):
    session.config._mg_loadavg_start = os.getloadavg()


def pytest_benchmark_update_machine_info(config, machine_info):
    machine_info["mg"] = {
        "cpu_model": cpu_model(),
        "cores": os.cpu_count(),
        "python": sys.version.split()[0],
        "gcc": _gcc_version(),
        "compile_flags": _compile_flags(),
        "gil": "released by cffi (MG_RELEASE_GIL)" if os.environ.get("MG_RELEASE_GIL")
               else "kept across calls (default)",
        "loadavg_start": getattr(config, "_mg_loadavg_start", None),
    }


def pytest_benchmark_update_json(config, benchmarks, output_json):
    make = os.environ.get("MAKELEVEL") and ("make bench-quick" if QUICK else "make bench")
    output_json["mg"] = {
        "command": " ".join(["python -m pytest"] + sys.argv[1:]),
        "make": make or None,
        "quick": QUICK,
        "note": os.environ.get("MG_BENCH_NOTE", ""),
        "finished": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "loadavg_end": os.getloadavg(),
    }
