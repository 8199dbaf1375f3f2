"""Record formats: the upgrade mechanism on a test-only format, and each real format's loading path."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from factories import exhaustive_runs, make_run, make_search, make_spec

from blockbench import __version__
from blockbench.core.errors import UsageError
from blockbench.core.formats import (
    FORMATS,
    LEADERBOARD,
    REPLAY_REPORT,
    RUN_RECORD,
    SEARCH_RECORD,
    Format,
    FormatError,
    identify,
)
from blockbench.core.record_files import read_jsonl
from blockbench.core.records import RunRecord, SearchRecord
from blockbench.report.leaderboard import build_leaderboard, load_leaderboard
from blockbench.report.regret import RegretPoint, load_points

# -- the mechanism, on a format that exists only here ------------------------------------------


def three_step_format() -> tuple[Format, list[str]]:
    """Version 3 of a "widget": v1 had "size" in cm, v2 renamed it "length", v3 holds metres."""
    widget = Format("widget", 3, version_key="format_version", name="widget")
    calls: list[str] = []

    @widget.step(1)
    def _one_to_two(doc: dict[str, Any]) -> dict[str, Any]:
        calls.append(f"1->2 at version {doc['format_version']}")
        doc["length"] = doc.pop("size")
        return doc

    @widget.step(2)
    def _two_to_three(doc: dict[str, Any]) -> dict[str, Any]:
        calls.append(f"2->3 at version {doc['format_version']}")
        doc["length"] = doc["length"] / 100
        return doc

    return widget, calls


def test_steps_apply_in_order_from_the_document_version():
    widget, calls = three_step_format()
    old = {"format": "widget", "format_version": 1, "size": 250}
    assert widget.upgrade(old) == {"format": "widget", "format_version": 3, "length": 2.5}
    assert calls == ["1->2 at version 1", "2->3 at version 2"]
    assert old == {"format": "widget", "format_version": 1, "size": 250}  # the input is left alone
    calls.clear()
    assert widget.upgrade({"format": "widget", "format_version": 2, "length": 40}) == \
        {"format": "widget", "format_version": 3, "length": 0.4}
    assert calls == ["2->3 at version 2"]
    assert widget.oldest == 1


def test_upgrading_is_idempotent_and_a_current_document_is_returned_as_is():
    widget, calls = three_step_format()
    once = widget.upgrade({"format": "widget", "format_version": 1, "size": 250})
    calls.clear()
    assert widget.upgrade(once) is once and widget.upgrade(widget.upgrade(once)) == once
    assert calls == []


def test_a_newer_version_is_refused_in_one_line():
    widget, _ = three_step_format()
    with pytest.raises(FormatError) as info:
        widget.upgrade({"format": "widget", "format_version": 4, "length": 1}, "w.json")
    message = str(info.value)
    assert message == (f"w.json: widget format version 4 is not supported by blockbench {__version__}, "
                       "which reads up to version 3: upgrade blockbench to read it")
    assert isinstance(info.value, UsageError) and info.value.exit_code == 2


@pytest.mark.parametrize(("document", "expected"), [
    ({"format_version": 1, "size": 1}, "w.json: not a widget (no 'format' key; expected 'format': 'widget')"),
    ({"format": "gadget", "format_version": 1},
     "w.json: not a widget ('format': 'gadget'; expected 'format': 'widget')"),
    ([1, 2], "w.json: not a widget (expected a JSON object, found a list)"),
    ("widget", "w.json: not a widget (expected a JSON object, found a string)"),
    ({"format": "widget"}, "w.json: widget has no 'format_version'; expected a version from 1 to 3"),
    ({"format": "widget", "format_version": "2"},
     "w.json: widget format version '2' is not valid; expected a version from 1 to 3"),
    ({"format": "widget", "format_version": True},
     "w.json: widget format version True is not valid; expected a version from 1 to 3"),
    ({"format": "widget", "format_version": 0},
     "w.json: widget format version 0 is not valid; expected a version from 1 to 3"),
])
def test_a_missing_or_garbled_marker_is_one_clear_line(document, expected):
    widget, _ = three_step_format()
    with pytest.raises(FormatError) as info:
        widget.upgrade(document, "w.json")
    assert str(info.value) == expected


def test_a_version_no_unbroken_steps_reach_is_refused():
    gadget = Format("gadget", 3, version_key="v", name="gadget")
    gadget.step(2)(lambda doc: doc)
    assert gadget.oldest == 2
    assert gadget.upgrade({"format": "gadget", "v": 2}) == {"format": "gadget", "v": 3}
    with pytest.raises(FormatError, match=r"gadget v 1 is too old .* upgrades versions 2 to 3"):
        gadget.upgrade({"format": "gadget", "v": 1})


def test_steps_must_lie_below_the_current_version_and_be_registered_once():
    widget, _ = three_step_format()
    for bad in (0, 3, 4):
        with pytest.raises(ValueError, match="no step from version"):
            widget.step(bad)
    with pytest.raises(ValueError, match="registered twice"):
        widget.step(1)


def test_a_format_without_a_name_is_recognised_by_its_keys():
    thing = Format("thing record", 1, version_key="schema_version", keys=("spec",))
    assert thing.upgrade({"spec": {}, "schema_version": 1}) == {"spec": {}, "schema_version": 1}
    with pytest.raises(FormatError, match=r"^not a thing record \(it has no 'spec', 'schema_version'\)$"):
        thing.upgrade({"other": 1})
    assert thing.marker() == {"schema_version": 1}


# -- the real formats ---------------------------------------------------------------------------


def test_the_real_formats_are_registered_with_unbroken_steps_from_version_1():
    # Bumping a version needs a registered step from the previous one (see the module docs).
    assert FORMATS == (LEADERBOARD, REPLAY_REPORT, RUN_RECORD, SEARCH_RECORD)
    for fmt in FORMATS:
        assert fmt.oldest == 1
    # leaderboard: crossed test, + decision; runs: + hits, + backend
    assert [fmt.version for fmt in FORMATS] == [3, 1, 3, 1]
    assert LEADERBOARD.marker() == {"format": "blockbench-leaderboard", "format_version": 3}
    assert REPLAY_REPORT.marker() == {"format": "blockbench-replay", "format_version": 1}
    assert RUN_RECORD.marker() == {"schema_version": 3}
    assert SEARCH_RECORD.marker() == {"schema_version": 1}


def _run_doc() -> dict[str, Any]:
    return make_run(make_spec("block:2"), 0.5, 0.4, n_blocks=4).to_dict()


def _search_doc() -> dict[str, Any]:
    return make_search("random", make_run(make_spec("block:2"), 0.5, 0.4, n_blocks=4)).to_dict()


def _leaderboard_doc() -> dict[str, Any]:
    return build_leaderboard(exhaustive_runs(backbones=("mobilenet",), seeds=(0, 1), n_blocks=4),
                             command="blockbench leaderboard").to_dict()


def _replay_doc() -> dict[str, Any]:
    return {**REPLAY_REPORT.marker(), "meta": {}, "points": [
        {"policy": "random", "budget": 2, "regret": 0.5, "table": "t"}]}


def _load_jsonl(kind: type) -> Callable[[Path], Any]:
    return lambda path: list(read_jsonl(path, kind))


# Each real format with a current document and its real loading path from a file.
REAL = {
    "run record": (RUN_RECORD, _run_doc, "runs.jsonl", _load_jsonl(RunRecord)),
    "search record": (SEARCH_RECORD, _search_doc, "searches.jsonl", _load_jsonl(SearchRecord)),
    "leaderboard": (LEADERBOARD, _leaderboard_doc, "lb.json", load_leaderboard),
    "replay report": (REPLAY_REPORT, _replay_doc, "replay.json", load_points),
}


def _write(path: Path, document: Any) -> Path:
    text = json.dumps(document, sort_keys=True)
    path.write_text(text + "\n" if path.suffix == ".jsonl" else text)
    return path


@pytest.mark.parametrize("kind", REAL)
def test_a_current_document_loads_and_is_identified(kind, tmp_path):
    fmt, make, name, load = REAL[kind]
    document = make()
    assert identify(document) is fmt and fmt.upgrade(document) is document
    loaded = load(_write(tmp_path / name, document))
    if kind == "replay report":
        assert loaded == [RegretPoint("random", 2.0, 0.5)]
    elif kind == "leaderboard":
        assert loaded.to_dict() == document
    else:
        assert [r.to_dict() for r in loaded] == [document]


@pytest.mark.parametrize("kind", REAL)
def test_a_newer_document_is_refused_in_one_line_naming_the_file(kind, tmp_path):
    fmt, make, name, load = REAL[kind]
    path = _write(tmp_path / name, {**make(), fmt.version_key: fmt.version + 1})
    with pytest.raises(FormatError) as info:
        load(path)
    message = str(info.value)
    assert message.startswith(str(path)) and "\n" not in message
    assert f"version {fmt.version + 1} is not supported by blockbench {__version__}" in message
    assert f"reads up to version {fmt.version}: upgrade blockbench" in message


@pytest.mark.parametrize("kind", REAL)
def test_a_document_without_its_marker_is_refused(kind, tmp_path):
    fmt, make, name, load = REAL[kind]
    document = make()
    del document[fmt.name_key if fmt.name else fmt.version_key]
    with pytest.raises(FormatError, match=rf"^{re.escape(str(tmp_path))}.*not a {fmt.title} \("):
        load(_write(tmp_path / name, document))


@pytest.mark.parametrize(("expected", "given"), [
    ("replay report", "leaderboard"), ("leaderboard", "replay report"), ("leaderboard", "run record"),
    ("run record", "search record"), ("search record", "run record"), ("replay report", "run record"),
])
def test_a_document_of_another_kind_is_named(expected, given, tmp_path):
    _, _, name, load = REAL[expected]
    other = REAL[given][0]
    with pytest.raises(FormatError, match=rf"not a {REAL[expected][0].title}: it is a {other.title}$"):
        load(_write(tmp_path / name, REAL[given][1]()))


def test_from_dict_checks_the_version_too():
    with pytest.raises(FormatError, match=r"^run record schema version 4 is not supported"):
        RunRecord.from_dict(_run_doc() | {"schema_version": 4})
    with pytest.raises(FormatError, match=r"^search record schema version 2 is not supported"):
        SearchRecord.from_dict(_search_doc() | {"schema_version": 2})


def _break(kind: str, document: dict[str, Any], how: str) -> tuple[dict[str, Any], str]:
    """A document of ``kind`` with one field of the wrong type (or missing), and that field's path."""
    where = {"run record": ["test_acc"], "search record": ["seed"],
             "leaderboard": ["tables", 0, "methods", 0, "n_test"],
             "replay report": ["points", 0, "regret"]}[kind]
    parent: Any = document
    for key in where[:-1]:
        parent = parent[key]
    if how == "missing":
        where = {"run record": ["spec", "seed"], "search record": ["backbone"],
                 "leaderboard": ["tables", 0, "key", "backbone"],
                 "replay report": ["points", 0, "budget"]}[kind]
        parent = document
        for key in where[:-1]:
            parent = parent[key]
        del parent[where[-1]]
    else:
        parent[where[-1]] = "abc"
    return document, "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in where).lstrip(".")


@pytest.mark.parametrize("how", ["wrong type", "missing"])
@pytest.mark.parametrize("kind", REAL)
def test_a_field_that_does_not_match_its_format_is_one_line_naming_file_line_and_field(kind, how,
                                                                                       tmp_path):
    _, make, name, load = REAL[kind]
    document, field = _break(kind, make(), how)
    path = _write(tmp_path / name, document)
    with pytest.raises(FormatError) as info:
        load(path)
    message = str(info.value)
    where = f"{path}:1: " if name.endswith(".jsonl") else f"{path}: "
    assert message.startswith(where) and "\n" not in message and info.value.exit_code == 2
    assert f"field {field!r} " in message
    assert message.endswith("is missing" if how == "missing" else "got 'abc'")
