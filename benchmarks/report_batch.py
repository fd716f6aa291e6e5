"""report.py's part for the batch scenarios (bench_batch.py, issue 17): tables and targets.

Per case, every implementation's ms/step and its ratio to nn.Linear on one thread, and
for ours the GFLOP/s of the step's dots (2 flops per multiply-add, forward + backward =
3x the forward's) and their fraction of the no-FMA peak (peers_batch.machine_peak: 2
vector ops a cycle x float64 lanes x clock, per thread); whether the rows' losses agree
(they start from the same weights); a summary over the cases; the issue's targets.
Not a runner, and no numbers of its own: everything is read from the run's JSON.
"""
from micrograd.bench.runner import fmt, median, ratio

OURS, TORCH = "ours-batch", "torch-vec"
LOSS_RTOL = 1e-9        # the rows' losses against ours (same weights, data and rates)

DESCRIPTIONS = {
    "batch": "One minibatch training step (forward, backward, SGD) of MLP({nin}, {nouts}) on "
             "{batch} rows ({loss}), every implementation from micrograd's initial weights "
             "(random.seed(1337)) on the same data. micrograd-c Batch: one example's graph, "
             "MLP(..., fused=True), run over the rows as lanes, `batch.forward(X); "
             "batch.backward()` and optim.SGD. The replay path (small sizes only): a graph "
             "of {batch} copies built once and replayed (as digits' old BatchGraph). numpy: "
             "the step by hand, matrix products on one BLAS thread. GFLOP/s: the dots' flops (2 per "
             "multiply-add, forward + backward 3x the forward's) per second.",
    "batch_memory": "Memory and build time of a Batch: RSS beyond the model (the data "
                    "allocated before the baseline) of one example's graph of {model} "
                    "(mean squared error to one-hot targets) and of that graph plus a Batch "
                    "of {rows} rows after a forward and a backward, on one thread; then the "
                    "seconds to build one example's graph of {build_model} (input leaves, "
                    "the model, the loss).",
}
PEAK = (" Peak: the no-FMA peak of the threads used ({isa}, {lanes} float64 lanes x 2 ops a "
        "cycle x {clock_ghz:.2f} GHz = {peak_gflops:.1f} GFLOP/s a thread).")
LOSS_NAMES = {"hinge": "the moons demo: hinge + 1e-4 L2, the demo's learning rates",
              "mse": "mean squared error to one-hot targets, lr {lr:g}"}


def describe(info, facts):
    """DESCRIPTIONS' text with the run's facts (the loss named in words, and the peak that
    ours' process read from its machine)."""
    facts = {**facts, **info["rows"].get(OURS, {}).get("info", {})}
    if "loss" in facts:
        facts["loss"] = LOSS_NAMES.get(facts["loss"], "{loss}").format(**facts)
    text = DESCRIPTIONS[info["scenario"]].format(**facts)
    return text + (PEAK.format(**facts) if "peak_gflops" in facts else "")


def med(info, row, metric="ms_per_step"):
    return median(info["rows"].get(row, {}).get("metrics", {}).get(metric, []))


def gflops(info, row):
    """(GFLOP/s, fraction of the no-FMA peak of its threads) of a row of ours, or Nones."""
    r, ms = info["rows"].get(row, {}), med(info, row)
    i = r.get("info", {})
    if not ms or "flops" not in i:
        return None, None
    rate = i["flops"] / (ms * 1e-3) / 1e9
    peak = i.get("peak_gflops", 0) * i.get("threads", 1)
    return rate, rate / peak if peak else None


def batch_table(info):
    rows = info["rows"]
    torch = med(info, TORCH)
    lines = ["| implementation | median ms/step | min | max | samples | us per row | vs nn.Linear "
             "(1 thread) | GFLOP/s | of no-FMA peak |", "|---|---|---|---|---|---|---|---|---|"]
    for k, r in rows.items():
        xs = r["metrics"].get("ms_per_step", [])
        if not xs:
            err = "; ".join(sorted(set(r["errors"]))) or "no result"
            lines.append(f"| {info['labels'][k]} | {err} | | | | | | | |")
            continue
        rate, frac = gflops(info, k)
        us_per_row = median(xs) * 1e3 / info["params"]["batch"]
        lines.append(f"| {info['labels'][k]} | {fmt(median(xs))} | {fmt(min(xs))} | "
                     f"{fmt(max(xs))} | {len(xs)} | {fmt(us_per_row)}"
                     f" | {ratio(torch, median(xs))} | {fmt(rate)} | "
                     f"{f'{frac:.0%}' if frac else '-'} |")
    return lines


def losses_line(info):
    """The largest relative difference of each row's losses to ours' (or nn.Linear's)."""
    rows = info["rows"]
    ref = OURS if rows.get(OURS, {}).get("info", {}).get("losses") else TORCH
    a = rows.get(ref, {}).get("info", {}).get("losses", [])
    parts = []
    for k, r in rows.items():
        b = r["info"].get("losses", [])
        n = min(len(a), len(b))
        if k == ref or not n:
            continue
        worst = max(abs(x - y) / abs(x) if x else abs(y) for x, y in zip(a[:n], b[:n]))
        parts.append(f"{k} {worst:.2g}{'' if worst <= LOSS_RTOL else ' (NOT within)'}")
    if not parts:
        return []
    return [f"Losses step by step against {ref}'s (same weights, data and rates; largest "
            f"relative difference, within {LOSS_RTOL:g} expected): {', '.join(parts)}."]


