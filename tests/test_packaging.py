"""The package as a user meets it: wheel and sdist, metadata, living beside PyPI's
micrograd, importing from inside the checkout, the doctor, the Makefile's help.

The wheel and sdist are built once per run (`python -m build`, about 20 s: the wheel
is built from the sdist, so the sdist is proved complete too). Installing that wheel
on other Pythons, and a fresh venv with the test extra, are slow tests
(`make test-slow`).
"""
import ast
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import textwrap
import venv
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

import micrograd
from micrograd import doctor, engine
from micrograd.demo import moons, original

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"
IN_CHECKOUT = (ROOT / "setup.py").exists() and (ROOT / "csrc").is_dir()
needs_checkout = pytest.mark.skipif(not IN_CHECKOUT, reason="needs micrograd-c's source checkout")


def run(args, cwd="/", env=None, timeout=600):
    """Run a command (default: from /, where no checkout shadows the installed package)."""
    full_env = {**os.environ, **(env or {})}
    full_env.pop("PYTHONWARNINGS", None)
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, cwd=cwd,
                          env=full_env, timeout=timeout)


# ---------------------------------------------------------------- wheel and sdist

@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    """{'wheel': path, 'sdist': path}, built from this checkout by `python -m build`."""
    if not IN_CHECKOUT:
        pytest.skip("needs micrograd-c's source checkout")
    pytest.importorskip("build", reason="needs the build package: pip install build "
                        "(the test extra has it)")
    out = tmp_path_factory.mktemp("dist")
    proc = run([sys.executable, "-m", "build", "--outdir", out, ROOT], timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    wheels, sdists = list(out.glob("*.whl")), list(out.glob("*.tar.gz"))
    assert len(wheels) == len(sdists) == 1, list(out.iterdir())
    return {"wheel": wheels[0], "sdist": sdists[0]}


def test_the_wheel_is_tagged_as_it_is_built_cp39_abi3(dist):
    name = dist["wheel"].name
    assert re.fullmatch(r"micrograd_c-[\w.]+-cp39-abi3-\w+\.whl", name), name
    with zipfile.ZipFile(dist["wheel"]) as whl:
        names = whl.namelist()
        wheel_file = whl.read(next(n for n in names if n.endswith(".dist-info/WHEEL"))).decode()
    assert [n for n in names if n.startswith("micrograd/_mg")] == \
        ["micrograd/_mg.abi3.so" if sys.platform != "win32" else "micrograd/_mg.pyd"]
    assert re.search(r"^Tag: cp39-abi3-", wheel_file, re.M)
    assert "Root-Is-Purelib: false" in wheel_file


def test_the_wheel_and_the_sdist_say_the_package_is_typed(dist):
    """py.typed (PEP 561): type checkers read the package's annotations."""
    with zipfile.ZipFile(dist["wheel"]) as whl:
        assert "micrograd/py.typed" in whl.namelist()
    with tarfile.open(dist["sdist"]) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    assert "micrograd/py.typed" in names


def wheel_metadata(path):
    with zipfile.ZipFile(path) as whl:
        names = whl.namelist()
        meta = whl.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    return names, meta


def test_the_wheel_ships_the_license_and_full_metadata(dist):
    names, meta = wheel_metadata(dist["wheel"])
    assert any(n.endswith(".dist-info/licenses/LICENSE") or n.endswith(".dist-info/LICENSE")
               for n in names)
    fields = [line.split(": ", 1) for line in meta.split("\n\n")[0].splitlines() if ": " in line]
    values = {}
    for key, value in fields:
        values.setdefault(key, []).append(value)
    assert values["Name"] == ["micrograd-c"]
    assert values["Version"] == [micrograd.__version__] != ["0.1.0"]
    assert values["License-Expression"] == ["MIT"]
    classifiers = set(values["Classifier"])
    for c in ["Programming Language :: C", "Programming Language :: Python :: 3.9",
              "Programming Language :: Python :: 3.13", "Operating System :: POSIX :: Linux",
              "Topic :: Scientific/Engineering :: Artificial Intelligence"]:
        assert c in classifiers
    assert values["Project-URL"] and values["Author"] and values["Requires-Python"] == [">=3.9"]
    assert not [n for n in names if n.startswith("tests/")]      # tests ship in the sdist only
    bench = {f"micrograd/bench/{f}.py" for f in
             ("__init__", "__main__", "cli", "runner", "scenarios", "worker")}
    assert bench <= set(names), sorted(bench - set(names))       # python -m micrograd.bench


def test_the_sdist_ships_the_license_sources_and_every_file_the_tests_import(dist):
    with tarfile.open(dist["sdist"]) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    for needed in ["LICENSE", "README.md", "pyproject.toml", "setup.py", "MANIFEST.in",
                   "csrc/mg.c", "csrc/mg.h", "micrograd/_build.py", "tests/conftest.py",
                   "benchmarks/peers.py",   # test_bench_peers.py imports it
                   "tests/typing/train.py", "tests/typing/wrong.py"]:  # test_types.py reads them
        assert needed in names
    shipped_tests = sorted(n for n in names if n.startswith("tests/test_") and n.endswith(".py"))
    assert shipped_tests == sorted(f"tests/{p.name}" for p in TESTS.glob("test_*.py"))
    for test in shipped_tests:
        for module in local_imports(ROOT / test):
            assert f"tests/{module}.py" in names, (test, module)


def local_imports(path):
    """The top-level names that `path` imports from the tests folder itself."""
    tree = ast.parse(path.read_text())
    mods = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import)
            for a in n.names}
    mods |= {n.module.split(".")[0] for n in ast.walk(tree)
             if isinstance(n, ast.ImportFrom) and n.module and n.level == 0}
    return sorted(m for m in mods if (TESTS / f"{m}.py").exists())


