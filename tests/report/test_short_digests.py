"""A weights file's sha256 is shortened where people read it (terminal, Markdown, HTML), so it
no longer crowds the tables; JSON and CSV keep the full identity."""

from __future__ import annotations

import dataclasses
import io
import json

from rich.console import Console

from blockbench.plugin.manager import get_components
from blockbench.replay.render import document, format_report
from blockbench.replay.report import build_report
from blockbench.replay.runner import PolicySpec, parse_budget, run_replay
from blockbench.replay.tables import build_tables
from blockbench.report.leaderboard import build_leaderboard
from blockbench.report.leaderboard_render import format_leaderboard, print_leaderboard
from blockbench.report.writer import print_document
from blockbench.stats.grouping import short_digests
from tests.factories import exhaustive_runs
from tests.replay_tables import table_runs

DIGEST = "9ab50ec0" + "1f" * 28
WEIGHTS = f"sha256:{DIGEST}"
SHORT = "sha256:9ab50ec0…"


def test_only_full_sha256_digests_are_shortened():
    assert short_digests(f"mobilenet/flowers5/-/{WEIGHTS}/96") == f"mobilenet/flowers5/-/{SHORT}/96"
    assert short_digests("imagenet and sha256:9ab50ec0 and " + "ab" * 32) == \
        "imagenet and sha256:9ab50ec0 and " + "ab" * 32  # not a weights identity: left alone
    assert short_digests(f"sha256:{DIGEST}ff") == f"sha256:{DIGEST}ff"  # not 64 digits


def test_leaderboard_shows_the_short_digest_and_keeps_the_full_one_in_its_data():
    board = build_leaderboard(exhaustive_runs(backbones=("mobilenet",), weights=WEIGHTS), [])
    out = io.StringIO()
    print_leaderboard(board, Console(file=out, width=100, color_system=None))
    assert f"mobilenet/flowers5/uniform/{SHORT}/96" in out.getvalue()
    for fmt in ("markdown", "html"):
        assert SHORT in format_leaderboard(board, fmt) and DIGEST not in format_leaderboard(board, fmt)
    assert json.loads(format_leaderboard(board, "json"))["tables"][0]["key"]["weights"] == WEIGHTS
    assert WEIGHTS in format_leaderboard(board, "csv")


def test_replay_tables_keep_their_column_headers():
    runs = [dataclasses.replace(r, spec=dataclasses.replace(r.spec, weights=WEIGHTS), run_hash="")
            for r in table_runs([[0.5, 0.52, 0.54, 0.56, 0.58, 0.9, 0.6, 0.62]] * 2)]
    tables, _ = build_tables(runs)
    specs = [PolicySpec("last-quarter", "last-quarter")]
    outcome = run_replay(tables, specs, [parse_budget("q4")], 3, 0, get_components())
    report = build_report(tables, specs, outcome, repeats=3, seed=0, budgets=["q4"],
                          command="blockbench replay", notes=[])
    out = io.StringIO()
    print_document(document(report, terminal=True),
                   Console(file=out, width=160, color_system=None))
    text = out.getvalue()
    assert f"mobilenet/flowers5/uniform/{SHORT}/96" in text
    for header in ("blocks", "Q4 blocks", "epochs", "eval epoch", "test images", "test SE (pt)"):
        assert f" {header} " in text, header
    assert json.loads(format_report(report, "json"))["tables"][0]["id"].count(DIGEST) == 1
