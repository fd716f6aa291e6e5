"""Interpreter shutdown: a process that exits while Values are alive exits cleanly.

Each test runs a short program in a subprocess and asserts exit code 0 and an
empty stderr: no segfault, no "Exception ignored in Value.__del__". The
dangerous cases are Values that die late, after the engine module's globals
are gone: in reference cycles, in module attributes, in other threads.
Not here: memory while running (test_memory.py), threads' results (test_threads.py).
"""
import subprocess
import sys
import textwrap

import pytest

def run_clean(code):
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                         text=True, timeout=120)
    assert (out.returncode, out.stderr) == (0, ""), out.stderr[-3000:]
    return out.stdout


def test_exit_with_a_few_live_values():
    run_clean("""
        from micrograd.engine import Value
        a = Value(2.0)
        b = (a * a + 1).tanh()
        b.backward()
    """)


def test_exit_with_more_live_values_than_one_release_batch():
    run_clean("""
        from micrograd.engine import Value
        keep = [Value(float(i)) * 2 for i in range(20000)]
        total = sum(keep)
        total.backward()
    """)


def test_exit_with_a_trained_model_alive():
    run_clean("""
        from micrograd.nn import MLP
        model = MLP(2, [8, 8, 1])
        for _ in range(3):
            loss = sum((model([0.5, -1.0]) - 1) ** 2 for _ in range(4))
            model.zero_grad()
            loss.backward()
            for p in model.parameters():
                p.data -= 0.01 * p.grad
    """)


def test_exit_with_values_in_builtins_which_die_last():
    run_clean("""
        import builtins
        from micrograd.engine import Value
        builtins.keep = [Value(float(i)) * 2 for i in range(10000)]
    """)


def test_exit_with_values_held_by_the_engine_module_itself():
    run_clean("""
        import micrograd.engine as engine
        from micrograd.engine import Value
        engine.keep = [Value(float(i)) * 2 for i in range(10000)]
    """)


def test_exit_with_one_value_in_a_reference_cycle():
    run_clean("""
        from micrograd.engine import Value
        box = [Value(3.0) ** 2]
        box.append(box)
    """)


def test_exit_with_many_values_in_reference_cycles():
    run_clean("""
        import gc
        from micrograd.engine import Value
        gc.disable()           # leave every cycle for the collection at exit
        class Node:
            pass
        for i in range(10000):
            n = Node()
            n.me = n
            n.v = Value(float(i)) * 3
    """)


def test_exit_while_daemon_threads_are_building_graphs():
    run_clean("""
        import threading, time
        from micrograd.engine import Value
        shared = Value(0.5)
        def work():
            while True:
                y = sum((shared * i).tanh() for i in range(50))
                y.backward()
        for _ in range(4):
            threading.Thread(target=work, daemon=True).start()
        time.sleep(0.5)
    """)


def test_exit_while_threads_holding_values_are_still_finishing():
    run_clean("""
        import threading, time
        from micrograd.engine import Value
        def work(k):
            vs = [Value(float(i)) * k for i in range(3000)]
            time.sleep(0.3)
            sum(vs).backward()
        for k in range(4):
            threading.Thread(target=work, args=(k,)).start()
    """)


def test_exit_after_a_memory_error_with_the_arena_still_full():
    out = run_clean("""
        import micrograd.engine as engine
        from micrograd.engine import Value
        from micrograd._mg import lib
        lib.mg_arena_limit(engine._arena, engine.stats()["cap"])
        hold = []
        try:
            while True:
                hold.append(Value(1.0) + 1)
        except MemoryError:
            print("MemoryError")
    """)
    assert out == "MemoryError\n"


def test_exit_from_sys_exit_deep_in_a_graph_building_function():
    run_clean("""
        import sys
        from micrograd.engine import Value
        def build(depth, x):
            if depth == 0:
                sys.exit(0)
            return build(depth - 1, x * 1.5 + 1)
        build(500, Value(0.1))
    """)


def test_exit_with_an_atexit_handler_that_runs_backward():
    out = run_clean("""
        import atexit
        from micrograd.engine import Value
        vs = [Value(1.0) + i for i in range(6000)]
        def at_exit():
            total = sum(vs)
            total.backward()
            print(total.data, vs[0].grad)
        atexit.register(at_exit)
    """)
    assert out == f"{float(sum(1 + i for i in range(6000)))} 1\n"