# ---------------------------------------------------------------- the test extra

def third_party_imports():
    """Top-level modules that tests/*.py import, other than the standard library, micrograd
    and the tests' own helpers (in tests/ and benchmarks/)."""
    mods = set()
    for path in TESTS.glob("*.py"):
        tree = ast.parse(path.read_text())
        mods |= {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import)
                 for a in n.names}
        mods |= {n.module.split(".")[0] for n in ast.walk(tree)
                 if isinstance(n, ast.ImportFrom) and n.module and n.level == 0}
    stdlib = set(sys.stdlib_module_names) if hasattr(sys, "stdlib_module_names") else set()
    local = [TESTS, TESTS.parent / "benchmarks"]     # test_bench_peers.py imports peers
    return {m for m in mods if m not in stdlib and m != "micrograd"
            and not any((d / f"{m}.py").exists() for d in local)}


@needs_checkout
@pytest.mark.skipif(sys.version_info < (3, 11), reason="tomllib and sys.stdlib_module_names")
def test_the_test_extra_holds_everything_the_tests_import():
    import tomllib
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    names = {re.split(r"[<>=!~\[; ]", r)[0].lower().replace("_", "-") for r in extras["test"]}
    optional = {re.split(r"[<>=!~\[; ]", r)[0].lower() for r in extras["viz"]}
    # tests that import the viz extra's packages skip without them (importorskip, skipif)
    missing = {m for m in third_party_imports() if m.lower().replace("_", "-") not in names
               and m.lower() not in optional}
    assert not missing, f"tests import {sorted(missing)}, which the test extra lacks"
    assert {"pytest", "torch", "hypothesis", "numpy"} <= names


# ---------------------------------------------------------------- version and coexistence

def test_the_version_comes_from_the_installed_metadata_and_is_not_the_originals():
    assert micrograd.__version__ == metadata.version("micrograd-c")
    assert micrograd.__version__ != "0.1.0"


