"""Turn pytest-benchmark's JSON into benchmarks/RESULTS.md and benchmarks/speedups.png.

    python benchmarks/report.py benchmarks/results.json [--out DIR]

Reads the per-implementation samples that harness.interleave() stored in each
benchmark's extra_info (pytest-benchmark's own round times are not results) and
writes one table per scenario: median, min, max, and ratios to micrograd 0.1.0
and to PyTorch, all from the same run. Also prints the tables. Not a runner.
"""
import argparse
import json
import sys
from pathlib import Path

import report_batch  # the batch scenarios' tables and targets (issue 17)
from micrograd.bench.runner import fmt, median, ratio  # the tables' numbers

HERE = Path(__file__).resolve().parent
REF = "mg010"                  # the baseline of every speed-up
TARGETS = [  # (issue, what, scenario key, metric, row, against, at least this speed-up)
    ("2, 11", "build (DAG): time per op", "build", "ns_per_op", "ours", REF, 15),
    ("11", "build (chain): time per op", "build_chain", "ns_per_op", "ours", REF, 15),
    ("2", "backward: time per node", "backward", "ns_per_node", "ours", REF, 50),
    ("3", "demo: one training step", "demo", "ms_per_step", "ours", REF, 30),
    ("10", "demo step, fast path", "demo", "ms_per_step", "ours-fast", REF, 1000),
    ("10", "demo step, fast path", "demo", "ms_per_step", "ours-fast", "torch-vec", 1),
    ("10", "MLP(64, [64, 64, 10]) step, fast path", "larger[mlp64]", "ms_per_step", "ours-fast",
     REF, 3000),
    ("10", "MLP(64, [64, 64, 10]) step, fast path", "larger[mlp64]", "ms_per_step", "ours-fast",
     "torch-vec", 1 / 3),
]
MAX_TARGETS = [  # (issue, what, scenario key, metric, row, at most this, unit, an aim only)
    ("11", "build (DAG): time per op", "build", "ns_per_op", "ours", 450, "ns", False),
    ("11", "build (chain): time per op", "build_chain", "ns_per_op", "ours", 450, "ns", False),
    ("11", "a leaf held by Python: RSS per leaf", "memory_leaf", "rss_bytes_per_leaf", "ours",
     120, "B", True),
]
BATCH_CASES = ["moons", "mlp64-32", "mlp784-64", "mlp784-128", "mlp784-512", "mlp784x256-64"]
MAX_REPLAY_NS = 5              # issue 10: replay forward + backward of an unfused graph
MAX_ARENA_BYTES = 48
LOSS_RTOL = 1e-9               # ours-fast's losses against ours'


def key_of(bench):
    """The scenario name of a benchmark: build, backward, ..., larger[mlp64]."""
    info = bench["extra_info"]
    param = bench.get("param")
    return info["scenario"] + (f"[{param}]" if param else "")


def round_ratios(rows, metric, a, b):
    """b's median over a's median, round by round: the spread of a ratio."""
    ra, rb = rows[a]["per_round"].get(metric, []), rows[b]["per_round"].get(metric, [])
    return [median(y) / median(x) for x, y in zip(ra, rb) if x and y]


def round_medians(row, metric):
    """The median of each round's samples of metric, for a row of one implementation."""
    return [median(xs) for xs in row["per_round"].get(metric, []) if xs]


# ---------------------------------------------------------------- tables

def time_table(info):
    rows, metric, unit = info["rows"], info["primary"], info["unit"]
    med = {k: median(r["metrics"].get(metric, [])) for k, r in rows.items()}
    refs = [(REF, "micrograd 0.1.0")] + [(k, "PyTorch " + ("op for op" if k == "torch-scalar"
                                                             else "vectorised"))
                                        for k in ("torch-scalar", "torch-vec") if k in rows]
    head = (f"| implementation | median {unit} | min | max | samples |"
            + "".join(f" vs {name} |" for k, name in refs if k in rows))
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for k, r in rows.items():
        xs = r["metrics"].get(metric, [])
        label = info["labels"][k]
        if not xs:
            lines.append(f"| {label} | {'; '.join(sorted(set(r['errors']))) or 'no result'} |"
                         + " |" * (head.count("|") - 3))
            continue
        cells = [fmt(med[k]), fmt(min(xs)), fmt(max(xs)), str(len(xs))]
        cells += [ratio(med.get(ref), med[k]) for ref, _ in refs if ref in rows]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def deep_table(info):
    lines = ["| implementation | backward ns/node (median) | min | max | build ns/op | result |",
             "|---|---|---|---|---|---|"]
    for k, r in info["rows"].items():
        xs, b = r["metrics"].get("ns_per_node", []), r["metrics"].get("build_ns_per_op", [])
        result = "; ".join(sorted(set(r["errors"]))) or "ok"
        lines.append(f"| {info['labels'][k]} | {fmt(median(xs))} | {fmt(min(xs) if xs else None)} "
                     f"| {fmt(max(xs) if xs else None)} | {fmt(median(b))} | {result} |")
    return lines


