"""Instructions per node of the C backward, counted by callgrind (stable on a noisy machine).

    python benchmarks/callgrind_backward.py [N_OPS]

re-runs itself under `valgrind --tool=callgrind --toggle-collect=mg_backward`
(only instructions executed inside mg_backward and what it calls are counted),
builds build's graph of N_OPS ops (default 200,000) with our Value, calls
backward once, and prints one JSON line: Ir, nodes, Ir per node.
Not a timing: instruction counts ignore cache misses, which dominate a big graph.
"""
import json
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def measure(n_ops):
    """Under callgrind: build the graph, run backward once; return the node count."""
    sys.path.insert(0, HERE)
    from peers import build_graph
    from micrograd.engine import Value
    root, ops, _, xs = build_graph(Value, n_ops)
    root.backward()
    return ops + len(xs)


def total_ir(path):
    """The Ir total of a callgrind output file ('summary:' or 'totals:' line)."""
    with open(path) as f:
        for line in f:
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    raise ValueError(f"no totals in {path}")


def top_functions(path, n=6):
    """[(function, Ir)] of the n functions with the most instructions of their own."""
    try:
        text = subprocess.run(["callgrind_annotate", path], capture_output=True,
                              text=True).stdout
    except OSError:
        return []
    rows, table = [], False
    for line in text.splitlines():
        table = table or line.rstrip().endswith("file:function")
        m = re.match(r"\s*([\d,]+)\s+(?:\([\d.\s]+%\)\s+)?(\S+:\S+)", line)
        if table and m:
            rows.append((m.group(2).rsplit("/", 1)[-1], int(m.group(1).replace(",", ""))))
        elif table and rows and not line.strip():
            break
    return rows[:n]


def main():
    n_ops = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    if os.environ.get("MG_UNDER_CALLGRIND"):
        print(json.dumps({"nodes": measure(n_ops)}))
        return
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "callgrind.out")
        proc = subprocess.run(
            ["valgrind", "--tool=callgrind", "--toggle-collect=mg_backward",
             f"--callgrind-out-file={out}", sys.executable, os.path.abspath(__file__), str(n_ops)],
            capture_output=True, text=True, env={**os.environ, "MG_UNDER_CALLGRIND": "1"})
        if proc.returncode != 0:
            raise SystemExit(f"valgrind failed:\n{proc.stderr[-2000:]}")
        nodes = json.loads(proc.stdout.strip().splitlines()[-1])["nodes"]
        ir = total_ir(out)
        top = top_functions(out)
    print(json.dumps({"ir": ir, "nodes": nodes, "ir_per_node": ir / nodes, "n_ops": n_ops,
                      "top": [(name, count / nodes) for name, count in top]}))


if __name__ == "__main__":
    main()
