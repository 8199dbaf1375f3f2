"""The shared report writer: one document, drawn as terminal text, Markdown and HTML; JSON and CSV."""

from __future__ import annotations

import csv
import io
import json
import math

import pytest
from rich.console import Console

from blockbench.core.errors import UsageError
from blockbench.report.writer import (
    Cell,
    Column,
    Document,
    Section,
    cells,
    check_format,
    finite,
    format_for,
    num,
    pct,
    print_document,
    render,
    to_csv,
    to_html,
    to_json,
    to_markdown,
    to_text,
    write_text,
)


@pytest.fixture
def doc() -> Document:
    scores = Section("Scores", [Column("name", text=True), Column("score"), Column("why", text=True, wrap=True)],
                     [[Cell("a|b"), Cell("0.900", bold=True, suffix="*"), Cell("fine")],
                      [Cell("c"), Cell("0.100", dim=True), Cell("")],
                      [Cell("d"), Cell("", bold=True), Cell("x")]],
                     notes=["n1 | n", "n2"])
    return Document("Report | 1", ["Intro with a | pipe."],
                    [scores, Section("Details", [Column("k", text=True), Column("v")], level=3),
                     Section("Notes", notes=["only a note"])])


def test_markdown_escapes_pipes_bolds_best_and_keeps_one_blank_line(doc) -> None:
    assert to_markdown(doc) == """# Report \\| 1

Intro with a \\| pipe.

## Scores

| name | score | why |
|---|---|---|
| a\\|b | **0.900*** | fine |
| c | 0.100 |  |
| d |  | x |

- n1 \\| n
- n2

### Details

| k | v |
|---|---|

## Notes

- only a note
"""


def test_html_escapes_every_text_and_marks_best_and_dim_cells() -> None:
    doc = Document("<Report>", ["a & b"], [
        Section("T<1>", [Column("h\"", text=True), Column("v")],
                [[Cell("<script>"), Cell("1", bold=True, suffix="†")], [Cell("x"), Cell("2", dim=True)]],
                notes=["<i>note</i>"], level=3)])
    text = to_html(doc)
    assert text.startswith("<!DOCTYPE html>") and text.endswith("</body></html>\n")
    assert "<title>&lt;Report&gt;</title>" in text and "<h1>&lt;Report&gt;</h1>" in text
    assert "<p>a &amp; b</p>" in text and "<h3>T&lt;1&gt;</h3>" in text
    assert "<th>h&quot;</th>" in text and "<td>&lt;script&gt;</td>" in text
    assert '<td class="best"><b>1</b>†</td>' in text and '<td class="dim">2</td>' in text
    assert "<ul><li>&lt;i&gt;note&lt;/i&gt;</li></ul>" in text
    assert "<script>" not in text


def test_terminal_text_aligns_text_left_numbers_right_and_prints_notes(doc) -> None:
    lines = to_text(doc, width=60).splitlines()
    assert lines[0] == "Intro with a | pipe."
    assert lines[1].rstrip() == "Scores"
    header = next(line for line in lines if "name" in line and "score" in line)
    a_row = next(line for line in lines if line.startswith(" a|b"))
    c_row = next(line for line in lines if line.startswith(" c "))
    assert a_row.index("0.900*") + len("0.900*") == header.index("score") + len("score")  # right
    assert c_row.index("0.100") + len("0.100") == header.index("score") + len("score")
    assert a_row.index("fine") == header.index("why")  # left
    assert lines.index("n1 | n") < lines.index("n2") < lines.index("Details") < lines.index("Notes")
    assert lines[-1] == "only a note"


def test_terminal_styles_bold_best_and_dim_side_cells() -> None:
    console = Console(file=io.StringIO(), record=True, width=60, force_terminal=True,
                      color_system="standard")
    print_document(Document("d", [], [Section("t", [Column("v")],
                                              [[Cell("best", bold=True)], [Cell("aside", dim=True)]])]),
                   console)
    styled = console.export_text(styles=True)
    assert "\x1b[1mbest" in styled and "\x1b[2maside" in styled


def test_a_wrapping_column_wraps_on_a_narrow_terminal() -> None:
    long = "a reason that is far too long for a narrow terminal column"
    doc = Document("d", [], [Section("t", [Column("id", text=True), Column("why", text=True, wrap=True)],
                                     [cells(["x", long])])])
    text = to_text(doc, width=30)
    assert "narrow" in text and "reason" in text and all(len(line) <= 30 for line in text.splitlines())


def test_render_dispatches_and_refuses_data_formats(doc) -> None:
    assert render(doc, "markdown") == to_markdown(doc)
    assert render(doc, "html") == to_html(doc)
    assert render(doc, "table") == to_text(doc)
    with pytest.raises(UsageError, match="document format 'json' is not valid; use one of table, "
                                         "markdown, html"):
        render(doc, "json")


def test_json_turns_non_finite_numbers_into_null() -> None:
    data = {"a": math.nan, "b": [1.5, math.inf, (2, -math.inf)], "c": {"d": "x"}}
    text = to_json(data)
    assert text.endswith("}\n") and json.loads(text) == {"a": None, "b": [1.5, None, [2, None]],
                                                         "c": {"d": "x"}}
    assert finite(0.25) == 0.25


def test_csv_has_comment_metadata_then_rows() -> None:
    text = to_csv([{"x": 1, "y": "a,b"}, {"x": 2, "y": None}], ["x"], {"command": "bb x", "n": 2})
    assert text.startswith("# command: bb x\n# n: 2\nx,y\n")
    rows = list(csv.DictReader(line for line in text.splitlines() if not line.startswith("#")))
    assert rows == [{"x": "1", "y": "a,b"}, {"x": "2", "y": ""}]
    assert to_csv([], ["table", "mean"]) == "table,mean\n"


def test_format_for_follows_the_suffix_among_the_allowed_formats() -> None:
    formats = ("table", "markdown", "json")
    assert format_for("r.MD", None, formats) == "markdown"
    assert format_for("r.markdown", None, formats) == "markdown"
    assert format_for("r.txt", None, formats) == "table"
    assert format_for("r.csv", "json", formats) == "json"  # --format wins
    assert format_for("lb.htm", None, (*formats, "html", "csv")) == "html"
    with pytest.raises(UsageError, match=r"cannot tell the format of 'r\.csv' from its suffix; use one "
                                         r"of \.json, \.markdown, \.md, \.txt or pass --format"):
        format_for("r.csv", None, formats)


def test_check_format_names_what_and_the_valid_formats() -> None:
    check_format("json", ("table", "json"), "replay report")
    with pytest.raises(UsageError, match="replay report format 'yaml' is not valid; use one of table, json"):
        check_format("yaml", ("table", "json"), "replay report")


def test_numbers_and_percentages() -> None:
    assert num(0.12345) == "0.123" and num(0.5, 1, signed=True) == "+0.5" and num(-0.5, 2) == "-0.50"
    assert num(None) == "—" and num(None, missing="-") == "-"
    assert pct(0.255) == "26%" and pct(0.5, 1) == "50.0%" and pct(None, missing="-") == "-"


def test_write_text_creates_the_directory(tmp_path) -> None:
    path = write_text(tmp_path / "a" / "b" / "r.md", "x †\n")
    assert path.read_text(encoding="utf-8") == "x †\n"