def memory_table(info):
    rows = info["rows"]
    ref = median(rows.get(REF, {}).get("metrics", {}).get("rss_bytes_per_node", []))
    lines = ["| implementation | peak RSS MB | RSS bytes/node | arena bytes/node | "
             "arena bytes/live node | vs micrograd 0.1.0 |", "|---|---|---|---|---|---|"]
    for k, r in rows.items():
        m = {name: median(xs) for name, xs in r["metrics"].items()}
        err = "; ".join(sorted(set(r["errors"])))
        lines.append(f"| {info['labels'][k]} | {fmt(m.get('peak_rss_mb'))} "
                     f"| {fmt(m.get('rss_bytes_per_node'))} | {fmt(m.get('arena_bytes_per_node'))} "
                     f"| {fmt(m.get('arena_bytes_per_live_node'))} "
                     f"| {ratio(ref, m.get('rss_bytes_per_node'))} smaller{' ' + err if err else ''} |")
    return lines


def leaf_table(info):
    rows = info["rows"]
    ref = median(rows.get(REF, {}).get("metrics", {}).get("rss_bytes_per_leaf", []))
    lines = ["| implementation | RSS bytes/leaf (median) | min | max | samples | "
             "arena bytes/node | vs micrograd 0.1.0 |", "|---|---|---|---|---|---|---|"]
    for k, r in rows.items():
        xs = r["metrics"].get("rss_bytes_per_leaf", [])
        err = "; ".join(sorted(set(r["errors"])))
        if not xs:
            lines.append(f"| {info['labels'][k]} | {err or 'no result'} | | | | | |")
            continue
        arena = median(r["metrics"].get("arena_bytes_per_node", []))
        lines.append(f"| {info['labels'][k]} | {fmt(median(xs))} | {fmt(min(xs))} "
                     f"| {fmt(max(xs))} | {len(xs)} | {fmt(arena)} "
                     f"| {ratio(ref, median(xs))} smaller{' ' + err if err else ''} |")
    return lines


PYOPS_COLUMNS = [  # (metric, header)
    ("c_ns_per_node", "ns per C node (graph A)"),
    ("py_ns_per_node", "ns per Python node ((tB - tA) / k)"),
    ("mixed_ns_per_node", "graph B: ns per node"),
]


def pyops_table(info):
    rows = info["rows"]
    head = "| implementation | " + " | ".join(
        f"{h}, median (min - max)" for _, h in PYOPS_COLUMNS) + " | samples |"
    lines = [head, "|" + "---|" * (len(PYOPS_COLUMNS) + 2)]
    for k, r in rows.items():
        m = r["metrics"]
        if not m:
            err = "; ".join(sorted(set(r["errors"]))) or "no result"
            lines.append(f"| {info['labels'][k]} | {err} |" + " |" * len(PYOPS_COLUMNS))
            continue
        cells = [f"{fmt(median(m.get(name, [])))} ({fmt(min(m[name]))} - {fmt(max(m[name]))})"
                 if m.get(name) else "-" for name, _ in PYOPS_COLUMNS]
        lines.append(f"| {info['labels'][k]} | " + " | ".join(cells)
                     + f" | {len(m.get('py_ns_per_node', []))} |")
    return lines


