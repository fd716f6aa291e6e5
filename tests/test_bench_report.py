"""benchmarks/report_batch.py: the batch tables' GFLOP/s, peak fractions and issue 17's
targets are the run's numbers. Synthetic runs: nothing is measured here."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import report_batch  # noqa: E402


def row(ms, **info):
    return {"metrics": {"ms_per_step": ms}, "per_round": {}, "errors": [], "info": info,
            "job": {}, "module": None}


def case(batch, ours=None, torch=None, **more):
    rows = {"torch-vec": row(torch or [1.0])}
    if ours:
        rows["ours-batch"] = row(ours, flops=6e9, threads=1, peak_gflops=12.0, isa="avx2",
                                 lanes=4, clock_ghz=1.5)
    rows.update(more)
    return {"extra_info": {"scenario": "batch", "rows": rows, "labels": {k: k for k in rows},
                           "params": {"nin": 3, "nouts": [2], "batch": batch, "loss": "mse",
                                      "lr": 0.1}}}


def test_gflops_are_the_flops_over_the_median_and_the_peak_counts_threads():
    info = case(4, ours=[1000.0, 2000.0, 3000.0],
                **{"ours-batch-2t": row([500.0], flops=6e9, threads=2, peak_gflops=12.0)})
    info = info["extra_info"]
    assert report_batch.gflops(info, "ours-batch") == (3.0, 3.0 / 12.0)
    assert report_batch.gflops(info, "ours-batch-2t") == (12.0, 12.0 / 24.0)
    assert report_batch.gflops(info, "torch-vec") == (None, None)     # not ours: no flops
    table = "\n".join(report_batch.batch_table(info))
    assert "| 3 | 25% |" in table and "| 12 | 50% |" in table


@pytest.mark.parametrize("ours, met", [([0.1], "yes"), ([0.2], "NO")])
def test_a_target_is_met_by_the_ratio_of_medians(ours, met):
    by_key = {"batch[mlp64-32]": case(32, ours=ours, torch=[0.3])}     # >= 2x nn.Linear
    rows = report_batch.targets(by_key)
    assert len(rows) == 1 and rows[0].endswith(f"| {met} |")


def test_cost_per_row_compares_512_rows_with_64():
    by_key = {"batch[mlp784-64]": case(64, ours=[64.0]),
              "batch[mlp784-512]": case(512, ours=[512 * 1.3])}
    (flat,) = report_batch.targets(by_key)
    assert "| 1.3x (" in flat and flat.endswith("| NO |")


def test_losses_that_disagree_are_named():
    info = case(2, ours=[1.0])["extra_info"]
    info["rows"]["ours-batch"]["info"]["losses"] = [1.0, 2.0]
    info["rows"]["torch-vec"]["info"]["losses"] = [1.0, 2.0 * (1 + 1e-6)]
    (line,) = report_batch.losses_line(info)
    assert "torch-vec 1e-06 (NOT within)" in line
