"""Leaderboard renderers: terminal, Markdown, HTML, CSV and JSON say the same things."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest
from factories import exhaustive_runs, make_search
from rich.console import Console

from blockbench.core.errors import UsageError
from blockbench.report.leaderboard import Leaderboard, build_leaderboard
from blockbench.report.leaderboard_render import (
    format_leaderboard,
    print_leaderboard,
    write_leaderboard,
)
from blockbench.report.sections import acc, pval


@pytest.fixture(scope="module")
def board():
    runs = exhaustive_runs(backbones=("mobilenet", "vgg16", "xception"), seeds=range(6), n_test=2000,
                           noise=0.005, val_noise=0.002)
    picks = [r for r in runs if r.spec.target == "block:6"]
    searches = [make_search("sha", r, budget={"runs": 4}) for r in picks]
    searches += [make_search("sha", r, budget={"runs": 8}) for r in picks]
    return build_leaderboard(runs, searches, command="blockbench leaderboard --results r")


def test_markdown_has_provenance_bold_best_and_significance_marks(board):
    text = format_leaderboard(board, "markdown")
    assert text.startswith("# blockbench leaderboard")
    assert "`blockbench leaderboard --results r`" in text
    assert "from 180 runs (180 ok, 0 failed, excluded) and 36 searches" in text
    table = board.tables[0]
    best = table.method(table.best_method())
    assert f"**{acc(best.summary)}**" in text
    # With 6 seeds and a large test set, Bopt's margin over BL1 is significant after Holm.
    bopt = table.method("bopt")
    assert table.comparison("bopt", "bl1").significant()
    marks = "*" + ("†" if table.comparison("bopt", "bl2").significant() else "")
    cell = f"**{acc(bopt.summary)}**" if best is bopt else acc(bopt.summary)
    assert f"| {cell}{marks} |" in text
    assert "sha[runs=4]" in text and "sha[runs=8]" in text
    assert "optimistic (selected on test)" in text
    for heading in ("## Ranking across tables", "## Quarter analysis: best block vs BL1 and BL2",
                    "### mobilenet/flowers5/uniform/imagenet/96: comparisons"):
        assert heading in text


def test_terminal_table_marks_best_and_significance(board):
    console = Console(file=io.StringIO(), width=100, record=True)
    print_leaderboard(board, console, "table")
    text = console.export_text()
    assert "vs BL1" in text and "win*" in text
    assert "comparisons" not in text  # details only on request
    console = Console(file=io.StringIO(), width=160, record=True)
    print_leaderboard(board, console, "table", details=True)
    assert "p (Holm)" in console.export_text()


def test_csv_reads_back_with_pandas(board, tmp_path):
    path = write_leaderboard(board, tmp_path / "lb.csv", "csv")
    frame = pd.read_csv(path, comment="#")
    assert len(frame) == sum(len(t.methods) for t in board.tables)
    row = frame[(frame.backbone == "vgg16") & (frame.method == "bopt")].iloc[0]
    table = board.table(row["table"])
    assert row["mean"] == pytest.approx(table.mean("bopt"))
    assert row["verdict_vs_bl1"] == table.comparison("bopt", "bl1").verdict
    assert frame.best.sum() == len(board.tables)
    assert path.read_text().startswith("# command: blockbench leaderboard --results r\n")


def test_html_is_escaped_and_complete(board):
    text = format_leaderboard(board, "html")
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    assert "<b>" in text and "sha[runs=4]" in text
    assert "<script" not in text
    assert "&#x27;" in text or "&quot;" in text or "'" not in text.split("<body>")[1]


def test_json_is_the_full_model(board):
    data = json.loads(format_leaderboard(board, "json"))
    assert data["meta"]["command"] == "blockbench leaderboard --results r"
    assert len(data["tables"]) == 3


def test_plain_text_table_format(board):
    assert "mobilenet/flowers5/uniform/imagenet/96" in format_leaderboard(board, "table")


def test_unknown_format():
    with pytest.raises(UsageError, match="format 'yaml' is not valid"):
        format_leaderboard(build_leaderboard([], command=""), "yaml")


def test_empty_leaderboard_renders():
    board = build_leaderboard([], command="blockbench leaderboard")
    console = Console(file=io.StringIO(), record=True)
    print_leaderboard(board, console)
    assert "nothing to rank" in console.export_text()
    assert "0 ok" in format_leaderboard(board, "markdown")


def test_number_formatting():
    assert pval(0.0004) == "<0.001" and pval(0.0312) == "0.031" and pval(None) == "—"


def test_json_never_holds_nan(board):
    import dataclasses

    from blockbench.stats.table_stats import Comparison

    table = board.tables[0]
    bad = dataclasses.replace(table.comparisons[0], g_z=float("nan"))
    assert isinstance(bad, Comparison)
    broken = dataclasses.replace(board, tables=[dataclasses.replace(table, comparisons=[bad])])
    data = json.loads(format_leaderboard(broken, "json"))
    assert data["tables"][0]["comparisons"][0]["g_z"] is None


def test_dataset_notes_of_the_runs_are_a_data_note_per_table():
    runs = exhaustive_runs(backbones=("mobilenet", "vgg16"), seeds=range(2))
    note = "skipped 2 undecodable image(s) (rose 2): rose/a.jpg, rose/b.jpg"
    for run in runs:
        if run.spec.backbone == "vgg16":
            run.data_notes = [note]
    board = build_leaderboard(runs, command="blockbench leaderboard --results r")
    clean, noted = board.tables
    assert (clean.data_notes, noted.data_notes) == ([], [note])  # once per table, not per run
    assert f"- Data ({noted.key.id}): {note}" in format_leaderboard(board, "markdown")
    assert "Data (" + clean.key.id not in format_leaderboard(board, "markdown")
    console = Console(file=io.StringIO(), width=160, record=True)
    print_leaderboard(board, console, "table")
    assert f"Data: {note}" in console.export_text()
    document = json.loads(format_leaderboard(board, "json"))
    assert ["data_notes" in t for t in document["tables"]] == [False, True]
    assert Leaderboard.from_dict(document).tables[1].data_notes == [note]


def test_a_jax_table_names_its_backend_and_a_tensorflow_one_does_not():
    tf_runs = exhaustive_runs(backbones=("mobilenet",), seeds=range(2), n_blocks=4)
    jax_runs = exhaustive_runs(backbones=("mobilenet",), seeds=range(2), n_blocks=4, backend="jax")
    text = format_leaderboard(build_leaderboard(tf_runs + jax_runs), "markdown")
    assert "### mobilenet/flowers5/uniform/imagenet/96: comparisons" in text
    assert "### mobilenet/flowers5/uniform/imagenet/96/backend=jax: comparisons" in text
    assert "| mobilenet (backend=jax) |" in text
    alone = format_leaderboard(build_leaderboard(tf_runs), "markdown")
    assert "backend=" not in alone  # (the command line, from sys.argv, may say "backend")