def gil_table(info):
    rows = info["rows"]
    labels = list(rows)
    base = median(rows[labels[0]]["metrics"].get("ns_per_op", []))
    lines = ["| build of the engine | median ns/op | min | max | samples | minus default |",
             "|---|---|---|---|---|---|"]
    for k in labels:
        xs = rows[k]["metrics"].get("ns_per_op", [])
        if not xs:
            lines.append(f"| {k} | {'; '.join(rows[k]['errors'])} | | | | |")
            continue
        lines.append(f"| {k} | {fmt(median(xs))} | {fmt(min(xs))} | {fmt(max(xs))} | {len(xs)} "
                     f"| {median(xs) - base:+.0f} |")
    return lines


def ab_rows(info):
    """The A/B scenarios' row keys (previous-*): (this tree's, the baseline's)."""
    ab, labels = info.get("ab", {}), list(info["rows"])
    this = ab.get("this_label", labels[0])
    base = ab.get("baseline_label", next((k for k in labels if k != this), this))
    return this, base


def previous_table(info):
    """The A/B scenarios (bench_previous.py): each build's medians, and this / baseline."""
    rows, metric, unit = info["rows"], info["primary"], info["unit"]
    this, base = ab_rows(info)
    ref = median(rows[base]["metrics"].get(metric, []))
    lines = [f"| build of the engine | median {unit} | min | max | samples | this / baseline "
             f"(medians) | per-round range |", "|---|---|---|---|---|---|---|"]
    for k in (this, base):
        xs = rows[k]["metrics"].get(metric, [])
        if not xs:
            lines.append(f"| {k} | {'; '.join(sorted(set(rows[k]['errors']))) or 'no result'} "
                         f"| | | | | |")
            continue
        if k == base:
            rel, spread = "1 (reference)", "-"
        else:
            r = median(xs) / ref if ref else None
            rel = f"{r:.3f} ({(r - 1) * 100:+.1f}%)" if r else "-"
            per = round_ratios(rows, metric, base, this)
            spread = f"{min(per):.3f} - {max(per):.3f}" if per else "-"
        lines.append(f"| {k} | {fmt(median(xs))} | {fmt(min(xs))} | {fmt(max(xs))} | {len(xs)} "
                     f"| {rel} | {spread} |")
    return lines


REPLAY_ROWS = [  # (metric, what it times)
    ("backward_unkept_ns_per_node", "backward() before any forward(): no kept order "
                                    "(as the backward scenario)"),
    ("first_forward_ns_per_node", "first forward(): sorts the graph, keeps the order"),
    ("forward_ns_per_node", "replay forward()"),
    ("backward_ns_per_node", "backward() over the kept order"),
]


def replay_table(info):
    r = info["rows"]["ours"]
    if not r["metrics"]:
        return [f"Ours: {'; '.join(sorted(set(r['errors']))) or 'no result'}."]
    lines = ["| micrograd-c (ours) | median ns/node | min | max | samples |",
             "|---|---|---|---|---|"]
    for metric, what in REPLAY_ROWS:
        xs = r["metrics"].get(metric, [])
        lines.append(f"| {what} | {fmt(median(xs))} | {fmt(min(xs) if xs else None)} "
                     f"| {fmt(max(xs) if xs else None)} | {len(xs)} |")
    return lines


def fast_path_lines(info):
    """ours-fast against PyTorch nn.Linear, and its losses against ours (same model and steps)."""
    rows, metric, unit = info["rows"], info["primary"], info["unit"]
    if "ours-fast" not in rows:
        return []
    out = []
    fast = median(rows["ours-fast"]["metrics"].get(metric, []))
    vec = median(rows.get("torch-vec", {}).get("metrics", {}).get(metric, []))
    if fast and vec:
        out.append(f"Fast path vs PyTorch nn.Linear: {fmt(max(vec, fast) / min(vec, fast))}x "
                   f"{'faster' if fast < vec else 'slower'} ({fmt(fast)} vs {fmt(vec)} {unit}, "
                   f"medians).")
    a = rows.get("ours", {}).get("info", {}).get("losses", [])
    b = rows["ours-fast"]["info"].get("losses", [])
    diffs = [abs(x - y) / abs(x) if x else abs(y) for x, y in zip(a, b)]
    if diffs:
        ok = all(d <= LOSS_RTOL for d in diffs)
        out.append(f"Fast path's per-step losses vs ours (same model, data and learning rates): "
                   f"largest relative difference {max(diffs):.2g} over the first {len(diffs)} "
                   f"steps ({'within' if ok else 'NOT within'} {LOSS_RTOL:g}).")
    else:
        out.append("Fast path's losses: not compared (ours or ours-fast has none).")
    return out


