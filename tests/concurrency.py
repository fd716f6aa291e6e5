"""run_threads: call functions in threads released at once (the `interleave` fixture,
in conftest.py, makes them switch every microsecond)."""
import threading


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
