"""The decision in every leaderboard form: JSON object (format 3, older ones upgraded), terminal,
Markdown and HTML sentences under each table, with the indistinguishable set."""

from __future__ import annotations

import html
import json

import pytest
from factories import exhaustive_runs

from blockbench.core.formats import LEADERBOARD, FormatError
from blockbench.report.leaderboard import Leaderboard, build_leaderboard, load_leaderboard
from blockbench.report.leaderboard_render import format_leaderboard
from blockbench.stats.decision import TOO_FEW_SEEDS, USE_BLOCK


@pytest.fixture(scope="module")
def board():
    return build_leaderboard(exhaustive_runs(backbones=("mobilenet", "vgg16"), seeds=range(5)),
                             command="blockbench leaderboard")


@pytest.fixture(scope="module")
def two_seeds():
    return build_leaderboard(exhaustive_runs(backbones=("mobilenet",), seeds=(0, 1)), command="x")


def test_every_table_has_a_decision_object_in_json(board):
    data = json.loads(format_leaderboard(board, "json"))
    assert data["format_version"] == LEADERBOARD.version == 3
    for table, stats in zip(data["tables"], board.tables, strict=True):
        decision = table["decision"]
        assert decision["rule"] == USE_BLOCK and decision["seeds"] == 5
        assert decision["chosen"] == decision["indistinguishable"][0]["target"]
        assert decision["vs_bl1"]["verdict"] == "win" and decision["vs_bl2"]["p"] is not None
        assert decision["more_seeds_needed"] is None
        assert decision["sentence"] == stats.decision.sentence
    assert Leaderboard.from_dict(data).tables[0].decision == board.tables[0].decision


def test_a_version_2_leaderboard_is_upgraded_without_a_decision(board, tmp_path):
    data = json.loads(format_leaderboard(board, "json"))
    data["format_version"] = 2
    for table in data["tables"]:
        del table["decision"]
    path = tmp_path / "old.json"
    path.write_text(json.dumps(data))
    loaded = load_leaderboard(path)
    assert [t.decision for t in loaded.tables] == [None, None]
    assert loaded.tables[0].methods == board.tables[0].methods


def test_a_malformed_decision_is_one_line(board, tmp_path):
    data = json.loads(format_leaderboard(board, "json"))
    data["tables"][0]["decision"]["seeds"] = "five"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(FormatError, match=r"field 'tables\[0\]\.decision\.seeds' must be a whole number"):
        load_leaderboard(path)


def test_markdown_has_a_decision_section_with_every_sentence(board):
    text = format_leaderboard(board, "markdown")
    section = text[text.index("## Decision"):text.index("## Ranking")]
    assert "| table | seeds | chosen on validation |" in section
    for table in board.tables:
        d = table.decision
        assert f"- {table.key.id}: {d.sentence}" in section
        assert f"| {table.key.id} | 5 | {d.chosen.replace('block:', 'block ')} |" in section


def test_terminal_shows_the_sentence_and_the_indistinguishable_set_under_each_table(board):
    flat = " ".join(format_leaderboard(board, "table").split())
    ids = [flat.index(t.key.id) for t in board.tables] + [flat.index("Legend")]
    for table, start, end in zip(board.tables, ids, ids[1:], strict=False):
        d = table.decision
        below = flat[start:end]
        assert f"Decision: {d.sentence}" in below
        if len(d.indistinguishable) > 1:
            assert "Indistinguishable on validation (test accuracy, Holm p vs the chosen block): " \
                   f"{d.chosen.replace('block:', 'block ')} (" in below


def test_html_escapes_the_sentences(board):
    text = format_leaderboard(board, "html")
    assert "<h2>Decision</h2>" in text
    for table in board.tables:
        assert html.escape(f"{table.key.id}: {table.decision.sentence}") in text


def test_fewer_than_three_seeds_say_so_in_every_form(two_seeds):
    [table] = two_seeds.tables
    assert table.decision.rule == TOO_FEW_SEEDS
    sentence = "Only 2 seeds shared by every block: no decision; run at least 3."
    assert sentence in format_leaderboard(two_seeds, "markdown")
    assert f"Decision: {sentence}" in format_leaderboard(two_seeds, "table")
    assert json.loads(format_leaderboard(two_seeds, "json"))["tables"][0]["decision"]["chosen"] is None
