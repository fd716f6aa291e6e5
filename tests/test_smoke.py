"""Smoke tests of an installed micrograd-c: the README's numbers, on any CPython >= 3.9.

They need only pytest and the package (no oracle, no numpy, no torch), so they run on a
wheel freshly installed in another Python (tests/test_packaging.py) and in cibuildwheel.
"""
import os
import random
import subprocess
import sys

import micrograd
from micrograd.engine import Value
from micrograd.nn import MLP


def test_the_c_engine_is_loaded():
    import micrograd._mg
    from micrograd.engine import stats
    assert os.path.basename(micrograd._mg.__file__).startswith("_mg.")
    assert stats()["live"] >= 0


def test_the_version_is_micrograd_c_s_own():
    assert micrograd.__version__ not in ("0.1.0", "0+unknown")


def test_the_readme_example_prints_its_numbers():
    a = Value(-4.0)
    b = Value(2.0)
    c = a + b
    d = a * b + b**3
    c += c + 1
    c += 1 + c + (-a)
    d += d * 2 + (b + a).relu()
    d += 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g += 10.0 / f
    g.backward()
    assert [f"{g.data:.4f}", f"{a.grad:.4f}", f"{b.grad:.4f}"] == ["24.7041", "138.8338", "645.5773"]


def test_the_readme_network_has_337_parameters():
    random.seed(1337)
    model = MLP(2, [16, 16, 1])
    assert len(model.parameters()) == 337
    assert repr(model).startswith("MLP of [Layer of [ReLUNeuron(2), ")


def test_the_doctor_reports_the_c_engine():
    out = subprocess.run([sys.executable, "-m", "micrograd"], capture_output=True, text=True,
                         cwd="/")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "micrograd-c" in out.stdout and "the C engine" in out.stdout
