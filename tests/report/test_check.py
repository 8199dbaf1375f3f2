"""The CI regression gate: pass when nothing moved beyond tolerance, fail on drops and lost tables."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from factories import exhaustive_runs

from blockbench.core.errors import UsageError
from blockbench.report.check import (
    DROPPED,
    GATED,
    IMPROVED,
    MIN_SD_HITS,
    MISSING,
    NEW,
    OK,
    REGRESSED,
    UNTESTABLE,
    check_regression,
    drop_threshold,
)
from blockbench.report.leaderboard import build_leaderboard


def _runs(backbones=("mobilenet", "vgg16"), rng_seed=0):
    return exhaustive_runs(backbones=backbones, seeds=(0, 1, 2), n_test=500, rng_seed=rng_seed)


def _shift(runs, delta, backbone="vgg16", targets=None):
    """Move the test accuracy of some runs (all block targets by default) by ``delta``."""
    out = []
    for r in runs:
        hit = r.spec.backbone == backbone and (
            r.spec.target in targets if targets else r.spec.target.startswith("block:"))
        out.append(dataclasses.replace(r, test_acc=r.test_acc + delta) if hit else r)
    return out


def _board(runs):
    return build_leaderboard(runs, command="blockbench test")


def test_identical_results_pass():
    runs = _runs()
    result = check_regression(_board(runs), _board(runs))
    assert not result.failed
    assert result.moved == []
    assert all(m.delta == 0 for m in result.movements)


def test_a_fresh_run_with_other_noise_passes():
    result = check_regression(_board(_runs(rng_seed=0)), _board(_runs(rng_seed=1)))
    assert not result.failed, result.moved


def test_a_large_drop_fails_and_names_what_moved():
    base = _runs()
    result = check_regression(_board(base), _board(_shift(base, -0.15)))
    assert result.failed
    regressed = {(m.table.split("/")[0], m.method) for m in result.moved if m.status == REGRESSED}
    assert regressed == {("vgg16", "bopt")}  # BL1 and BL2 did not move; Q4 best is not gated
    assert ("vgg16", "q4", DROPPED) in {(m.table.split("/")[0], m.method, m.status)
                                       for m in result.moved}
    assert all(m.delta < -m.tolerance for m in result.moved if m.status == REGRESSED)


def test_improvements_are_reported_but_pass():
    base = _runs()
    result = check_regression(_board(base), _board(_shift(base, +0.15)))
    assert not result.failed
    assert {m.status for m in result.moved} == {IMPROVED}


def test_absolute_tolerance_overrides_the_derived_one():
    base = _runs()
    shifted = _board(_shift(base, -0.01, targets={"bl2"}))
    assert not check_regression(_board(base), shifted, tolerance=0.02).failed
    strict = check_regression(_board(base), shifted, tolerance=0.005)
    assert strict.failed
    assert [(m.method, m.tolerance) for m in strict.moved] == [("bl2", 0.005)]


def test_missing_table_fails_and_new_table_is_reported():
    base = _board(_runs(("mobilenet", "vgg16")))
    now = _board(_runs(("mobilenet", "xception")))
    result = check_regression(base, now)
    assert result.failed
    assert result.missing_tables == ["vgg16/flowers5/uniform/imagenet/96"]
    assert result.new_tables == ["xception/flowers5/uniform/imagenet/96"]


def test_missing_and_new_methods():
    runs = _runs(("mobilenet",))
    without_bl2 = [r for r in runs if r.spec.target != "bl2"]
    result = check_regression(_board(runs), _board(without_bl2))
    assert result.failed and [(m.method, m.status) for m in result.moved] == [("bl2", MISSING)]
    result = check_regression(_board(without_bl2), _board(runs))
    assert not result.failed and [(m.method, m.status) for m in result.moved] == [("bl2", NEW)]


def _one_table(values_base, values_now, n_test=72, method="bl2"):
    """A baseline and a rerun that differ only in ``method``'s per-seed hit counts."""
    runs = exhaustive_runs(backbones=("mobilenet",), seeds=range(len(values_base)), n_test=n_test)

    def board(hits):
        return _board([dataclasses.replace(r, test_acc=hits[r.spec.seed] / n_test)
                       if r.spec.target == method else r for r in runs])

    return board(values_base), board(values_now)


