"""Do two Keras backends agree? A paired comparison per target, over two results folders.

Reads the runs of two ``blockbench compare`` results folders (one trained
under ``KERAS_BACKEND=tensorflow``, one under ``KERAS_BACKEND=jax``, same task,
split and partition), and for every target both have at shared seeds compares
the test accuracies with blockbench's own paired test
(:func:`blockbench.stats.crossed.compare`: seeds and test examples as crossed
random effects, on per-example outcomes; Holm-adjusted over the targets).
Seeds are paired by number; the backends draw different random numbers from
the same seed, so the pairing adds no correlation and the test stays valid.
Also compares the validation-selected best block of each backend.

    python benchmarks/backend_agreement.py RESULTS_A RESULTS_B [--partition P] [--title T] [--out FILE.md]
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from blockbench.core.records import RunRecord
from blockbench.core.spec import parse_target
from blockbench.stats.crossed import Evidence, compare
from blockbench.stats.inference import holm
from blockbench.store.listing import load_results


def _by_target(records: list[RunRecord], partition: str | None
               ) -> tuple[str, dict[str, dict[int, RunRecord]]]:
    if partition is not None:  # block i means a different block in another partition
        records = [r for r in records if r.spec.partition in (None, partition)]
    backends = {r.spec.backend for r in records}
    if len(backends) != 1:
        raise SystemExit(f"expected runs of one backend, found {sorted(backends)}")
    out: dict[str, dict[int, RunRecord]] = defaultdict(dict)
    for r in records:
        if r.ok:
            out[r.spec.target][r.spec.seed] = r
    return backends.pop(), out


def _evidence(runs: dict[int, RunRecord]) -> dict[int, Evidence]:
    return {s: Evidence(round(r.test_acc * r.n_test), r.n_test, r.correct("test"))
            for s, r in runs.items()}


def _order(target: str) -> tuple[int, int]:
    kind, index = parse_target(target)
    return {"bl1": (0, 0), "bl2": (1, 0)}.get(kind, (2, index or 0))


def _mean_sd(runs: dict[int, RunRecord], seeds: list[int]) -> str:
    values = np.array([runs[s].test_acc for s in seeds])
    return f"{values.mean():.3f} ± {values.std(ddof=1):.3f}" if len(values) > 1 else f"{values[0]:.3f}"


def _bopt(runs: dict[str, dict[int, RunRecord]], targets: list[str], seed: int
          ) -> RunRecord | None:
    """The block with the best validation accuracy at ``seed``, among ``targets``."""
    blocks = [runs[t][seed] for t in targets if t.startswith("block:") and seed in runs[t]]
    return max(blocks, key=lambda r: (r.val_acc, -r.spec.block_index), default=None)


def report(folder_a: Path, folder_b: Path, title: str, partition: str | None = None) -> str:
    name_a, runs_a = _by_target(load_results(folder_a)[0], partition)
    name_b, runs_b = _by_target(load_results(folder_b)[0], partition)
    targets = sorted(set(runs_a) & set(runs_b), key=_order)
    rows, pvalues = [], []
    for target in targets:
        seeds = sorted(set(runs_a[target]) & set(runs_b[target]))
        result = compare(_evidence({s: runs_b[target][s] for s in seeds}),  # B - A
                         _evidence({s: runs_a[target][s] for s in seeds}))
        rows.append((target, seeds, result))
        pvalues.append(result.p)
    adjusted = holm(pvalues)
    lines = [f"## {title}", "",
             f"Test accuracy, mean ± sd over the shared seeds; difference = {name_b} - {name_a} "
             "with its 95% interval (crossed seed x example model), two-sided p and Holm-adjusted "
             "p over the targets.", "",
             f"| target | seeds | {name_a} | {name_b} | difference [95% CI] | p | Holm p | verdict |",
             "|---|---|---|---|---|---|---|---|"]
    for (target, seeds, r), p_holm in zip(rows, adjusted, strict=True):
        ci = f"{r.diff:+.3f} [{r.ci_low:+.3f}, {r.ci_high:+.3f}]" if r.ci_low is not None else "—"
        p = f"{r.p:.3f}" if r.p is not None else "—"
        ph = f"{p_holm:.3f}" if p_holm is not None else "—"
        lines.append(f"| {target} | {len(seeds)} | {_mean_sd(runs_a[target], seeds)} | "
                     f"{_mean_sd(runs_b[target], seeds)} | {ci} | {p} | {ph} | {r.verdict} |")
    disagree = [t for (t, _, r), ph in zip(rows, adjusted, strict=True)
                if ph is not None and ph < 0.05]
    lines += ["", f"{len(targets)} targets; Holm-adjusted p < 0.05 for "
              f"{len(disagree)}{': ' + ', '.join(disagree) if disagree else ''}.", ""]
    seeds = sorted(set.intersection(*(set(s) for t in targets for s in (runs_a[t], runs_b[t]))))
    picks = [(s, _bopt(runs_a, targets, s), _bopt(runs_b, targets, s)) for s in seeds]
    if any(a and b for _, a, b in picks):
        lines += ["Best block on validation (Bopt) per seed among the blocks both ran, and its "
                  "test accuracy:", "",
                  f"| seed | {name_a} Bopt | test | {name_b} Bopt | test |", "|---|---|---|---|---|"]
        for s, a, b in picks:
            if a and b:
                lines.append(f"| {s} | {a.spec.target} | {a.test_acc:.3f} | {b.spec.target} | "
                             f"{b.test_acc:.3f} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("a", type=Path)
    parser.add_argument("b", type=Path)
    parser.add_argument("--title", default="Backend agreement")
    parser.add_argument("--partition", help="only this partition's blocks (and the baselines)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    text = report(args.a, args.b, args.title, args.partition)
    if args.out:
        args.out.write_text(text)
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
