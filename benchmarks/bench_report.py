"""Summaries and the Markdown report of the engine benchmark (see ``bench_engine.py``)."""

from __future__ import annotations

import json
import os
import platform
import time
from typing import Any

#: The issue's targets: engine wall time as a fraction of the naive protocol's.
TARGETS = {"BL1": 0.15, "exhaustive": 0.4}


def summarize(label: str, pairs: list[dict[str, Any]], flops: list[tuple[float, float]]) -> dict:
    """One row: total times of the modes over ``pairs``, ratios, FLOP model, accuracy checks."""
    seconds = {mode: sum(p[mode].seconds for p in pairs) for mode in pairs[0]}
    f_naive, f_engine = sum(f[0] for f in flops), sum(f[1] for f in flops)
    achievable = 1 - f_engine / f_naive
    obtained = 1 - seconds["engine"] / seconds["naive"]

    def accuracies(mode: str) -> list[tuple[float, float]]:
        return [(p[mode].record.val_acc, p[mode].record.test_acc) for p in pairs]

    row = {"measure": label, "runs": len(pairs),
           **{f"{mode}_s": round(s, 2) for mode, s in seconds.items()},
           "ratio": round(seconds["engine"] / seconds["naive"], 3),
           "flop_ratio": round(f_engine / f_naive, 3), "achievable_saving": round(achievable, 3),
           "obtained_saving": round(obtained, 3),
           "share_of_achievable": round(obtained / achievable, 2) if achievable > 0 else None,
           "identical_accuracies": accuracies("naive") == accuracies("engine"),
           "peak_rss_naive_mb": round(max(p["naive"].peak for p in pairs) / 2**20),
           "peak_rss_engine_mb": round(max(p["engine"].peak for p in pairs) / 2**20),
           "rss_growth_naive_mb": round(max(p["naive"].growth for p in pairs) / 2**20),
           "rss_growth_engine_mb": round(max(p["engine"].growth for p in pairs) / 2**20)}
    if "keras" in seconds:
        row["ratio_to_keras"] = round(seconds["engine"] / seconds["keras"], 3)
        row["keras_max_acc_diff"] = round(max(
            max(abs(a[0] - b[0]), abs(a[1] - b[1]))
            for a, b in zip(accuracies("keras"), accuracies("engine"), strict=True)), 4)
    return row


def _target(label: str) -> str:
    return next((f"<= {v}" for k, v in TARGETS.items() if label.startswith(k)), "")


def render(results: list[dict], command: str) -> str:
    lines = ["# Engine benchmark: blockbench's engine against the naive protocol", "",
             f"Command: `{command}`", "",
             f"Machine: {platform.node()}, {os.cpu_count()} CPUs, Python "
             f"{platform.python_version()}, measured "
             f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. Times are wall seconds of "
             "runs interleaved in one process (see benchmarks/bench_engine.py), summed over the "
             "runs of a row. Peak RSS is the whole process's (every protocol's models live in "
             "it); growth is how far a run raised it.", ""]
    for res in results:
        t = res["task"]
        keras = any("keras_s" in row for row in res["rows"])
        backend = f", on {res['backend']}" if res.get("backend") else ""
        lines += [f"## {res['workload']}: {t['backbone']} {t['options'] or ''} (weights "
                  f"{t['weights']}) on {t['dataset']}{backend}", "",
                  f"{t['images']} images, {t['input_size']} px, {t['epochs']} epochs, "
                  f"partition {t['partition']} ({t['blocks']} blocks), backbone "
                  f"{t['backbone_mflops_per_image']} MFLOP per image forward, head "
                  f"{t['head_params']} parameters.", ""]
        head = ("| measure | naive s | engine s | ratio | target | FLOP ratio | achievable saving "
                "| obtained saving | share | identical accuracies | peak RSS MB naive / engine "
                "(growth in a run) |")
        lines += [head + (" Keras fit s | engine / Keras | Keras acc diff |" if keras else ""),
                  "|" + "---|" * (14 if keras else 11)]
        for row in res["rows"]:
            line = (f"| {row['measure']} | {row['naive_s']} | {row['engine_s']} | {row['ratio']} | "
                    f"{_target(row['measure'])} | {row['flop_ratio']} | "
                    f"{row['achievable_saving']:.0%} | {row['obtained_saving']:.0%} | "
                    f"{row['share_of_achievable']} | "
                    f"{'yes' if row['identical_accuracies'] else 'NO'} ({row['runs']} runs) | "
                    f"{row['peak_rss_naive_mb']} / {row['peak_rss_engine_mb']} "
                    f"(+{row['rss_growth_naive_mb']} / +{row['rss_growth_engine_mb']}) |")
            if keras:
                line += (f" {row.get('keras_s', '')} | {row.get('ratio_to_keras', '')} | "
                         f"{row.get('keras_max_acc_diff', '')} |")
            lines.append(line)
        lines += ["", f"Activation cache at the end: {res['activation_cache_mb']} MB "
                  f"(budget {res['activation_budget_mb']} MB).", ""]
        per_block = res.get("per_block", [])
        if per_block:
            lines += ["Exhaustive search, block by block (ratio: engine / naive; FLOP ratio: the "
                      "same under the FLOP model):", "",
                      "| block | first layer | naive s | engine s | ratio | FLOP ratio | val acc |",
                      "|---|---|---|---|---|---|---|"]
            lines += [f"| {b['block']} | {b['first_layer']} | {b['naive_s']} | {b['engine_s']} | "
                      f"{b['ratio']} | {b['flop_ratio']} | {b['val_acc']:.4f} |" for b in per_block]
            lines.append("")
        for key in ("q4_profile", "head_profile"):
            if key in res:
                lines += [f"{key.replace('_', ' ').capitalize()}:", "", "```",
                          json.dumps(res[key], indent=1), "```", ""]
    return "\n".join(lines)