def fake_original(site):
    """A `micrograd` 0.1.0 distribution in the site dir `site` (metadata only: our package
    stays the one imported, as after installing the original first and us after it)."""
    info = site / "micrograd-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: micrograd\nVersion: 0.1.0\n")
    (info / "RECORD").write_text("micrograd/__init__.py,,\nmicrograd/engine.py,,\n")
    return site


IMPORT_ALL = "import micrograd, micrograd.engine, micrograd.nn; import micrograd.engine"


def test_with_the_original_installed_too_the_import_warns_once_with_the_fix(tmp_path):
    site = fake_original(tmp_path / "site")
    out = run([sys.executable, "-c", IMPORT_ALL], env={"PYTHONPATH": str(site)})
    assert out.returncode == 0, out.stderr
    assert out.stderr.count("CoexistenceWarning") == 1, out.stderr
    assert "PyPI's micrograd 0.1.0 (Karpathy's original) is installed beside micrograd-c" \
        in out.stderr
    assert f"{sys.executable} -m pip uninstall -y micrograd micrograd-c" in out.stderr
    assert f"{sys.executable} -m pip install" in out.stderr


def test_alone_the_import_is_silent(tmp_path):
    out = run([sys.executable, "-W", "error", "-c", IMPORT_ALL])
    assert out.returncode == 0 and out.stderr == "", out.stderr


def test_the_warning_can_be_an_error_like_any_warning(tmp_path):
    site = fake_original(tmp_path / "site")
    out = run([sys.executable, "-W", "error::UserWarning", "-c", "import micrograd"],
              env={"PYTHONPATH": str(site)})
    assert out.returncode == 1 and "CoexistenceWarning" in out.stderr


def test_the_fix_reinstalls_micrograd_c_as_it_was_installed():
    cmd = doctor.reinstall_command()
    assert cmd.startswith(f"{sys.executable} -m pip install ")
    direct = None
    for dist in metadata.distributions(name="micrograd-c"):
        text = dist.read_text("direct_url.json")
        if text:
            direct = json.loads(text)
            break
    if direct and direct.get("dir_info", {}).get("editable"):
        assert cmd.endswith(f"-e {direct['url'][len('file://'):]}")
    elif direct is None:
        assert cmd.endswith(f"micrograd-c=={micrograd.__version__}")


# ---------------------------------------------------------------- the doctor

def test_the_doctor_reports_engine_version_origin_flags_and_no_conflict():
    out = run([sys.executable, "-m", "micrograd"])
    assert out.returncode == 0, out.stdout + out.stderr
    text = out.stdout
    assert f"engine:       micrograd-c {micrograd.__version__}, the C engine" in text
    assert f"loaded from:  {engine.__file__}" in text
    assert re.search(r"compiled by:  \S+ .*flags: .*-O2", text) or "/O2" in text
    assert "PyPI's original is not installed" in text and "status:       ok" in text


def test_the_doctor_reports_the_original_beside_us_and_fails(tmp_path):
    site = fake_original(tmp_path / "site")
    out = run([sys.executable, "-m", "micrograd.doctor"], env={"PYTHONPATH": str(site)})
    assert out.returncode == 1
    assert "micrograd:    0.1.0 (PyPI's original) ALSO installed" in out.stdout
    assert "pip uninstall -y micrograd micrograd-c" in out.stdout


def test_the_doctor_sees_the_original_s_engine_when_it_overwrote_ours(tmp_path):
    """Installing the original after us replaces __init__, engine and nn; our doctor.py
    and __main__.py survive (the original has none) and must say so."""
    pkg = tmp_path / "micrograd"
    shutil.copytree(Path(micrograd.__file__).parent, pkg,
                    ignore=shutil.ignore_patterns("__pycache__"))
    (pkg / "__init__.py").write_text("")
    (pkg / "engine.py").write_text("class Value:\n    pass\n")
    fake_original(tmp_path)
    out = run([sys.executable, "-m", "micrograd"], env={"PYTHONPATH": str(tmp_path)})
    assert out.returncode == 1, out.stdout + out.stderr
    assert "engine:       micrograd 0.1.0's pure-Python engine" in out.stdout
    assert f"loaded from:  {pkg / 'engine.py'}" in out.stdout
    assert "micrograd:    0.1.0 (PyPI's original) ALSO installed" in out.stdout
    assert "pip uninstall -y micrograd micrograd-c" in out.stdout