def test_the_same_drop_at_every_seed_fails():
    # Before: 11 of 72 examples lost at both seeds passed (the test-set SE was added).
    base, now = _one_table([40, 45], [29, 34])
    result = check_regression(base, now)
    assert result.failed
    [moved] = [m for m in result.moved if m.method == "bl2"]
    assert moved.status == REGRESSED and moved.delta == pytest.approx(-11 / 72)
    assert moved.seeds == 2 and moved.gated


def test_a_bit_identical_rerun_passes_with_zero_tolerance_of_noise():
    base, _ = _one_table([40, 40, 40], [40, 40, 40])
    result = check_regression(base, base)
    assert not result.failed and result.moved == []


def test_the_threshold_is_a_one_sided_paired_t_with_bonferroni():
    from scipy import stats

    base, now = _one_table([40, 45, 50], [38, 41, 49])  # d = -2, -4, -1 hits
    result = check_regression(base, now, alpha=0.05)
    gated = [m for m in result.movements if m.gated]
    assert [m.method for m in gated] == list(GATED)
    assert result.level == pytest.approx(0.05 / 3)
    [bl2] = [m for m in gated if m.method == "bl2"]
    sd = stats.tstd([-2, -4, -1])
    assert bl2.tolerance == pytest.approx(stats.t.ppf(1 - 0.05 / 3, 2) * sd / math.sqrt(3) / 72)
    assert bl2.delta == pytest.approx(-7 / 3 / 72) and bl2.status == OK  # within seed noise
    assert drop_threshold(np.array([0.0, 0.0]), 0.05) == pytest.approx(
        stats.t.ppf(0.95, 1) * MIN_SD_HITS / math.sqrt(2))


def test_only_shared_seeds_are_compared():
    runs = _runs(("mobilenet",))
    extra = [dataclasses.replace(r, spec=dataclasses.replace(r.spec, seed=9), test_acc=0.0)
             for r in runs if r.spec.seed == 0]
    result = check_regression(_board(runs), _board(runs + extra))
    assert not result.failed
    assert {m.seeds for m in result.movements} == {3}


def test_one_shared_seed_cannot_be_gated_and_fails_unless_a_tolerance_is_given():
    runs = [r for r in _runs(("mobilenet",)) if r.spec.seed == 0]
    result = check_regression(_board(runs), _board(runs))
    assert result.failed
    assert {m.method for m in result.movements if m.status == UNTESTABLE} == set(GATED)
    assert all(m.status == "ok" for m in result.movements if not m.gated)
    assert not check_regression(_board(runs), _board(runs), tolerance=0.01).failed


def test_other_seeds_than_the_baseline_cannot_be_gated():
    runs = _runs(("mobilenet",))
    moved = [dataclasses.replace(r, spec=dataclasses.replace(r.spec, seed=r.spec.seed + 10))
             for r in runs]
    result = check_regression(_board(runs), _board(moved))
    assert result.failed and {m.seeds for m in result.movements} == {0}


def test_a_drop_of_a_secondary_method_is_reported_not_failed():
    base = _runs(("mobilenet",))
    q1_blocks = {"block:0", "block:1"}  # Q1 of 8 blocks
    result = check_regression(_board(base), _board(_shift(base, -0.15, backbone="mobilenet",
                                                          targets=q1_blocks)))
    assert not result.failed
    assert [(m.method, m.status) for m in result.moved] == [("q1", DROPPED)]


def test_bad_tolerances_and_alphas_are_usage_errors():
    board = _board(_runs(("mobilenet",)))
    with pytest.raises(UsageError, match=r"tolerance -0\.1"):
        check_regression(board, board, tolerance=-0.1)
    for alpha in (0, 1, -0.5):
        with pytest.raises(UsageError, match=f"alpha {alpha} is not valid"):
            check_regression(board, board, alpha=alpha)
