"""The CI regression gate: pass when nothing moved beyond tolerance, fail on drops and lost tables."""

from __future__ import annotations

import dataclasses
import math

import pytest
from factories import exhaustive_runs

from blockbench.core.errors import UsageError
from blockbench.report.check import (
    DEFAULT_SIGMAS,
    IMPROVED,
    MISSING,
    NEW,
    REGRESSED,
    check_regression,
    derived_tolerance,
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
    assert ("vgg16", "bopt") in regressed and ("vgg16", "q4") in regressed
    assert not any(t == "mobilenet" for t, _ in regressed)
    assert all(m.delta < -m.tolerance for m in result.moved if m.status == REGRESSED)


def test_improvements_are_reported_but_pass():
    base = _runs()
    result = check_regression(_board(base), _board(_shift(base, +0.15)))
    assert not result.failed
    assert {m.status for m in result.moved} == {IMPROVED}


def test_absolute_tolerance_overrides_the_derived_one():
    base = _runs()
    shifted = _board(_shift(base, -0.01, targets={"bl2"}))
    assert not check_regression(_board(base), shifted).failed
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


def test_derived_tolerance_formula():
    board = _board(_runs(("mobilenet",)))
    bopt = board.tables[0].method("bopt")
    s = bopt.summary
    seed_se = s.sd * math.sqrt(2 / s.n)
    test_se = math.sqrt(2 * s.mean * (1 - s.mean) / bopt.n_test)
    assert derived_tolerance(bopt, bopt) == pytest.approx(DEFAULT_SIGMAS * max(seed_se, test_se))
    assert derived_tolerance(bopt, bopt, sigmas=1) == pytest.approx(max(seed_se, test_se))


def test_bad_tolerances_are_usage_errors():
    board = _board(_runs(("mobilenet",)))
    with pytest.raises(UsageError, match=r"tolerance -0\.1"):
        check_regression(board, board, tolerance=-0.1)
    with pytest.raises(UsageError, match="sigmas 0"):
        check_regression(board, board, sigmas=0)
