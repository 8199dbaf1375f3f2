"""The regression gate's false-alarm rate, simulated from a crossed seed x example model.

The simulator and the model are in ``benchmarks/gate_calibration.py`` (which also
prints the old rule's rates); here the gate of ``report/check.py`` must keep its
family-wise one-sided false-alarm rate at or below ``alpha`` within Monte-Carlo
error, near it where seed noise is continuous, and detect large drops.
"""

from __future__ import annotations

import math

import pytest

from benchmarks.gate_calibration import SETTINGS, rates
from blockbench.report.check import DEFAULT_ALPHA

REPS = 2000
#: Three Monte-Carlo standard errors of a rate of alpha over REPS repetitions.
MC = 3 * math.sqrt(DEFAULT_ALPHA * (1 - DEFAULT_ALPHA) / REPS)
SMALL = [s for s in SETTINGS if s.n_test == 72]


@pytest.mark.parametrize("seeds", [2, 3, 5, 10])
@pytest.mark.parametrize("noise", SMALL, ids=[s.name for s in SMALL])
def test_false_alarm_rate_is_at_most_alpha(noise, seeds):
    r = rates(noise, seeds, REPS, drop=0, seed=seeds)
    assert r["new_gate"] <= DEFAULT_ALPHA + MC, r
    assert r["new_method"] <= DEFAULT_ALPHA / 3 + MC / math.sqrt(3), r
    if seeds >= 3:  # t quantiles make it exact up to the discreteness of hit counts
        assert r["new_gate"] >= DEFAULT_ALPHA / 2, r


@pytest.mark.parametrize("seeds", [2, 3, 5, 10])
def test_power_to_detect_drops(seeds, capsys):
    noise = SETTINGS[0]  # seed noise dominant: the hardest case for the gate
    power = {drop: rates(noise, seeds, REPS, drop=drop, seed=100 + seeds)["new_gate"]
             for drop in (2, 5, 11)}
    with capsys.disabled():
        print(f"\n  gate power at {seeds} seeds ({noise.name}): "
              + ", ".join(f"{d}/72: {p:.2f}" for d, p in power.items()))
    assert power[2] <= power[5] <= power[11]
    assert power[11] > DEFAULT_ALPHA
    if seeds == 10:
        assert power[11] >= 0.95 and power[5] >= 0.5
