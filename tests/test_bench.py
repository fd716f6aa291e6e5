"""`python -m micrograd.bench`: it runs, its table is its numbers, and it names what it
could not measure and why (no torch: "torch not installed"; no --reference: "pass
--reference DIR"). Nothing about speed is checked. The run from a fresh venv with the
wheel is in test_packaging.py (slow); with micrograd 0.1.0 (--reference) it is slow here.
"""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from micrograd.bench import cli
from micrograd.bench.runner import fmt, median

ROOT = Path(__file__).resolve().parents[1]
ORACLE = ROOT / ".oracle" / "micrograd-0.1.0"
IMPLS = {"ours": "micrograd-c", "ours-fast": "micrograd-c", "torch-vec": "PyTorch nn.Linear",
         "mg010": "micrograd 0.1.0"}


def bench(args, tmp_path, env=None):
    """(exit status, stdout, the --json document) of python -m micrograd.bench args."""
    out_json = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, "-m", "micrograd.bench", *args, "--json", out_json],
                          capture_output=True, text=True, cwd="/", timeout=900,
                          env={**os.environ, **(env or {})})
    doc = json.loads(out_json.read_text()) if out_json.exists() else None
    return proc.returncode, proc.stdout + proc.stderr, doc


def hidden_torch(tmp_path):
    """PYTHONPATH for processes in which `import torch` fails, as where it is not installed."""
    shim = tmp_path / "no-torch"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text("import sys\nsys.modules['torch'] = None\n")
    return {"PYTHONPATH": os.pathsep.join([str(shim), os.environ.get("PYTHONPATH", "")])}


def table_rows(text):
    """{(scenario key, impl): [cells]} of the table's step rows."""
    rows, key = {}, None
    for line in text.splitlines():
        for k, what, _, _ in cli.scenarios(True):
            if line == what:
                key = k
        m = re.match(r"  (eager \(your code\)|fast path)\s+(.*)", line)
        if m and key:
            impl = "ours" if m.group(1).startswith("eager") else "ours-fast"
            rows[key, impl] = re.split(r"\s{2,}", m.group(2).strip())
    return rows


def check_table_is_the_json(text, doc, measured):
    """Every measured column's cells are the medians of the JSON's samples; the others '-'."""
    rows = table_rows(text)
    assert len(rows) == 2 * len(doc["scenarios"]) == 4, text
    for (key, impl), cells in rows.items():
        res = doc["scenarios"][key]["results"]
        for col, name in ((0, impl), (1, "mg010"), (3, "torch-vec")):
            if name in measured:
                samples = res[name]["ms_per_step"]
                assert len(samples) == doc["rounds"] * res[name]["steps"]
                assert cells[col] == fmt(median(samples))
            else:
                assert name not in res and cells[col] == "-"


def test_quick_bench_with_torch_names_the_reference_it_was_not_given(tmp_path):
    pytest.importorskip("torch")
    status, text, doc = bench(["--quick"], tmp_path)
    assert status == 0, text
    check_table_is_the_json(text, doc, {"ours", "ours-fast", "torch-vec"})
    assert "not measured: micrograd 0.1.0: pass --reference DIR" in text
    assert "not measured: PyTorch" not in text and "failed" not in text
    assert doc["torch"] and doc["unmeasured"] == {"mg010": cli.NO_REFERENCE}
    assert doc["rounds"] == 2 and doc["quick"] is True
    assert {"cpu_model", "cores", "python", "build"} <= set(doc["machine"])
    assert f"engine:  micrograd-c {doc['machine']['micrograd_c']}, {doc['machine']['build']}" \
        in text


def test_quick_bench_without_torch_says_torch_is_not_installed(tmp_path):
    status, text, doc = bench(["--quick", "--rounds", "1"], tmp_path, env=hidden_torch(tmp_path))
    assert status == 0, text
    check_table_is_the_json(text, doc, {"ours", "ours-fast"})
    assert "not measured: PyTorch nn.Linear: torch not installed" in text
    assert "not measured: micrograd 0.1.0: pass --reference DIR" in text
    assert doc["torch"] is None and set(doc["unmeasured"]) == {"mg010", "torch-vec"}
    assert "torch:   not installed" in text


@pytest.mark.slow
@pytest.mark.skipif(not (ORACLE / "micrograd").is_dir(), reason="needs .oracle (make test)")
def test_quick_bench_beside_micrograd_0_1_0(tmp_path):
    status, text, doc = bench(["--quick", "--rounds", "1", "--reference", ORACLE], tmp_path,
                              env=hidden_torch(tmp_path))
    assert status == 0, text
    check_table_is_the_json(text, doc, {"ours", "ours-fast", "mg010"})
    assert "not measured: micrograd 0.1.0" not in text
    assert doc["reference"] == str(ORACLE.resolve())
    assert all(r["mg010"]["module"].startswith(str(ORACLE.resolve()))
               for r in (s["results"] for s in doc["scenarios"].values()))


@pytest.mark.parametrize("make, message", [
    (lambda d: d, "no micrograd/engine.py in it"),
    (lambda d: (d / "micrograd").mkdir() or (d / "micrograd" / "engine.py").touch()
     or (d / "micrograd" / "_build.py").touch() or d, "that is micrograd-c"),
])
def test_a_wrong_reference_folder_is_refused_before_anything_runs(tmp_path, make, message):
    status, text, doc = bench(["--quick", "--reference", make(tmp_path)], tmp_path)
    assert status == 1 and message in text and doc is None
    assert "round 1" not in text


def test_the_table_names_failed_and_unmeasured_columns():
    plan = cli.scenarios(True)
    ok = {"ms_per_step": [2.0, 1.0, 3.0], "errors": [], "median": 2.0}
    bad = {"ms_per_step": [], "errors": ["crashed (exit 1): boom"], "median": None}
    results = {key: {"ours": ok, "ours-fast": ok, "torch-vec": bad} for key, *_ in plan}
    lines = cli.table(plan, results, {"mg010": "because"}, 1)
    assert "not measured: micrograd 0.1.0: because" in lines
    failed = [x for x in lines if x.startswith("failed: PyTorch nn.Linear")]
    assert len(failed) == 2 and all(x.endswith("crashed (exit 1): boom") for x in failed)
    rows = table_rows("\n".join(lines))
    assert all(cells == ["2", "-", "-", "-", "-"] for cells in rows.values()), rows


def test_times_says_faster_or_slower():
    assert cli.times(10.0, 2.0) == "5x faster"
    assert cli.times(2.0, 10.0) == "5x slower"
    assert cli.times(None, 1.0) == "-"
