"""One writer for every report: a format-neutral document and its terminal, Markdown and HTML forms.

The leaderboard (:mod:`blockbench.report.leaderboard_render`) and the replay report
(:mod:`blockbench.replay.render`) build a :class:`Document` of titled tables and
notes; this module draws it, so both reports look alike and escape alike (and
shorten weights digests alike: :func:`readable`). Their
machine forms (JSON, CSV) are data, not documents: :func:`to_json` and
:func:`to_csv` write those. Rich is imported only when a terminal table is drawn.
"""

from __future__ import annotations

import csv
import dataclasses
import html
import io
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from blockbench.core.errors import UsageError
from blockbench.core.files import write_atomic
from blockbench.stats.grouping import short_digests

if TYPE_CHECKING:
    from rich.console import Console

DOCUMENT_FORMATS = ("table", "markdown", "html")
SUFFIXES = {".md": "markdown", ".markdown": "markdown", ".json": "json", ".csv": "csv",
            ".html": "html", ".htm": "html", ".txt": "table"}
MISSING = "—"


@dataclass(frozen=True)
class Cell:
    """One table cell: its text, whether it is the best of its row or a side note, and a mark after it."""

    text: str
    bold: bool = False
    dim: bool = False
    suffix: str = ""


@dataclass(frozen=True)
class Column:
    """A table column: its header, whether it holds text (left-aligned on a terminal, where
    numbers are right-aligned) and whether its cells may wrap on a narrow terminal."""

    header: str
    text: bool = False
    wrap: bool = False


@dataclass
class Section:
    """A titled table (none without columns) with notes below it; ``level`` 2 for parts, 3 for details."""

    title: str
    columns: list[Column] = field(default_factory=list)
    rows: list[list[Cell]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    level: int = 2


@dataclass
class Document:
    """A report: its title (files only), intro paragraphs, then its sections in reading order."""

    title: str
    intro: list[str] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)


def cells(texts: Iterable[str]) -> list[Cell]:
    """Plain cells, one per text."""
    return [Cell(text) for text in texts]


def num(value: float | None, digits: int = 3, signed: bool = False, missing: str = MISSING) -> str:
    """``value`` with ``digits`` decimals (and a sign when ``signed``), ``missing`` for None."""
    if value is None:
        return missing
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def pct(value: float | None, digits: int = 0, missing: str = MISSING) -> str:
    """A fraction as a percentage (0.25 -> ``25%``), ``missing`` for None."""
    return missing if value is None else f"{100 * value:.{digits}f}%"


def check_format(fmt: str, formats: Sequence[str], what: str) -> None:
    """Refuse an output format that ``what`` cannot be written in."""
    if fmt not in formats:
        raise UsageError(f"{what} format {fmt!r} is not valid; use one of {', '.join(formats)}")


