"""Shared test setup: slow tests run only when asked for (`make test-slow`: pytest -m slow).

`make test` runs plain `pytest -q`, which would otherwise collect the long fuzzing
runs too; a test marked @pytest.mark.slow is skipped unless the -m expression
names `slow`.
"""
import sys

import pytest


def pytest_collection_modifyitems(config, items):
    if "slow" in (config.getoption("-m") or ""):
        return
    skip = pytest.mark.skip(reason="slow: run with `make test-slow` (pytest -m slow)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def interleave():
    """Switch threads every microsecond; fail on exceptions raised where nothing catches them."""
    old_interval, old_hook, unraisable = sys.getswitchinterval(), sys.unraisablehook, []
    sys.setswitchinterval(1e-6)
    sys.unraisablehook = unraisable.append        # e.g. raised inside Value.__del__
    yield
    sys.setswitchinterval(old_interval)
    sys.unraisablehook = old_hook
    assert not unraisable, [(u.exc_type, u.exc_value, u.object) for u in unraisable]


@pytest.fixture
def quiet_gc():
    """No garbage collection during the test, after one now: node counts measured in it
    move only by what the test does, not by other tests' Values freed from cycles."""
    import gc
    gc.collect()
    gc.disable()
    yield
    gc.enable()