DESCRIPTIONS = {
    "build": "Build a graph of {ops:,} ops through operator overloading (+ * ** relu tanh), "
             "one build per fresh process. Lower is better; `vs X` = X's median / this row's "
             "median (how many times faster than X).",
    "backward": "One backward pass over that graph ({nodes:,} nodes, leaves included), built "
                "outside the clock, one per fresh process.",
    "replay": "A graph built once and replayed: build's graph ({nodes:,} nodes, leaves "
              "included, unfused), one process per round; in it, one backward(), the first "
              "forward(), then {reps} pairs of a replay forward() and a backward() over the "
              "order forward() kept (ns per node of the whole graph). Ours only: micrograd "
              "0.1.0 and PyTorch op for op have no replay.",
    "deep": "Backward through a chain {nodes:,} nodes deep (tanh, + x, ...). micrograd 0.1.0's "
            "recursive topological sort fails: that is its row.",
    "memory": "RSS of one graph of {nodes:,} nodes: peak RSS of the process, and (RSS after the "
              "build - RSS before) / nodes; ours also from micrograd.engine.stats(). Smaller is "
              "better; `vs` = micrograd 0.1.0's RSS bytes per node / this row's.",
    "demo": "One training step of the moons demo: MLP(2, [16, 16, 1]), 100 points, SVM loss + "
            "L2, zero_grad, backward, SGD; unchanged user code (value_step, in "
            "micrograd/bench/scenarios.py). "
            "The fast path builds that graph once, with MLP(..., fused=True), off the clock; "
            "a step is loss.forward() (a replay in C), the accuracy from get_data of the "
            "scores, optim.SGD's zero_grad(), loss.backward(), step() (scenarios.fast_step).",
    "larger": "One training step of MLP({nin}, {nouts}) on a batch of {batch}, mean squared "
              "error to one-hot targets, SGD. The fast path builds the graph once (inputs and "
              "targets leaves, MLP(..., fused=True)) and replays it as in demo.",
    "build_chain": "Build a chain of {ops:,} ops through operator overloading, "
                   "`x = ((x * c + z).relu()) ** 2` repeated (c = 0.5, z = 0.25 and x's start "
                   "0.5 leaves made before the clock: constants as leaves), one build per fresh "
                   "process. Lower is better; `vs X` = X's median / this row's median.",
    "backward_pyops": "Backward over a graph that mixes built-in (C) ops and ops defined in "
                      "Python, micrograd's way (a `sin` whose `_backward` is a Python closure, "
                      "peers.python_sin). Graph A: build's DAG ({nodes:,} nodes, leaves "
                      "included, built-in ops only); graph B: the same DAG where one unit "
                      "in {py_every} ends in `.sin()` ({py_nodes:,} Python nodes more, "
                      "{py_share:.1%} of B's nodes). Both built once per process off the clock "
                      "and kept alive; then {reps} times a timed backward() of each (order "
                      "A, B then B, A alternating). ns per C node = tA / A's nodes; ns per "
                      "Python node = (tB - tA) / Python nodes, what one Python node adds to a "
                      "backward, assuming A's nodes cost the same in B. Every node of "
                      "micrograd 0.1.0 is Python (its built-in ops too), so its Python-node "
                      "difference is about one node's cost and within its noise: its row is "
                      "for reference.",
    "memory_leaf": "RSS of {leaves:,} leaves held by Python, `Value(random number)` each "
                   "kept in a list, one process per round: (RSS after - RSS before) / leaves. "
                   "The list is allocated before the baseline (its {list_bytes_per_entry:.0f} B "
                   "per entry not counted); the number is made as a user writes it, so "
                   "micrograd 0.1.0's row includes the float object it keeps (24 B). Smaller "
                   "is better; `vs` = micrograd 0.1.0's bytes per leaf / this row's.",
    "gil": "Per-op build cost of three builds of the engine (scratch copies, same sources), "
           "interleaved: what micrograd/_build.py's thread-safety choice costs "
           "({ops:,}-op build graph).",
}
DESCRIPTIONS.update(report_batch.DESCRIPTIONS)
AB = ("A/B against a previous revision of this engine (benchmarks/bench_previous.py, "
      "MG_BENCH_BASELINE={baseline_rev}): two builds compiled identically in scratch copies, "
      "this tree ({tree}) and git revision {baseline} (`git archive`), run interleaved "
      "through PYTHONPATH with the same peers.py; graphs of built-in ops only (no "
      "Python-defined op). ")
