"""Run and search records read back: each field checked, bad lines named by file and line."""

from __future__ import annotations

import json
import logging

import pytest

from blockbench.core.errors import UsageError
from blockbench.core.formats import FormatError
from blockbench.core.record_files import jsonl_text, merge_runs, read_jsonl, write_jsonl
from blockbench.core.records import RunRecord, SearchRecord
from tests.factories import make_run, make_search, make_spec


def _run(**changes):
    record = make_run(make_spec("block:2"), 0.5, 0.4, n_blocks=4).to_dict()
    for key, value in changes.items():
        if value is None:
            record.pop(key)
        else:
            record[key] = value
    return record


def _lines(tmp_path, *records, tail: str = "\n"):
    path = tmp_path / "runs.jsonl"
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in records) + tail)
    return path


@pytest.mark.parametrize(("record", "message"), [
    (_run(test_acc="abc"), "run record field 'test_acc' must be a number or null, got 'abc'"),
    (_run(test_acc=None) | {"test_acc": None}, "run record field 'test_acc' must be a number for an ok run, got null"),
    (_run(n_test=2.5), "run record field 'n_test' must be a whole number, got 2.5"),
    (_run(epochs_run=True), "run record field 'epochs_run' must be a whole number, got true"),
    (_run(status="done"), "run record field 'status' must be one of 'ok', 'failed', got 'done'"),
    (_run(history={"epoch": 1}), "run record field 'history' must be a list of objects, got {\"epoch\": 1}"),
    (_run(block={"quarter": "Q1"}), "run record field 'block.quarter' must be a whole number, got 'Q1'"),
    (_run(tset_acc=0.5), "run record has an unknown field 'tset_acc'; did you mean 'test_acc'?"),
    (_run(spec={k: v for k, v in make_spec("bl1").to_dict().items() if k != "seed"}),
     "run record field 'spec.seed' is missing"),
    (_run(spec=make_spec("bl1").to_dict() | {"seed": "0"}),
     "run record field 'spec.seed' must be a whole number, got '0'"),
    (_run(spec=make_spec("bl1").to_dict() | {"target": "block-2"}),
     "run record field 'spec.target' must be 'bl1', 'bl2' or 'block:<index>', got 'block-2'"),
])
def test_a_run_record_that_does_not_match_its_format_is_one_line(tmp_path, record, message):
    path = _lines(tmp_path, _run(), _run(), record)
    with pytest.raises(FormatError) as info:
        list(read_jsonl(path, RunRecord))
    assert str(info.value) == f"{path}:3: {message}"
    assert info.value.exit_code == 2


def test_a_search_record_that_does_not_match_its_format_is_one_line(tmp_path):
    good = make_search("random", make_run(make_spec("block:2"), 0.5, 0.4, n_blocks=4)).to_dict()
    path = tmp_path / "searches.jsonl"
    for bad, message in [
        ({"seed": "zero"}, "search record field 'seed' must be a whole number, got 'zero'"),
        ({"run_hashes": [1]}, "search record field 'run_hashes[0]' must be a string, got 1"),
        ({"pick": "best"}, "search record field 'pick' must be 'bl1', 'bl2' or 'block:<index>', got 'best'"),
        ({"info": {"signal": {"name": "grad", "values": {"block:0": "high"}}}},
         "search record field 'info.signal.values.block:0' must be a number, got 'high'"),
    ]:
        path.write_text(json.dumps(good) + "\n" + json.dumps(good | bad) + "\n")
        with pytest.raises(FormatError) as info:
            list(read_jsonl(path, SearchRecord))
        assert str(info.value) == f"{path}:2: {message}"
    missing = {k: v for k, v in good.items() if k != "backbone"}
    path.write_text(json.dumps(missing) + "\n")
    with pytest.raises(FormatError, match=r":1: search record field 'backbone' is missing$"):
        list(read_jsonl(path, SearchRecord))


def test_a_cut_short_last_line_is_a_warning_and_the_others_are_read(tmp_path, caplog):
    cut = json.dumps(_run())[:80]
    for tail in ("", "\n"):  # cut mid-line, or cut and then terminated by a later append
        path = _lines(tmp_path, _run(), _run(), cut, tail=tail)
        with caplog.at_level(logging.WARNING):
            records = list(read_jsonl(path, RunRecord))
        assert len(records) == 2
        assert f"{path}:3: skipped a cut-short last line" in caplog.text
        caplog.clear()


def test_a_garbled_line_in_the_middle_is_an_error_naming_file_and_line(tmp_path):
    path = _lines(tmp_path, _run(), json.dumps(_run())[:80], _run())
    with pytest.raises(FormatError, match=rf"^{path}:2: not a JSON run record \("):
        list(read_jsonl(path, RunRecord))
    path.write_bytes(json.dumps(_run()).encode() + b"\n\xff\xfe\n" + json.dumps(_run()).encode() + b"\n")
    with pytest.raises(FormatError, match=rf"^{path}:2: not a JSON run record \(not UTF-8 text\)$"):
        list(read_jsonl(path, RunRecord))


def test_on_bad_skips_every_bad_line_and_says_which(tmp_path):
    path = _lines(tmp_path, _run(), "{garbled", _run(test_acc="abc"), _run())
    skipped: list[str] = []
    assert len(list(read_jsonl(path, RunRecord, skipped.append))) == 2
    assert [m.split(": ", 1)[0] for m in skipped] == [f"{path}:2", f"{path}:3"]


def test_a_missing_or_unreadable_file_is_one_line(tmp_path):
    with pytest.raises(UsageError, match="does not exist"):
        list(read_jsonl(tmp_path / "runs.jsonl"))
    with pytest.raises(UsageError, match="is a directory, not a file"):
        list(read_jsonl(tmp_path))


def test_write_jsonl_replaces_the_file_and_round_trips(tmp_path):
    records = [make_run(make_spec("bl1"), 0.5, 0.4), make_run(make_spec("bl2"), 0.6, 0.5)]
    path = tmp_path / "runs.jsonl"
    write_jsonl(records, path)
    write_jsonl(records, path)  # appends
    assert len(list(read_jsonl(path))) == 4
    write_jsonl(records, path, append=False)  # replaces, atomically
    assert path.read_text() == jsonl_text(records)
    assert [r.to_dict() for r in read_jsonl(path)] == [r.to_dict() for r in records]


def test_merge_runs_keeps_one_record_per_run_and_prefers_success():
    spec = make_spec("block:1")
    failed, ok = make_run(spec, None, None, status="failed"), make_run(spec, 0.5, 0.4)
    assert merge_runs([failed, ok, failed]) == [ok]
