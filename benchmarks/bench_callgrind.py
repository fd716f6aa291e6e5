"""callgrind: instructions per node of the C backward (callgrind_backward.py), and of a
replay forward() and a backward() over the kept order (callgrind_replay.py), one run each.

Instruction counts do not depend on the machine's load, so this is the number
to compare across changes to mg.c's backward. Skipped without valgrind.
"""
import json
import shutil
import subprocess
import sys

import pytest

from harness import HERE, size


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed")
def test_callgrind_backward(benchmark):
    n_ops = size(200_000, 20_000)
    result = {}

    def run():
        out = subprocess.run([sys.executable, str(HERE / "callgrind_backward.py"), str(n_ops)],
                             capture_output=True, text=True, check=True)
        result.update(json.loads(out.stdout.strip().splitlines()[-1]))

    benchmark.pedantic(run, rounds=1, iterations=1)
    benchmark.extra_info.update({"scenario": "callgrind", **result})


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed")
def test_callgrind_replay(benchmark):
    args = [str(size(200_000, 20_000)), str(size(32, 8))]
    result = {}

    def run():
        out = subprocess.run([sys.executable, str(HERE / "callgrind_replay.py"), *args],
                             capture_output=True, text=True, check=True)
        result.update(json.loads(out.stdout.strip().splitlines()[-1]))

    benchmark.pedantic(run, rounds=1, iterations=1)
    benchmark.extra_info.update({"scenario": "callgrind-replay", **result})