def test_the_doctor_reports_files_deleted_by_uninstalling_the_original(tmp_path):
    """`pip uninstall micrograd` after installing both deletes __init__, engine and nn."""
    pkg = tmp_path / "micrograd"
    shutil.copytree(Path(micrograd.__file__).parent, pkg,
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("__init__.py", "engine.py", "nn.py"):
        (pkg / name).unlink()
    # -S: no site-packages, whose editable install would supply the missing modules here
    out = run([sys.executable, "-S", "-m", "micrograd"], env={"PYTHONPATH": str(tmp_path)})
    assert out.returncode == 1, out.stdout + out.stderr
    assert "engine:       cannot be imported: No module named 'micrograd.engine'" in out.stdout
    assert re.search(r"reinstall it: .* -m pip install .*micrograd-c.* --force-reinstall$",
                     out.stdout, re.M), out.stdout


# ---------------------------------------------------------------- inside the checkout

def fake_checkout(where):
    """A copy of the package folder without its compiled engine, in a checkout-like folder."""
    shutil.copytree(Path(micrograd.__file__).parent, where / "micrograd",
                    ignore=shutil.ignore_patterns("__pycache__", "_mg*"))
    (where / "setup.py").write_text("")
    (where / "csrc").mkdir()
    return where


# Python as a user starts it: the current folder first on sys.path, no other folders
# (make sanitize sets PYTHONPATH to its build and PYTHONSAFEPATH, which would hide the copy)
PLAIN = {"PYTHONPATH": "", "PYTHONSAFEPATH": ""}


def test_importing_a_checkout_without_its_engine_says_why_and_what_to_do(tmp_path):
    """`pip install .` then Python in the checkout: the folder shadows the installed
    package and has no _mg; an ImportError says so, not 'No module named micrograd._mg'.
    (-S: without site-packages, as an editable install's import hook would win here;
    the slow wheel test below does it with a real `pip install`.)"""
    checkout = fake_checkout(tmp_path / "checkout")
    out = run([sys.executable, "-S", "-c", "import micrograd.engine"], cwd=checkout, env=PLAIN)
    assert out.returncode == 1
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: micrograd's compiled engine (micrograd._mg) is not in ")
    assert f"pip install -e {checkout}" in last and "run Python from another folder" in last
    assert "ModuleNotFoundError" not in out.stderr


def test_a_package_folder_without_its_engine_outside_a_checkout_says_reinstall(tmp_path):
    shutil.copytree(Path(micrograd.__file__).parent, tmp_path / "micrograd",
                    ignore=shutil.ignore_patterns("__pycache__", "_mg*"))
    out = run([sys.executable, "-S", "-c", "import micrograd"], cwd=tmp_path, env=PLAIN)
    assert out.returncode == 1
    assert "pip install --force-reinstall micrograd-c" in out.stderr.strip().splitlines()[-1]


# ---------------------------------------------------------------- the demo's --compare

def test_compare_accepts_the_folder_holding_micrograd_or_micrograd_itself(tmp_path,
                                                                         monkeypatch):
    holder = tmp_path / "orig"
    (holder / "micrograd").mkdir(parents=True)
    (holder / "micrograd" / "nn.py").write_text("")
    monkeypatch.setattr(original, "ORACLE_DIRS", [])
    for given in (holder, holder / "micrograd"):
        monkeypatch.setenv("MICROGRAD_ORIGINAL", str(given))
        assert original.original_paths() == [holder.resolve()]


def test_compare_names_the_paths_it_tried(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MICROGRAD_ORIGINAL", str(tmp_path / "nowhere"))
    monkeypatch.setattr(original, "ORACLE_DIRS", [tmp_path / "oracle"])
    monkeypatch.setattr(original, "find_original", lambda: (None, None))
    assert moons.main(["--steps", "1", "--samples", "4", "--hidden", "2", "--compare"]) == 0
    out = capsys.readouterr().out
    assert f"not found in {tmp_path / 'nowhere'}, {tmp_path / 'oracle'}, nor installed" in out


# ---------------------------------------------------------------- the Makefile

@needs_checkout
@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_help_lists_every_target_with_one_line():
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][a-z-]*):", makefile, re.M))
    out = run(["make", "-s", "help"], cwd=ROOT)
    assert out.returncode == 0, out.stderr
    listed = re.findall(r"^  make (\S+) +\S", out.stdout, re.M)
    assert sorted(listed) == sorted(targets)
    assert len(out.stdout.strip().splitlines()) == len(targets)