def batch_memory_table(info):
    r = info["rows"][OURS]
    if not r["metrics"]:
        return [f"Ours: {'; '.join(sorted(set(r['errors']))) or 'no result'}."]
    m = r["metrics"]
    lines = ["| micrograd-c Batch | median | min | max | samples |", "|---|---|---|---|---|"]
    for name, what in (("graph_rss_mb", "one example's graph: RSS beyond the model, MB"),
                       ("batch_rss_mb", "graph + Batch after forward and backward, MB"),
                       ("build_s", "one example's graph of the larger model: build, s")):
        xs = m.get(name, [])
        lines.append(f"| {what} | {fmt(median(xs))} | {fmt(min(xs) if xs else None)} | "
                     f"{fmt(max(xs) if xs else None)} | {len(xs)} |")
    return lines


def section_lines(info):
    """What follows a batch scenario's table."""
    return losses_line(info) if info["scenario"] == "batch" else []


# ---------------------------------------------------------------- summary and targets


def batch_infos(by_key):
    return [(k, b["extra_info"]) for k, b in by_key.items()
            if b["extra_info"]["scenario"] == "batch"]


def summary_section(by_key):
    cases = batch_infos(by_key)
    if not cases:
        return []
    lines = ["## batch: summary (issue 17)", "",
             "Medians of the sections below, ms per step; `ours / nn.Linear` is the time ratio "
             "(below 1: ours faster).", "",
             "| model | rows | Batch | nn.Linear | numpy | replay path | ours / nn.Linear | "
             "GFLOP/s | of no-FMA peak |", "|---|---|---|---|---|---|---|---|---|"]
    for _, info in cases:
        p = info["params"]
        ours, torch = med(info, OURS), med(info, TORCH)
        rate, frac = gflops(info, OURS)
        lines.append(f"| MLP({p['nin']}, {p['nouts']}) | {p['batch']} | {fmt(ours)} | "
                     f"{fmt(torch)} | {fmt(med(info, 'numpy'))} | {fmt(med(info, 'ours-replay'))} "
                     f"| {fmt(ours / torch) if ours and torch else '-'} | {fmt(rate)} | "
                     f"{f'{frac:.0%}' if frac else '-'} |")
        if "ours-batch-2t" in info["rows"]:
            two, t2 = med(info, "ours-batch-2t"), med(info, "torch-vec-2t")
            rate, frac = gflops(info, "ours-batch-2t")
            lines.append(f"| MLP({p['nin']}, {p['nouts']}), 2 threads | {p['batch']} | "
                         f"{fmt(two)} | {fmt(t2)} | - | - | "
                         f"{fmt(two / t2) if two and t2 else '-'} | {fmt(rate)} | "
                         f"{f'{frac:.0%}' if frac else '-'} |")
    return lines + [""]


def per_row(by_key, key):
    info = by_key.get(key, {}).get("extra_info")
    ms = med(info, OURS) if info else None
    return ms / info["params"]["batch"] if ms else None


def target(what, required, got, met):
    return f"| 17 | {what} | {required} | {got} | - | {met} |"


def targets(by_key):
    """Issue 17's targets as rows of report.py's targets table."""
    out = []
    ratio_targets = [  # (case, what, the other row, ours must be at least this many times faster)
        ("batch[moons]", "moons step (100 rows) through Batch", "numpy", 1, "numpy by hand"),
        ("batch[mlp64-32]", "MLP(64, [64, 64, 10]), 32 rows, Batch", TORCH, 2, "nn.Linear"),
        ("batch[mlp784-128]", "MLP(784, [128, 10]), 128 rows, Batch", TORCH, 1 / 2.5,
         "nn.Linear"),
        ("batch[mlp784x256-64]", "MLP(784, [256, 256, 10]), 64 rows, Batch", TORCH, 1 / 2.5,
         "nn.Linear"),
    ]
    for key, what, other, need, name in ratio_targets:
        info = by_key.get(key, {}).get("extra_info")
        ours, ref = (med(info, OURS), med(info, other)) if info else (None, None)
        if not ours or not ref:
            continue
        required = f">= {need:g}x faster than {name}" if need >= 1 else \
            f"at most {1 / need:g}x slower than {name}"
        how = f"{fmt(ref / ours)}x faster" if ours <= ref else f"{fmt(ours / ref)}x slower"
        out.append(target(what, required, f"{how} ({fmt(ours)} vs {fmt(ref)} ms)",
                          "yes" if ref / ours >= need else "NO"))
    a, b = per_row(by_key, "batch[mlp784-64]"), per_row(by_key, "batch[mlp784-512]")
    if a and b:
        out.append(target("MLP(784, [128, 10]): cost per row flat in B, 512 rows vs 64",
                          "<= 1.2x", f"{fmt(b / a)}x ({fmt(b * 1e3)} vs {fmt(a * 1e3)} us/row)",
                          "yes" if b / a <= 1.2 else "NO"))
    info = by_key.get("batch[mlp784-128]", {}).get("extra_info")
    one, two = (med(info, OURS), med(info, "ours-batch-2t")) if info else (None, None)
    if one and two:
        out.append(target("MLP(784, [128, 10]), 128 rows: 2 threads vs 1", ">= 1.7x",
                          f"{fmt(one / two)}x", "yes" if one / two >= 1.7 else "NO"))
    mem = by_key.get("batch_memory", {}).get("extra_info")
    if mem and mem["rows"][OURS]["metrics"]:
        rss, build = med(mem, OURS, "batch_rss_mb"), med(mem, OURS, "build_s")
        out.append(target(f"a Batch of {mem['params']['rows']} rows of MLP(784, [128, 10]) "
                          f"beyond the model", "<= 64 MB", f"{fmt(rss)} MB",
                          "yes" if rss <= 64 else "NO"))
        out.append(target("one example's graph of MLP(784, [256, 256, 10]): build", "<= 1 s",
                          f"{fmt(build)} s", "yes" if build <= 1 else "NO"))
    return out