AB_END = (" Lower is better; `this / baseline` = this tree's median / the baseline's (below 1: "
          "this tree faster), per-round range the same ratio round by round.")
DESCRIPTIONS.update({
    "previous-build": AB + "Build's DAG: {ops:,} ops through operator overloading "
                           "(+ * ** relu tanh), one build per fresh process." + AB_END,
    "previous-build_chain": AB + "Build_chain's chain: {ops:,} ops, "
                                 "`x = ((x * c + z).relu()) ** 2` repeated, one build per "
                                 "fresh process." + AB_END,
    "previous-backward": AB + "One backward pass over build's DAG ({nodes:,} nodes, leaves "
                              "included), built outside the clock, one per fresh process."
                         + AB_END,
})


def scenario_section(key, bench):
    info = bench["extra_info"]
    name = info["scenario"]
    facts = {**info["params"], **info.get("ab", {}),
             **next((r["info"] for r in info["rows"].values() if r["info"]), {})}
    facts.setdefault("ops", facts.get("n_ops"))
    facts.setdefault("leaves", facts.get("n_leaves"))
    facts.setdefault("nodes", facts.get("depth", 0) + 1 if "depth" in facts else facts.get("n_ops"))
    title = f"## {key}"
    try:
        text = (report_batch.describe(info, facts) if name in report_batch.DESCRIPTIONS
                else DESCRIPTIONS[name].format(**facts))
    except (KeyError, ValueError, TypeError):   # no implementation reported its sizes
        text = DESCRIPTIONS[name].split(". ")[0] + " (sizes: no implementation reported)."
    rounds = f"{info['rounds']} interleaved rounds, one fresh process per implementation per round"
    steps = "; ".join(f"{info['labels'][k]}: {r['job'].get('warmup', 0)} warm-up + "
                      f"{r['job']['steps']} timed steps per process"
                      for k, r in info["rows"].items() if r["job"] and "steps" in r["job"])
    table = {"deep": deep_table, "memory": memory_table, "gil": gil_table,
             "replay": replay_table, "memory_leaf": leaf_table,
             "backward_pyops": pyops_table, "previous-build": previous_table,
             "previous-build_chain": previous_table,
             "previous-backward": previous_table, "batch": report_batch.batch_table,
             "batch_memory": report_batch.batch_memory_table}.get(name, time_table)
    out = [title, "", text + f" {rounds}." + (f" Steps: {steps}." if steps else ""), ""]
    out += table(info)
    fast = fast_path_lines(info) + report_batch.section_lines(info)
    out += [""] + fast if fast else []
    if name == "demo" and "ours" in info["rows"] and REF in info["rows"]:
        a = info["rows"]["ours"]["info"].get("losses", [None])[0]
        b = info["rows"][REF]["info"].get("losses", [None])[0]
        out += ["", f"First-step loss: ours {a!r}, micrograd 0.1.0 {b!r} "
                    f"({'equal' if a == b else 'DIFFERENT'})."]
    return out + [""]


