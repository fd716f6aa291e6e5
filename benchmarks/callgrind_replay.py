"""Instructions of one replay forward() and one backward() over a kept order, by callgrind.

    python benchmarks/callgrind_replay.py [N_OPS] [BATCH]

re-runs itself twice under callgrind, once with `--toggle-collect=mg_forward
--dump-before=mg_forward`, once the same for mg_backward (both toggles in one run
lose the counts of the dumps), so each call's instructions land in their own
dump. Two graphs, each built once, then
forward() (the first: it also sorts the graph and keeps the order), forward()
(the replay counted) and backward() (over the kept order, counted):
  graph  build's unfused graph of N_OPS ops (default 200,000): Ir per node, leaves included
  mlp    larger's MLP(64, [64, 64, 10], fused=True) on a batch of BATCH (default 32),
         mean squared error to one-hot targets: Ir per multiply-add of the layers
Prints one JSON line. Not a timing: instruction counts ignore cache misses.
"""
import json
import os
import random
import subprocess
import sys
import tempfile

from callgrind_backward import total_ir

NIN, NOUTS = 64, [64, 64, 10]


def measure(n_ops, batch):
    """Under callgrind: both graphs, three counted calls each; their sizes."""
    from peers import build_graph, fast_mse_graph, larger_batch
    from micrograd.engine import Value
    from micrograd.nn import MLP
    root, ops, _, xs = build_graph(Value, n_ops)
    root.forward(), root.forward(), root.backward()
    random.seed(1337)
    model = MLP(NIN, NOUTS, fused=True)
    loss, _ = fast_mse_graph(model, *larger_batch(NIN, NOUTS[-1], batch), Value)
    loss.forward(), loss.forward(), loss.backward()
    sz = [NIN] + NOUTS
    return {"nodes": ops + len(xs), "macs": batch * sum(a * b for a, b in zip(sz, sz[1:]))}


def per_call(fn, n_ops, batch):
    """Under callgrind, collecting in fn only: the Ir of each call of fn, and the sizes."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "callgrind.out")
        proc = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--toggle-collect={fn}", f"--dump-before={fn}",
             f"--callgrind-out-file={out}", sys.executable, os.path.abspath(__file__),
             str(n_ops), str(batch)],
            capture_output=True, text=True, env={**os.environ, "MG_UNDER_CALLGRIND": "1"})
        if proc.returncode != 0:
            raise SystemExit(f"valgrind failed:\n{proc.stderr[-2000:]}")
        # dump k holds what ran since dump k-1 (dump 1: nothing), the end the last call
        dumps = sorted((f for f in os.listdir(tmp) if f != "callgrind.out"),
                       key=lambda f: int(f.rsplit(".", 1)[1]))
        irs = [total_ir(os.path.join(tmp, f)) for f in dumps[1:]] + [total_ir(out)]
    return irs, json.loads(proc.stdout.strip().splitlines()[-1])


def main():
    n_ops = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    batch = int(sys.argv[2]) if len(sys.argv) > 2 else 32
    if os.environ.get("MG_UNDER_CALLGRIND"):
        print(json.dumps(measure(n_ops, batch)))
        return
    (g1, g2, m1, m2), sizes = per_call("mg_forward", n_ops, batch)
    (gb, mb), _ = per_call("mg_backward", n_ops, batch)
    graph = {"first_forward": g1, "forward": g2, "backward": gb}
    mlp = {"first_forward": m1, "forward": m2, "backward": mb}
    print(json.dumps({
        "n_ops": n_ops, "batch": batch, "mlp": f"MLP({NIN}, {NOUTS}, fused=True)", **sizes,
        "graph_ir": graph, "mlp_ir": mlp,
        "graph_ir_per_node": {k: ir / sizes["nodes"] for k, ir in graph.items()},
        "mlp_ir_per_mac": {k: ir / sizes["macs"] for k, ir in mlp.items()}}))


if __name__ == "__main__":
    main()
