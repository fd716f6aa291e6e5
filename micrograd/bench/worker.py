"""One measurement: `python worker.py '<job as JSON>'` prints one JSON line (scenarios.run).

Run as a script, never imported as micrograd.bench.worker: scenarios.py is imported as a
plain file from this folder, so no micrograd is imported before the job says which (ours,
or 0.1.0 from job["reference"]). Then this folder leaves sys.path, so that none of its
files (cli.py, runner.py, ...) can stand for a top-level module that torch or micrograd
imports.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)        # Python puts it first too, but not under PYTHONSAFEPATH
import scenarios  # noqa: E402

sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != HERE]

if __name__ == "__main__":
    scenarios.run()