def targets_section(by_key):
    out = []    # rows, each starting "| <issue> |"; sorted by issue at the end
    for issue, what, key, metric, row, against, need in TARGETS:
        info = by_key.get(key, {}).get("extra_info")
        if not info or against not in info["rows"] or row not in info["rows"]:
            continue
        a = median(info["rows"][row]["metrics"].get(metric, []))
        b = median(info["rows"][against]["metrics"].get(metric, []))
        per = round_ratios(info["rows"], metric, row, against)
        got = b / a if a and b else None
        spread = f"{fmt(min(per))}x - {fmt(max(per))}x" if per else "-"
        name = "micrograd 0.1.0" if against == REF else "PyTorch nn.Linear"
        required = f"at most {1 / need:.3g}x slower than" if need < 1 else f">= {need}x vs"
        out.append(f"| {issue} | {what} | {required} {name} | "
                   f"{f'{fmt(got)}x' if got else '-'} | {spread} | "
                   f"{'yes' if got and got >= need else 'NO'} |")
    replay = by_key.get("replay", {}).get("extra_info")
    if replay and "ours" in replay["rows"]:
        m = replay["rows"]["ours"]["metrics"]
        fw, bw = median(m.get("forward_ns_per_node", [])), median(m.get("backward_ns_per_node", []))
        if fw and bw:
            out.append(f"| 10 | replay of an unfused graph: forward + backward per node | <= "
                       f"{MAX_REPLAY_NS} ns | {fmt(fw + bw)} ns ({fmt(fw)} + {fmt(bw)}) | - | "
                       f"{'yes' if fw + bw <= MAX_REPLAY_NS else 'NO'} |")
    mem = by_key.get("memory", {}).get("extra_info")
    if mem and "ours" in mem["rows"]:
        arena = median(mem["rows"]["ours"]["metrics"].get("arena_bytes_per_node", []))
        out.append(f"| 10 | arena bytes per node | <= {MAX_ARENA_BYTES} | {fmt(arena)} | - | "
                   f"{'yes' if arena is not None and arena <= MAX_ARENA_BYTES else 'NO'} |")
    for issue, what, key, metric, row, most, unit, aim in MAX_TARGETS:
        info = by_key.get(key, {}).get("extra_info")
        if not info or row not in info["rows"]:
            continue
        a = median(info["rows"][row]["metrics"].get(metric, []))
        per = round_medians(info["rows"][row], metric)
        spread = f"{fmt(min(per))} - {fmt(max(per))} {unit}" if per else "-"
        out.append(f"| {issue} | {what}, {info['labels'][row]} | {'aim: ' if aim else ''}<= "
                   f"{most} {unit} | {f'{fmt(a)} {unit}' if a else '-'} | {spread} | "
                   f"{'yes' if a and a <= most else 'NO'} |")
    pyops = by_key.get("backward_pyops", {}).get("extra_info")
    if pyops and "ours" in pyops["rows"]:
        m = pyops["rows"]["ours"]["metrics"]
        c, py = median(m.get("c_ns_per_node", [])), median(m.get("py_ns_per_node", []))
        per = round_medians(pyops["rows"]["ours"], "py_ns_per_node")
        spread = f"{fmt(min(per))} - {fmt(max(per))} ns per Python node" if per else "-"
        out.append(f"| 11 | backward over a graph with Python-defined ops, ours | reported, no "
                   f"bound | {fmt(c)} ns per C node, {fmt(py)} ns per Python node | {spread} "
                   f"| - |")
    out += previous_summary(by_key)
    out += report_batch.targets(by_key)
    first_issue = lambda row: int(row.split("|")[1].split(",")[0])
    return (["## Targets (issues 2, 3, 10, 11 and 17)", "",
             "| issue | target | required | measured (ratio of medians) | per-round range | met |",
             "|---|---|---|---|---|---|"] + sorted(out, key=first_issue) + [""])


PREVIOUS = [("previous-build", "build (DAG)"), ("previous-build_chain", "build (chain)"),
            ("previous-backward", "backward")]


def previous_summary(by_key):
    """One row for the A/B against a previous revision: this / baseline per scenario."""
    got, spreads, base = [], [], None
    for key, what in PREVIOUS:
        info = by_key.get(key, {}).get("extra_info")
        if not info:
            continue
        this, b = ab_rows(info)
        base = info.get("ab", {}).get("baseline", b)
        metric, rows = info["primary"], info["rows"]
        a = median(rows[this]["metrics"].get(metric, []))
        ref = median(rows[b]["metrics"].get(metric, []))
        per = round_ratios(rows, metric, b, this)
        got.append(f"{what} {a / ref:.3f}" if a and ref else f"{what} -")
        spreads.append(f"{min(per):.3f} - {max(per):.3f}" if per else "-")
    if not got:
        return []
    return [f"| 11 | graphs without Python-defined ops: build and backward as fast as before, "
            f"this tree / {base} (time ratio, below 1 faster) | unchanged: reported, no bound "
            f"| {'; '.join(got)} | {'; '.join(spreads)} | - |"]