# ---------------------------------------------------------------- slow: other Pythons

def other_pythons():
    """CPython 3.9 and 3.13 from pyenv, if this machine has them."""
    found = []
    for minor in ("3.9", "3.13"):
        hits = sorted(Path.home().glob(f".pyenv/versions/{minor}.*/bin/python"))
        found.append(pytest.param(hits[-1] if hits else None, id=minor))
    return found


@pytest.mark.slow
@pytest.mark.parametrize("python", other_pythons())
def test_the_wheel_installs_and_passes_the_smoke_tests_on_another_python(python, dist,
                                                                        tmp_path):
    if python is None:
        pytest.skip("that CPython is not installed (pyenv install it)")
    env_dir = tmp_path / "venv"
    assert run([python, "-m", "venv", env_dir]).returncode == 0
    py = env_dir / "bin" / "python"
    out = run([py, "-m", "pip", "install", "-q", dist["wheel"], "pytest"], timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    work = tmp_path / "work"            # away from the checkout, with only the smoke tests
    work.mkdir()
    shutil.copy(TESTS / "test_smoke.py", work)
    out = run([py, "-m", "pytest", "-q", "-p", "no:cacheprovider", work / "test_smoke.py"],
              cwd=work)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "5 passed" in out.stdout
    out = run([py, "-m", "micrograd"], cwd=work)
    assert out.returncode == 0 and "_mg.abi3.so" in out.stdout, out.stdout + out.stderr
    checkout = fake_checkout(work / "checkout")     # `pip install .`, then Python in there
    out = run([py, "-c", "import micrograd"], cwd=checkout)
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: micrograd's compiled engine (micrograd._mg) is not "
                           f"in {checkout / 'micrograd'}"), out.stderr
    assert f"(micrograd-c {micrograd.__version__} is installed" in last


@pytest.mark.slow
def test_installing_the_original_before_or_after_us_is_reported(dist, tmp_path):
    """Real installs from the package index, in a fresh venv: the original after us
    overwrites our files (the doctor says so); us after the original warns on import."""
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    py = env_dir / "bin" / "python"
    pip = [py, "-m", "pip", "install", "-q"]
    assert run([*pip, dist["wheel"]], timeout=900).returncode == 0
    out = run([*pip, "micrograd==0.1.0"], timeout=900)
    if out.returncode != 0:
        pytest.skip(f"cannot install micrograd 0.1.0 from the package index: {out.stderr[-300:]}")
    out = run([py, "-m", "micrograd"])
    assert out.returncode == 1
    assert "pure-Python engine" in out.stdout and "ALSO installed" in out.stdout, out.stdout
    out = run([*pip, "--force-reinstall", "--no-deps", dist["wheel"]], timeout=900)
    assert out.returncode == 0, out.stderr
    out = run([py, "-c", "import micrograd.engine; print(micrograd.engine.stats()['live'])"])
    assert out.returncode == 0 and out.stderr.count("CoexistenceWarning") == 1, out.stderr
    uninstall = f"{py} -m pip uninstall -y micrograd micrograd-c"
    assert uninstall in out.stderr
    fix = [line.strip() for line in out.stderr.splitlines() if line.strip().startswith(str(py))]
    assert len(fix) == 2 and fix[0] == uninstall and fix[1].endswith(dist["wheel"].name)
    for command in fix:                         # the warning's own commands fix it
        assert run(shlex.split(command), timeout=900).returncode == 0, command
    out = run([py, "-W", "error", "-m", "micrograd"])
    assert out.returncode == 0 and "status:       ok" in out.stdout, out.stdout + out.stderr


