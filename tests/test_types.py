"""Types for editors and checkers: mypy --strict accepts the README's examples and a
small training script (tests/typing/train.py), and reports each deliberate error of
tests/typing/wrong.py, on its line and nowhere else. One mypy run checks them all.

micrograd is found as users find it: installed, through its py.typed (PEP 561); from a
source checkout (an editable install, whose import hook mypy cannot follow), through
MYPYPATH. Errors inside micrograd's own modules are not the users' (follow_imports=silent).
"""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import micrograd
from test_readme import BLOCKS

TYPING = Path(__file__).resolve().parent / "typing"
# a block that adds methods to Value at run time (`Value.sin = sin`) is micrograd's way of
# defining an op, which no type checker follows: the only README block not checked
DYNAMIC = re.compile(r"^Value\.\w+ = ", re.M)
CHECKED = [code for code in BLOCKS if not DYNAMIC.search(code)]


def test_all_but_the_block_that_adds_an_op_at_run_time_are_checked():
    assert len(BLOCKS) - len(CHECKED) == 1 and len(CHECKED) >= 5


@pytest.fixture(scope="module")
def mypy(tmp_path_factory):
    """{file name: [(line, message)]} of one mypy --strict run over the README's blocks
    (readme<k>.py), train.py and wrong.py."""
    pytest.importorskip("mypy", reason="needs mypy: pip install mypy (the test extra has it)")
    tmp = tmp_path_factory.mktemp("mypy")
    files = [TYPING / "train.py", TYPING / "wrong.py"]
    for k, code in enumerate(CHECKED):
        files.append(tmp / f"readme{k}.py")
        files[-1].write_text(code)
    (tmp / "mypy.ini").write_text("[mypy]\nstrict = True\n\n[mypy-micrograd.*]\n"
                                  "follow_imports = silent\n")
    root = Path(micrograd.__file__).resolve().parents[1]
    env = {k: v for k, v in os.environ.items() if k != "MYPYPATH"}
    if (root / "setup.py").exists():            # a checkout, not site-packages
        env["MYPYPATH"] = str(root)
    proc = subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(tmp / "mypy.ini"),
                           "--cache-dir", str(tmp / "cache"), "--no-error-summary",
                           "--show-error-codes", *map(str, files)],
                          capture_output=True, text=True, cwd=tmp, env=env, timeout=600)
    assert proc.returncode in (0, 1) and not proc.stderr, proc.stdout + proc.stderr
    errors = {f.name: [] for f in files}
    for line in proc.stdout.splitlines():
        m = re.match(r"(.+?):(\d+): (error|note): (.*)", line)
        assert m, line                          # errors and their notes, no crash
        if m.group(3) == "error":
            errors[Path(m.group(1)).name].append((int(m.group(2)), m.group(4)))
    return errors


@pytest.mark.parametrize("k", range(len(CHECKED)))
def test_mypy_strict_accepts_the_readme_example(mypy, k):
    assert mypy[f"readme{k}.py"] == []


def test_mypy_strict_accepts_a_training_script(mypy):
    assert mypy["train.py"] == []


def test_mypy_reports_every_deliberate_error_and_nothing_else(mypy):
    lines = (TYPING / "wrong.py").read_text().splitlines()
    marked = {(n, m.group(1)) for n, line in enumerate(lines, 1)
              if (m := re.search(r"  # error \[([\w-]+)\]: ", line))}
    assert len(marked) >= 10
    found = {(n, re.search(r"\[([\w-]+)\]$", message).group(1)) for n, message in mypy["wrong.py"]}
    assert found == marked, mypy["wrong.py"]


def test_the_training_script_runs(tmp_path):
    proc = subprocess.run([sys.executable, str(TYPING / "train.py")], capture_output=True,
                          text=True, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