def machine_section(data):
    mi, run = data["machine_info"], data.get("mg", {})
    mg = mi.get("mg", {})
    commit = data.get("commit_info", {})
    note = run.get("note") or ""
    cmd = run.get("command", "?")
    make = run.get("make")
    lines = [
        "## Machine and command", "",
        f"- Measured: {run.get('finished', data.get('datetime', '?'))}"
        + (f", commit {commit.get('id', '?')[:10]}{' (uncommitted changes)' if commit.get('dirty') else ''}"
           if commit else ""),
        f"- CPU: {mg.get('cpu_model', mi.get('cpu', {}).get('brand_raw', '?'))}, "
        f"{mg.get('cores', '?')} cores; load average {fmt_load(mg.get('loadavg_start'))} at start, "
        f"{fmt_load(run.get('loadavg_end'))} at the end",
        f"- Python {mg.get('python', mi.get('python_version'))} ({mi.get('python_implementation', '')}), "
        f"{mg.get('gcc', '?')}",
        f"- Engine compile flags (micrograd/_build.py): `{mg.get('compile_flags', '?')}`; GIL: "
        f"{mg.get('gil', '?')}",
        f"- PyTorch: one thread (torch.set_num_threads(1)), CPU, float64",
        f"- Command: `{make}` = `{cmd}`, then `python benchmarks/report.py ...`" if make
        else f"- Command: `{cmd}`, then `python benchmarks/report.py ...`",
    ]
    if run.get("quick"):
        lines.append("- QUICK MODE (MG_BENCH_QUICK=1): smaller sizes and fewer rounds than "
                     "the scenarios describe; not the published numbers")
    if note:
        lines.append(f"- Note: {note}")
    return lines + [""]


def fmt_load(load):
    return "/".join(f"{x:.2f}" for x in load) if load else "?"


def callgrind_section(bench):
    info = bench["extra_info"]
    return ["## callgrind: instructions per node of the C backward", "",
            f"`valgrind --tool=callgrind --toggle-collect=mg_backward` over one backward of the "
            f"build graph ({info['nodes']:,} nodes): "
            f"{info['ir']:,} instructions, **{info['ir_per_node']:.1f} per node** "
            f"(benchmarks/callgrind_backward.py). Machine-independent; it does not see cache "
            f"misses, which is where a large graph's backward spends its time.", ""] + [
            f"- {name}: {per:.1f} instructions per node" for name, per in info.get("top", [])] + [""]


def callgrind_replay_section(bench, by_key):
    info = bench["extra_info"]
    g, m = info["graph_ir_per_node"], info["mlp_ir_per_mac"]
    calls = ("first_forward", "forward", "backward")
    lines = ["## callgrind: instructions of a replay", "",
             "`valgrind --tool=callgrind --toggle-collect=mg_forward` (then `mg_backward`), "
             "one dump per call (benchmarks/callgrind_replay.py): for each graph, built once, "
             "the first forward() (it sorts the graph and keeps the order), a replay forward(), "
             "and a backward() over the kept order. Machine-independent.", "",
             "| graph | per | first forward() | replay forward() | backward, kept order |",
             "|---|---|---|---|---|",
             f"| build's graph, {info['nodes']:,} nodes, unfused | node | "
             + " | ".join(f"{g[c]:.1f}" for c in calls) + " |",
             f"| {info['mlp']}, batch {info['batch']}, MSE to one-hot | multiply-add "
             f"({info['macs']:,}) | " + " | ".join(f"{m[c]:.1f}" for c in calls) + " |"]
    plain = by_key.get("callgrind", {}).get("extra_info")
    if plain and plain.get("nodes") == info["nodes"]:
        lines += ["", f"For comparison, backward over that graph without a kept order: "
                      f"{plain['ir_per_node']:.1f} per node (above)."]
    return lines + [""]


# ---------------------------------------------------------------- chart

def ref_median(info):
    return median(info["rows"].get(REF, {}).get("metrics", {}).get(info.get("primary"), []))