def format_for(path: str | os.PathLike[str], fmt: str | None, formats: Sequence[str]) -> str:
    """The output format: ``fmt`` if given, else the one among ``formats`` that the file suffix names."""
    if fmt:
        return fmt
    suffixes = {s: f for s, f in SUFFIXES.items() if f in formats}
    suffix = Path(path).suffix.lower()
    if suffix not in suffixes:
        raise UsageError(f"cannot tell the format of {str(path)!r} from its suffix; use one of "
                         f"{', '.join(sorted(suffixes))} or pass --format")
    return suffixes[suffix]


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` as UTF-8 (atomically), creating its directory; a path that
    cannot be written is one line (:func:`blockbench.core.files.write_atomic`)."""
    return write_atomic(path, text, "output file")


def readable(doc: Document) -> Document:
    """``doc`` as people read it: a weights file's sha256 shortened everywhere (``sha256:9ab50ec0…``),
    so it does not crowd the tables. The machine forms (JSON, CSV) keep the full identity."""
    def cell(c: Cell) -> Cell:
        return dataclasses.replace(c, text=short_digests(c.text))

    sections = [dataclasses.replace(
        s, title=short_digests(s.title),
        columns=[dataclasses.replace(c, header=short_digests(c.header)) for c in s.columns],
        rows=[[cell(c) for c in row] for row in s.rows],
        notes=[short_digests(n) for n in s.notes]) for s in doc.sections]
    return Document(short_digests(doc.title), [short_digests(p) for p in doc.intro], sections)


def render(doc: Document, fmt: str) -> str:
    """``doc`` as text in ``fmt``: table (plain terminal text), markdown or html."""
    check_format(fmt, DOCUMENT_FORMATS, "document")
    return {"table": to_text, "markdown": to_markdown, "html": to_html}[fmt](doc)


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def _md_table(section: Section) -> str:
    lines = ["| " + " | ".join(_md(c.header) for c in section.columns) + " |",
             "|" + "---|" * len(section.columns)]
    for row in section.rows:
        lines.append("| " + " | ".join((f"**{_md(c.text)}**" if c.bold and c.text else _md(c.text))
                                       + _md(c.suffix) for c in row) + " |")
    return "\n".join(lines)


def to_markdown(doc: Document) -> str:
    """Markdown: headings, pipe tables (``|`` escaped), bold best cells and notes as bullets."""
    doc = readable(doc)
    blocks = [f"# {_md(doc.title)}", *(_md(p) for p in doc.intro)]
    for section in doc.sections:
        blocks.append("#" * section.level + " " + _md(section.title))
        if section.columns:
            blocks.append(_md_table(section))
        if section.notes:
            blocks.append("\n".join(f"- {_md(note)}" for note in section.notes))
    return "\n\n".join(blocks) + "\n"


_STYLE = ("body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}"
          "td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}"
          "td:first-child,th:first-child{text-align:left}.dim{color:#888}")


def _html_cell(cell: Cell) -> str:
    text = html.escape(cell.text)
    cls = ' class="best"' if cell.bold else ' class="dim"' if cell.dim else ""
    return f"<td{cls}>{f'<b>{text}</b>' if cell.bold else text}{html.escape(cell.suffix)}</td>"


def _html_section(section: Section) -> list[str]:
    out = [f"<h{section.level}>{html.escape(section.title)}</h{section.level}>"]
    if section.columns:
        out.append("<table>")
        out.append("<tr>" + "".join(f"<th>{html.escape(c.header)}</th>" for c in section.columns) + "</tr>")
        out += ["<tr>" + "".join(_html_cell(c) for c in row) + "</tr>" for row in section.rows]
        out.append("</table>")
    if section.notes:
        out.append("<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in section.notes) + "</ul>")
    return out


def to_html(doc: Document) -> str:
    """A standalone HTML page, every text escaped."""
    doc = readable(doc)
    body = [f"<p>{html.escape(p)}</p>" for p in doc.intro]
    for section in doc.sections:
        body += _html_section(section)
    title = html.escape(doc.title)
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title>"
            f"<style>{_STYLE}</style></head><body>\n<h1>{title}</h1>\n" + "\n".join(body)
            + "\n</body></html>\n")


def print_document(doc: Document, console: Console) -> None:
    """Draw ``doc`` on a rich console: dim intro, tables with bold titles, dim notes (no title:
    the command that prints it says what it is)."""
    from rich import box
    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text

    doc = readable(doc)
    for paragraph in doc.intro:
        console.print(Text(paragraph, style="dim"))
    for section in doc.sections:
        if section.columns:
            table = Table(title=escape(section.title), title_justify="left", title_style="bold",
                          box=box.SIMPLE_HEAD, pad_edge=False)
            for column in section.columns:
                table.add_column(escape(column.header), justify="left" if column.text else "right",
                                 no_wrap=not column.wrap)
            for row in section.rows:
                table.add_row(*(Text.assemble((c.text, "bold" if c.bold else "dim" if c.dim else ""),
                                              c.suffix) for c in row))
            console.print(table)
        else:
            console.print(Text(section.title, style="bold"))
        for note in section.notes:
            console.print(Text(note, style="dim"))


def to_text(doc: Document, width: int = 200) -> str:
    """The terminal form as plain text, ``width`` columns wide, without colour."""
    from rich.console import Console

    console = Console(record=True, width=width, file=io.StringIO(), color_system=None)
    print_document(doc, console)
    return console.export_text()


def finite(value: Any) -> Any:
    """NaN and infinities become null, so the JSON stays standard (and loadable everywhere)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def to_json(data: Any) -> str:
    """Indented standard JSON (non-finite numbers as null), ending in a newline."""
    return json.dumps(finite(data), indent=2, allow_nan=False) + "\n"


def to_csv(rows: Sequence[Mapping[str, Any]], empty_fields: Sequence[str],
           meta: Mapping[str, Any] | None = None) -> str:
    """CSV of flat ``rows`` (columns from the first; ``empty_fields`` when there is none), after
    ``# key: value`` lines of ``meta``: read it with ``pandas.read_csv(path, comment="#")``."""
    buffer = io.StringIO()
    for key, value in (meta or {}).items():
        buffer.write(f"# {key}: {value}\n")
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else list(empty_fields),
                            lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()
