# Every target sets up what it needs: a virtualenv in .venv with the package
# installed (its C engine compiled by pip), and for the tests the oracles.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
ORACLE := .oracle/micrograd-0.1.0
ENGINE := $(wildcard csrc/*.c csrc/*.h csrc/*.def) micrograd/_build.py setup.py pyproject.toml

# setuptools' editable install prints a warning box about folders named like the package;
# we know (micrograd/__init__.py explains a shadowing checkout), so pip is asked not to show it
QUIET_EDITABLE := PYTHONWARNINGS="ignore:Editable installation"

.PHONY: help demo digits doctor test test-slow wheel bench bench-quick sanitize soak clean

help:                 ## list the targets
	@awk -F':.*## ' '/^[a-z-]+:.*## / {printf "  make %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

demo: $(VENV)/.installed          ## set up .venv, build the engine, train an MLP on two moons
	$(PY) -m micrograd.demo

digits: $(VENV)/.data-deps        ## train an MLP on scikit-learn's 8x8 digits, the fast path
	$(PY) -m micrograd.demo digits

doctor: $(VENV)/.installed        ## which micrograd .venv loads, how it was built, conflicts
	$(PY) -m micrograd

# MG_REQUIRE_ORACLE: a missing micrograd 0.1.0 fails the oracle tests here (pytest alone skips them)
test: $(VENV)/.test-deps $(ORACLE)    ## set up .venv with PyTorch (~750 MB) and micrograd 0.1.0, run the tests
	MG_REQUIRE_ORACLE=1 $(PY) -m pytest -q

test-slow: $(VENV)/.test-deps $(ORACLE)  ## the slow tests: long fuzzing, wheels on Python 3.9/3.13, fresh venvs
	MG_REQUIRE_ORACLE=1 MG_FUZZ_EXAMPLES=3000 $(PY) -m pytest -q -m slow

wheel: $(VENV)/.test-deps        ## build the sdist and the abi3 wheel (cp39-abi3) into dist/
	$(PY) -m build --outdir dist .

bench: $(VENV)/.test-deps $(ORACLE)  ## benchmarks against micrograd 0.1.0 and PyTorch (long; quiet machine)
	$(PY) -m pytest benchmarks -q --benchmark-json=benchmarks/results.json
	$(PY) benchmarks/report.py benchmarks/results.json

bench-quick: $(VENV)/.test-deps $(ORACLE)  ## a quick benchmark run, under 2 minutes
	MG_BENCH_QUICK=1 $(PY) -m pytest benchmarks -q --benchmark-json=/tmp/mg-bench-quick.json
	$(PY) benchmarks/report.py /tmp/mg-bench-quick.json --out /tmp/mg-bench-quick

$(VENV)/.venv:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	touch $@

$(VENV)/.installed: $(VENV)/.venv $(ENGINE)
	$(QUIET_EDITABLE) $(PIP) install -q -e .
	touch $@

$(VENV)/.test-deps: $(VENV)/.installed
	$(PIP) install -q pytest hypothesis pytest-benchmark numpy build matplotlib graphviz torch==2.13.0 \
		scikit-learn mypy
	touch $@

# the `data` extra of pyproject.toml, for the digits example
$(VENV)/.data-deps: $(VENV)/.installed
	$(PIP) install -q scikit-learn numpy
	touch $@

# micrograd 0.1.0 from PyPI, the behavioural oracle: its import name is ours,
# so it lives in its own folder and runs in subprocesses (tests/oracle.py)
$(ORACLE):
	$(PIP) install -q --target $(ORACLE) micrograd==0.1.0

clean:                ## remove .venv, .oracle and build products
	rm -rf $(VENV) .oracle build dist *.egg-info micrograd/*.so

# make sanitize: the C engine under AddressSanitizer and UndefinedBehaviorSanitizer (gcc).
# 1. A copy of micrograd/ and csrc/ in build/asan is compiled with the sanitizers
#    (MG_CFLAGS, MG_LDFLAGS); the whole test suite runs on it with the .venv's Python,
#    gcc's libasan (and libstdc++, for C++ extensions that throw) preloaded. Leak
#    detection is off there: CPython itself leaks at exit. .venv's build is untouched.
#    MG_SANITIZE=1 tells tests that measure RSS to skip: ASan's quarantine grows it.
# 2. tests/arena_harness.c links csrc/*.c directly and calls every mg.h function with
#    LeakSanitizer on: an invalid access, undefined behaviour or a leaked byte fails it.
ASAN_DIR := build/asan
SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g
sanitize: $(VENV)/.test-deps $(ORACLE)  ## the tests on an AddressSanitizer + UBSan build
	rm -rf $(ASAN_DIR) && mkdir -p $(ASAN_DIR)
	cp -r micrograd csrc $(ASAN_DIR)/
	rm -rf $(ASAN_DIR)/micrograd/*.so $(ASAN_DIR)/micrograd/_mg.c $(ASAN_DIR)/micrograd/__pycache__
	ln -s $(CURDIR)/.oracle $(ASAN_DIR)/.oracle
	cd $(ASAN_DIR) && MG_CFLAGS="$(SAN)" MG_LDFLAGS="-fsanitize=address,undefined" \
		$(CURDIR)/$(PY) micrograd/_build.py >build.log
	gcc -std=c11 -O1 -Wall -Wextra -ffp-contract=off $(SAN) -Icsrc tests/arena_harness.c $(filter-out csrc/handle.c,$(wildcard csrc/*.c)) \
		-lm -lpthread -o $(ASAN_DIR)/arena_harness
	ASAN_OPTIONS=detect_leaks=1 $(ASAN_DIR)/arena_harness
	# the sanitizers' reports go to files: pytest captures stderr, and a report ends the process
	export LD_PRELOAD="$$(gcc -print-file-name=libasan.so) $$(gcc -print-file-name=libstdc++.so)" \
		ASAN_OPTIONS=detect_leaks=0:log_path=$(CURDIR)/$(ASAN_DIR)/report \
		UBSAN_OPTIONS=print_stacktrace=1:log_path=$(CURDIR)/$(ASAN_DIR)/report MG_SANITIZE=1 \
		PYTHONPATH=$(CURDIR)/$(ASAN_DIR) PYTHONSAFEPATH=1 && \
	$(PY) -c "import micrograd._mg as m; assert m.__file__.startswith('$(CURDIR)/$(ASAN_DIR)/'), m.__file__" && \
	$(PY) -m pytest -q -p no:cacheprovider tests || { cat $(ASAN_DIR)/report.* 2>/dev/null; exit 1; }

# make soak: 10,000 training steps of the demo model; live nodes and RSS every 500
# steps to benchmarks/soak.csv, plotted to benchmarks/soak.png (about 10 minutes);
# then 10,000 replayed steps of the fast path (benchmarks/soak-replay.*, seconds).
soak: $(VENV)/.installed    ## 10,000 training steps with memory sampled, eager then replayed
	$(PY) -c "import matplotlib" 2>/dev/null || $(PIP) install -q matplotlib
	$(PY) benchmarks/soak.py
	$(PY) benchmarks/soak.py --replay