def speedups_png(by_key, keys, path):
    """Bars of every implementation's speed-up over micrograd 0.1.0, per scenario."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [k for k in keys if by_key[k]["extra_info"].get("primary") in
            ("ns_per_op", "ns_per_node", "ms_per_step") and ref_median(by_key[k]["extra_info"])]
    impls = ["ours", "ours-fast", "mg010-nogc", "torch-scalar", "torch-vec"]
    labels = {}
    width = 0.8 / len(impls)
    fig, ax = plt.subplots(figsize=(10, 5))
    for j, impl in enumerate(impls):
        xs, ys = [], []
        for i, k in enumerate(keys):
            info = by_key[k]["extra_info"]
            if impl not in info["rows"]:
                continue
            labels[impl] = info["labels"][impl]
            a = median(info["rows"][impl]["metrics"].get(info["primary"], []))
            b = ref_median(info)
            if a and b:
                xs.append(i + (j - (len(impls) - 1) / 2) * width)
                ys.append(b / a)
        bars = ax.bar(xs, ys, width, label=labels.get(impl, impl))
        ax.bar_label(bars, labels=[fmt(y) for y in ys], fontsize=7)
    ax.set_yscale("log")
    ax.axhline(1, color="black", linewidth=0.8)
    ax.set_xticks(range(len(keys)), keys)
    ax.set_ylabel("speed-up vs micrograd 0.1.0 (GC on), log scale")
    ax.set_title("Speed-up over micrograd 0.1.0, medians of one interleaved run")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


# ---------------------------------------------------------------- main

def report(data):
    by_key = {key_of(b): b for b in data["benchmarks"] if "scenario" in b["extra_info"]}
    order = ["build", "build_chain", "backward", "backward_pyops", "replay", "deep", "demo",
             "larger[mlp64]", "larger[mlp784]"] + [f"batch[{c}]" for c in BATCH_CASES] + [
             "batch_memory", "memory", "memory_leaf", "gil",
             "previous-build", "previous-build_chain", "previous-backward", "callgrind",
             "callgrind-replay"]
    keys = sorted(by_key, key=lambda k: order.index(k) if k in order else len(order))
    out = ["# Benchmark results", "",
           "Written by `benchmarks/report.py` from one run of the benchmarks: every implementation "
           "interleaved with the others round by round, each in a fresh process timing itself "
           "with `time.perf_counter`, so every ratio below is measured in the same run. "
           "Medians; min and max over all samples.", ""]
    out += machine_section(data)
    out += targets_section(by_key)
    out += report_batch.summary_section(by_key)
    out += ["![Speed-ups over micrograd 0.1.0, log scale](speedups.png)", ""]
    for k in keys:
        if by_key[k]["extra_info"]["scenario"] == "callgrind":
            out += callgrind_section(by_key[k])
        elif by_key[k]["extra_info"]["scenario"] == "callgrind-replay":
            out += callgrind_replay_section(by_key[k], by_key)
        else:
            out += scenario_section(k, by_key[k])
    out += ["## Notes", "",
            "- micrograd 0.1.0 (PyPI) has no `tanh`; peers.py gives it one written like its "
            "`relu` (one closure per node) for the build, backward and deep graphs.",
            "- PyTorch vectorised draws its own initial weights (nn.Linear's), so its losses "
            "differ; its cost per step does not depend on them.",
            "- micrograd-c's rows run the user code unchanged; its `nn.Neuron` builds each "
            "neuron's sum with `engine.dot` (one C call, the same nodes as micrograd's "
            "`sum(...)`).",
            "- micrograd-c's fast path (ours-fast) is the same model (same draws), data, loss "
            "and learning rates as ours, through the fast-path API: the graph is built once "
            "off the clock (as PyTorch's tensors and layers are made off the clock), then "
            "replayed in C every step, with optim.SGD's one-call zero_grad and step.", ""]
    return "\n".join(out), by_key, keys


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", help="pytest-benchmark JSON (--benchmark-json)")
    ap.add_argument("--out", default=str(HERE), help="where RESULTS.md and speedups.png go")
    args = ap.parse_args()
    data = json.loads(Path(args.results).read_text())
    text, by_key, keys = report(data)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "RESULTS.md").write_text(text)
    try:
        speedups_png(by_key, keys, out / "speedups.png")
    except ImportError:
        print("matplotlib is not installed: no speedups.png (pip install matplotlib)",
              file=sys.stderr)
    print(text)


if __name__ == "__main__":
    main()
