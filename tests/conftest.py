"""Shared test setup: slow tests run only when asked for (`make test-slow`: pytest -m slow).

`make test` runs plain `pytest -q`, which would otherwise collect the long fuzzing
runs too; a test marked @pytest.mark.slow is skipped unless the -m expression
names `slow`.
"""
import pytest


def pytest_collection_modifyitems(config, items):
    if "slow" in (config.getoption("-m") or ""):
        return
    skip = pytest.mark.skip(reason="slow: run with `make test-slow` (pytest -m slow)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
