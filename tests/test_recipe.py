"""docs/ARCHITECTURE.md's recipe for adding an op, followed (make test-slow).

A copy of the sources gets `softplus` by the recipe's five steps and nothing else: the
enum value (and the ABI versions), the op table's row, its rules, one line of engine.py
and one row of the tests' op table. The copy is built with the cffi builder and the op
table's tests and the op-driven tests (PyTorch, finite differences, fuzzing) run on it.
If the code drifts from the recipe, a step no longer applies and this fails: update both.
"""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ABI = int(re.search(r"#define MG_ABI_VERSION (\d+)", (ROOT / "csrc/mg.h").read_text())[1])

STEPS = [   # (file, text the recipe puts its line beside, the text with the new line)
    ("csrc/mg.h", "    MG_OP_COUNT", "    MG_SOFTPLUS,\n    MG_OP_COUNT"),
    ("csrc/mg.h", f"#define MG_ABI_VERSION {ABI}", f"#define MG_ABI_VERSION {ABI + 1}"),
    ("micrograd/_core.py", f"_ABI_VERSION = {ABI}", f"_ABI_VERSION = {ABI + 1}"),
    ("csrc/ops.def", 'PYTHON, py)\n', 'PYTHON, py)\nOP(MG_SOFTPLUS, "softplus", 1, CALL, softplus)\n'),
    ("csrc/rules.h", "#if defined(__GNUC__)\n#pragma GCC diagnostic pop", """\
/* log(1 + exp(x)) */
RULE mg_result softplus_forward(mg_number x) { return result(log1p(exp(x.value)), 0); }
/* self.grad += sigmoid(x) * out.grad */
RULE mg_number softplus_dx(mg_number x, double out, mg_number g)
{
    return real(1 / (1 + exp(-x.value)) * g.value);
}

#if defined(__GNUC__)
#pragma GCC diagnostic pop"""),
    ("micrograd/engine.py", "    sigmoid = _unary(MG_SIGMOID)\n",
     "    sigmoid = _unary(MG_SIGMOID)\n    softplus = _unary(lib.MG_SOFTPLUS)\n"),
    ("tests/ops.py", '    call("MG_SIGMOID",', '    call("MG_SOFTPLUS", "softplus", "softplus", '
     'torch_rule=torch.nn.functional.softplus),\n    call("MG_SIGMOID",'),
]


@pytest.mark.slow
def test_an_op_added_by_the_recipe_builds_and_passes_the_op_tests(tmp_path):
    for folder in ("micrograd", "csrc", "tests"):
        shutil.copytree(ROOT / folder, tmp_path / folder,
                        ignore=shutil.ignore_patterns("*.so", "_mg.c", "__pycache__"))
    for name, anchor, text in STEPS:
        path = tmp_path / name
        source = path.read_text()
        assert source.count(anchor) == 1, f"the recipe's step in {name} no longer applies"
        path.write_text(source.replace(anchor, text))
    env = {k: v for k, v in os.environ.items() if k not in ("MG_CFLAGS", "MG_LDFLAGS")}
    subprocess.run([sys.executable, "micrograd/_build.py"], cwd=tmp_path, env=env, check=True,
                   capture_output=True, timeout=600)
    env.update(PYTHONPATH=str(tmp_path), PYTHONSAFEPATH="1")
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "tests/test_ops_table.py", "tests/test_engine.py",
                          "tests/test_gradcheck.py", "tests/test_fuzz_torch.py",
                          "-k", "softplus or table or every"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "softplus" in subprocess.run(
        [sys.executable, "-c", "from micrograd.engine import Value; print(Value(0.3).softplus()._op)"],
        cwd=tmp_path, env=env, capture_output=True, text=True).stdout
