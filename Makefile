# Every target sets up what it needs: a virtualenv in .venv with the package
# installed (its C engine compiled by pip), and for the tests the oracles.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
ORACLE := .oracle/micrograd-0.1.0
ENGINE := csrc/mg.c csrc/mg.h micrograd/_build.py setup.py pyproject.toml

.PHONY: demo test test-slow bench bench-quick sanitize clean

demo: $(VENV)/.installed
	$(PY) -m micrograd.demo

test: $(VENV)/.test-deps $(ORACLE)
	$(PY) -m pytest -q

test-slow: $(VENV)/.test-deps $(ORACLE)
	MG_FUZZ_EXAMPLES=3000 $(PY) -m pytest -q -m slow

bench: $(VENV)/.test-deps $(ORACLE)
	$(PY) -m pytest benchmarks -q --benchmark-json=benchmarks/results.json
	$(PY) benchmarks/report.py benchmarks/results.json

bench-quick: $(VENV)/.test-deps $(ORACLE)
	MG_BENCH_QUICK=1 $(PY) -m pytest benchmarks -q --benchmark-json=/tmp/mg-bench-quick.json

$(VENV)/.venv:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	touch $@

$(VENV)/.installed: $(VENV)/.venv $(ENGINE)
	$(PIP) install -q -e .
	touch $@

$(VENV)/.test-deps: $(VENV)/.installed
	$(PIP) install -q pytest hypothesis pytest-benchmark numpy matplotlib graphviz torch==2.13.0
	touch $@

# micrograd 0.1.0 from PyPI, the behavioural oracle: its import name is ours,
# so it lives in its own folder and runs in subprocesses (tests/oracle.py)
$(ORACLE):
	$(PIP) install -q --target $(ORACLE) micrograd==0.1.0

clean:
	rm -rf $(VENV) .oracle build *.egg-info micrograd/*.so
