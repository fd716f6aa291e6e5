"""os.fork() while another thread uses the engine (issue 20, finding 5).

The child of a fork has only the forking thread; a lock that another thread held at
that moment would stay held in the child for ever (stats(), a retry after MemoryError
and _prev would hang, and deaths would never be released). The engine resets its
locks in the child (os.register_at_fork). Each trial runs in a fresh process, the
children under faulthandler's timeout, so a hang is a failure, not a stuck suite.
"""
import os
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")

FORKS = textwrap.dedent("""
    import faulthandler, os, sys, threading
    sys.setswitchinterval(1e-5)
    import micrograd._handles as H
    from micrograd.engine import Value, stats
    stop = False
    def churn():                        # ops, backward, walks and releases, all the time
        k = Value(1.0)
        while not stop:
            x = k
            for i in range(300):
                x = x * 1.0001 + 1
            x.backward(); list(x._prev)
    threading.Thread(target=churn, daemon=True).start()
    bad = []
    for trial in range(int(sys.argv[1])):
        pid = os.fork()
        if pid == 0:
            faulthandler.dump_traceback_later(20, exit=True)   # a hang: exit code 1
            for i in range(3000):       # ops only: deaths must be released as they come
                y = Value(1.0) * 2
            queued = H._pending()
            root = Value(2.0) * Value(3.0) + 1
            kids = {c.data for c in root._prev}
            s = stats()
            ok = queued <= H._BATCH and kids == {6.0, 1} and s["live"] > 0
            os._exit(0 if ok else 3)
        _, status = os.waitpid(pid, 0)
        if status:
            bad.append((trial, os.waitstatus_to_exitcode(status)))
    stop = True
    print(bad)
""")


def test_a_fork_while_another_thread_uses_the_engine_leaves_the_child_working():
    out = subprocess.run([sys.executable, "-c", FORKS, "200"], capture_output=True, text=True,
                         timeout=900)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout + out.stderr
