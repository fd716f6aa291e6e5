"""Helpers for the tests that run threads: all released at once, switching often."""
import sys
import threading

import pytest


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


def run_threads(fns, timeout=60):
    """Call each fn in its own thread, all released at once; their results in order."""
    results, errors = [None] * len(fns), []
    start = threading.Barrier(len(fns))

    def work(k):
        start.wait()
        try:
            results[k] = fns[k]()
        except BaseException as e:        # reported below, not lost in the thread
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(len(fns))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    assert not any(t.is_alive() for t in threads), "a thread hangs"
    assert not errors, errors
    return results
