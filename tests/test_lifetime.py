"""A Value's death, seen by code of the user's that runs around it (issue 20, 6 and 7).

A weak reference callback (weakref.finalize) may walk a graph that contains the dying
Value's node; a subclass's __del__ may resurrect a Value that the cyclic garbage
collector frees. Neither may hang, alias another node, or lose a release. Each case
runs in a fresh process under a timeout, so a hang is a failure.
"""
import subprocess
import sys
import textwrap



def run(code, timeout=120):
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                         text=True, timeout=timeout)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


def test_a_finalizer_walking_a_graph_that_holds_the_dying_value_does_not_hang():
    assert run("""
        import weakref
        from micrograd.engine import Value, stats
        base = stats()["live"]
        a = Value(1.0)
        b = a * 2
        c = b + 1
        seen = []
        weakref.finalize(b, lambda: seen.append(sorted(v.data for v in c._prev)))
        del b                           # c still holds b's node: the walk gets a new Value
        assert seen == [[1, 2.0]], seen
        del c
        assert stats()["live"] == base + 1, (stats()["live"], base)   # a's node, no more
        print("ok")
        """) == ["ok"]


def test_a_value_resurrected_by_del_in_a_cycle_keeps_its_own_node():
    assert run("""
        import gc
        from micrograd.engine import Value, stats
        saved = []
        class V(Value):
            def __del__(self):
                saved.append(self)      # resurrect it (an object pool, a debug list)
        v = V(1.25)
        v.me = v                        # a reference cycle: the cyclic GC frees it
        del v
        gc.collect()
        stats()                         # release every death queued
        others = [Value(100.0 + k) for k in range(10)]      # free slots are reused now
        r = saved[0]
        assert r.data == 1.25 and (r * 2).data == 2.5
        r.data = -7.0
        assert [o.data for o in others] == [100.0 + k for k in range(10)]
        base = stats()["live"]
        r.me = None
        del r, saved[:]                 # now it dies for good: its node is released
        gc.collect()
        assert stats()["live"] == base - 1
        print("ok")
        """) == ["ok"]


def test_a_value_resurrected_after_other_code_ran_in_the_collection_keeps_its_own_node():
    """Another object's finalizer in the same collection releases every queued death
    (stats()) before the __del__ that resurrects v runs: v's node is v's until v's
    memory is freed, so it still reads and writes its own node, and no other."""
    assert run("""
        import gc, weakref
        from micrograd.engine import Value, stats
        saved = []
        class V(Value):
            def __del__(self):
                saved.append(self)
        class Other:
            pass
        v, o = V(1.25), Other()
        v.o, o.v = o, v                 # one cycle; o's finalizer runs before v's __del__
        weakref.finalize(o, stats)      # ... and releases what died (stats() flushes)
        del v, o
        gc.collect()
        others = [Value(100.0 + k) for k in range(10)]
        r = saved[0]
        assert r.data == 1.25 and (r * 2).data == 2.5
        r.data = -7.0
        r.backward()
        assert r.grad == 1 and [o.data for o in others] == [100.0 + k for k in range(10)]
        print("ok")
        """) == ["ok"]


def test_walks_that_take_a_dead_values_entry_twice_before_a_release_lose_nothing():
    """A node's entry taken twice before the first dead Value's release (two walks over
    parents of a dropped temporary): each release leaves the newest entry alone, every
    node is released in the end, and the node keeps one Value at a time."""
    assert run("""
        from micrograd.engine import Value, stats
        base = stats()["live"]
        x = Value(1.0); y = x * 2; z1, z2 = y + 1, y + 2
        del y; list(z1._prev)           # a new Value for y's node takes the dead entry
        del z1                          # ... and dies: its death is queued
        k = [v for v in z2._prev if v.data == 2.0][0]    # taken again
        stats()                         # both releases run
        assert [v for v in z2._prev if v.data == 2.0][0] is k
        del k, z2, x
        assert stats()["live"] == base, (stats()["live"], base)
        print("ok")
        """) == ["ok"]


# A KeyboardInterrupt at the k-th line of micrograd's Python code that stats() runs (the
# release of what died: dead Values' nodes), for k = 1, 2, ... until stats() returns;
# then a walk over a parent of a dropped Value, and everything dropped.
INTERRUPTED_RELEASE = """
    import os, sys
    import micrograd
    from micrograd.engine import Value, stats
    PACKAGE = os.path.dirname(micrograd.__file__)
    base = stats()["live"]
    a = Value(1.0); b = a * 2; c = b + 1
    del b                               # b's Value dies; its node lives on under c
    def interrupt_at(k):
        seen = [0]
        def tracer(frame, event, arg):
            if not frame.f_code.co_filename.startswith(PACKAGE):
                return None
            def local(frame, event, arg):
                if event == "line":
                    seen[0] += 1
                    if seen[0] == k:
                        sys.settrace(None)
                        raise KeyboardInterrupt
                return local
            return local
        sys.settrace(tracer)
    interrupted = 0
    for k in range(1, 1000):
        interrupt_at(k)
        try:
            stats()
            break
        except KeyboardInterrupt:
            interrupted += 1
        finally:
            sys.settrace(None)
    print(sorted(v.data for v in c._prev))
    del a, c
    print(stats()["live"] - base, interrupted > 0)
"""


def test_a_walk_after_an_interrupted_release_does_not_hang():
    """Issue 20 (1), the hang: a KeyboardInterrupt inside the release of dead Values,
    then a walk over a parent of one of them: the walk returns (it spun for ever)."""
    assert run(INTERRUPTED_RELEASE)[:2] == ["[1,", "2.0]"]


def test_an_interrupted_release_loses_no_death():
    """Issue 20 (1): wherever the interrupt lands in the release, every node is
    released in the end (the release is C's: no Python runs between taking a death
    off the queue and releasing it)."""
    assert run(INTERRUPTED_RELEASE)[2:] == ["0", "True"]