@pytest.mark.slow
def test_the_bench_runs_from_the_wheel_in_a_fresh_venv_without_and_with_torch(dist, tmp_path):
    """python -m micrograd.bench --quick as a user runs it: no checkout, no torch (its
    column named, with the reason), then torch installed (the column measured)."""
    venv.create(tmp_path / "venv", with_pip=True)
    py = tmp_path / "venv" / "bin" / "python"
    assert run([py, "-m", "pip", "install", "-q", dist["wheel"]], timeout=900).returncode == 0
    bench = [py, "-m", "micrograd.bench", "--quick", "--json", tmp_path / "b.json"]
    out = run(bench, timeout=900)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "not measured: PyTorch nn.Linear: torch not installed" in out.stdout
    assert "not measured: micrograd 0.1.0: pass --reference DIR" in out.stdout
    doc = json.loads((tmp_path / "b.json").read_text())
    assert doc["machine"]["micrograd_file"].startswith(str(tmp_path / "venv"))
    assert all(r["ours"]["ms_per_step"] and r["ours-fast"]["ms_per_step"]
               for r in (s["results"] for s in doc["scenarios"].values()))
    if sys.version_info[:2] != (3, 11):
        pytest.skip("torch's wheel here is for 3.11: the run with torch is skipped")
    out = run([py, "-m", "pip", "install", "-q", "torch==2.13.0"], timeout=1800)
    assert out.returncode == 0, out.stderr[-3000:]
    out = run(bench, timeout=900)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "not measured: PyTorch" not in out.stdout and "failed" not in out.stdout
    doc = json.loads((tmp_path / "b.json").read_text())
    assert all(r["torch-vec"]["ms_per_step"] for r in (s["results"]
                                                      for s in doc["scenarios"].values()))


@pytest.mark.slow
@needs_checkout
@pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="torch's wheel here is for 3.11")
def test_a_fresh_venv_with_the_test_extra_collects_every_test(tmp_path):
    """`pip install -e '.[test]' && pytest`, as a user would, in a copy of the checkout."""
    src = tmp_path / "src"
    files = run(["git", "ls-files"], cwd=ROOT).stdout.split()
    assert files, "needs git"
    for f in files:
        (src / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / f, src / f)
    for f in TESTS.glob("test_*.py"):          # uncommitted tests too
        shutil.copy2(f, src / "tests" / f.name)
    venv.create(tmp_path / "venv", with_pip=True)
    py = tmp_path / "venv" / "bin" / "python"
    # torch pinned to the release this machine holds as a local wheel (as make test does)
    out = run([py, "-m", "pip", "install", "-q", "-e", f"{src}[test]", "torch==2.13.0"],
              timeout=1800)
    assert out.returncode == 0, out.stderr[-3000:]
    out = run([py, "-m", "pytest", "--collect-only", "-q"], cwd=src, timeout=900)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert re.search(r"^\d+ tests collected", out.stdout, re.M), out.stdout[-2000:]
    assert "error" not in out.stdout.lower().split("tests collected")[-1]
    out = run([py, "-m", "pytest", "-q", "-rs", "tests/test_compat.py"], cwd=src, timeout=900)
    assert out.returncode == 0 and "the oracle, is not installed" in out.stdout, out.stdout[-3000:]
