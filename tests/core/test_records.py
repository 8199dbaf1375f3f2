"""Run and search records read back: each field checked, bad lines named by file and line."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from blockbench.core.errors import UsageError
from blockbench.core.formats import RUN_RECORD, FormatError
from blockbench.core.record_files import jsonl_text, merge_runs, read_jsonl, write_jsonl
from blockbench.core.records import RunRecord, SearchRecord
from tests.factories import failed_run, make_run, make_search, make_spec


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
    (_run(test_acc=None) | {"test_acc": None}, "run record of run 025029181cf9 (block:2): field 'test_acc' must be a number for an ok run, got null"),
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


def _with_hits(val_hits, test_hits) -> RunRecord:
    """An ok record whose accuracies and correctness vectors come from the same hits."""
    val_hits, test_hits = np.asarray(val_hits, bool), np.asarray(test_hits, bool)
    record = make_run(make_spec("block:2"), float(np.float32(val_hits.sum()) / np.float32(len(val_hits))),
                      float(np.float32(test_hits.sum()) / np.float32(len(test_hits))),
                      n_test=len(test_hits), n_blocks=4)
    record.n_val = len(val_hits)
    record.val_correct = RunRecord.encode_correct(val_hits)
    record.test_correct = RunRecord.encode_correct(test_hits)
    return record


@pytest.mark.parametrize("n", [1, 7, 8, 9, 72, 200, 1001])
def test_correctness_round_trips_with_its_length_and_mean(n):
    rng = np.random.default_rng(n)
    val, test = rng.random(n + 3) < 0.6, rng.random(n) < 0.7
    record = _with_hits(val, test)
    back = RunRecord.from_dict(json.loads(json.dumps(record.to_dict())))
    for split, hits in (("val", val), ("test", test)):
        decoded = back.correct(split)
        assert decoded.dtype == bool and decoded.shape == (len(hits),)
        np.testing.assert_array_equal(decoded, hits)
    assert back.correct("test").mean() == pytest.approx(back.test_acc, rel=1e-6)
    assert back.correct("val").sum() == round(back.val_acc * back.n_val)
    assert len(back.test_correct) == 4 * (((n + 7) // 8 + 2) // 3)  # a few hundred bytes per run


def test_correctness_is_none_when_not_kept_and_splits_are_named():
    record = make_run(make_spec("bl1"), 0.5, 0.5)
    assert record.correct("val") is None and record.correct("test") is None
    with pytest.raises(ValueError, match="'train'"):
        record.correct("train")


def test_csv_rows_leave_the_bits_out():
    assert not {"val_correct", "test_correct"} & set(_with_hits([1, 0], [1, 1, 0]).to_row())


def test_a_version_1_record_is_upgraded_without_correctness():
    old = _run()
    del old["val_correct"], old["test_correct"]
    old["schema_version"] = 1
    record = RunRecord.from_dict(old)
    assert record.schema_version == RUN_RECORD.version == 3
    assert record.correct("test") is None and record.val_acc == 0.5
    assert record.to_dict()["test_correct"] is None


def test_a_version_2_record_is_upgraded_to_a_tensorflow_run_with_the_same_hash():
    old = _run()
    del old["spec"]["backend"], old["backend_version"]
    old["schema_version"] = 2
    record = RunRecord.from_dict(old)
    assert record.schema_version == 3 and record.backend_version is None
    assert record.spec.backend == "tensorflow"
    assert record.run_hash == record.spec.run_hash == old["run_hash"]


def test_the_backend_version_is_kept_beside_the_identity():
    record = make_run(make_spec("block:2", backend="jax"), 0.5, 0.4, n_blocks=4)
    record.backend_version = "jax 0.10.2, jaxlib 0.10.2, keras 3.15.1"
    back = RunRecord.from_dict(json.loads(json.dumps(record.to_dict())))
    assert back.backend_version == record.backend_version and back.spec.backend == "jax"
    assert back.run_hash == record.run_hash == make_spec("block:2", backend="jax").run_hash
    with pytest.raises(FormatError, match="'backend_version' must be a string or null, got 3"):
        RunRecord.from_dict(record.to_dict() | {"backend_version": 3})


def test_every_committed_record_keeps_its_hash():
    # The TensorFlow runs were trained before the backend was part of the identity; their
    # hashes must not have moved. The JAX runs (the backend comparison) hash their backend.
    root = Path(__file__).resolve().parents[2] / "leaderboards"
    records = [r for path in sorted(root.rglob("runs.jsonl")) for r in read_jsonl(path, RunRecord)]
    assert records
    for record in records:
        assert record.spec.run_hash == record.run_hash
        if record.spec.backend == "tensorflow":
            assert record.backend_version is None or record.backend_version.startswith("tensorflow")
        else:
            assert record.spec.backend == "jax" and record.backend_version.startswith("jax ")
    assert {r.spec.backend for r in records} >= {"tensorflow"}


def test_every_committed_record_still_loads():
    root = Path(__file__).resolve().parents[2] / "leaderboards"
    files = sorted(root.rglob("runs.jsonl"))
    assert files
    for path in files:
        assert all(r.correct("test") is None or r.ok for r in read_jsonl(path, RunRecord))


def test_a_record_of_a_future_version_is_refused():
    with pytest.raises(FormatError, match="run record schema version 4 is not supported"):
        RunRecord.from_dict(_run(schema_version=4))


@pytest.mark.parametrize(("field", "value"), [("val_acc", float("nan")), ("test_acc", float("inf")),
                                              ("val_acc", float("-inf"))])
def test_a_non_finite_accuracy_is_refused_naming_the_run(tmp_path, field, value):
    path = _lines(tmp_path, _run(), _run(**{field: value}))
    with pytest.raises(FormatError) as info:
        list(read_jsonl(path, RunRecord))
    assert str(info.value) == (f"{path}:2: run record of run 025029181cf9 (block:2): field "
                               f"{field!r} must be a finite number, got {value}")


def test_a_failed_record_may_keep_no_accuracy():
    record = failed_run(make_spec("block:2"), n_blocks=4).to_dict()
    assert RunRecord.from_dict(record).val_acc is None


@pytest.mark.parametrize(("change", "message"), [
    ({"test_correct": "not base64!"}, "field 'test_correct' is not base64 text"),
    ({"test_correct": RunRecord.encode_correct([True] * 16)},
     "field 'test_correct' holds 16 bits, expected 3 (rounded up to bytes)"),
    ({"test_correct": RunRecord.encode_correct([True, True, False, False, True])},
     "field 'test_correct' has bits set after the 3 examples"),
    ({"val_correct": RunRecord.encode_correct([True, True])},
     "field 'val_correct' has 2 of 2 right, but val_acc 0.5 means 1"),
    ({"test_correct": 5}, "field 'test_correct' must be a string or null, got 5"),
])
def test_a_correctness_vector_that_does_not_fit_is_refused(change, message):
    record = _with_hits([True, False], [True, False, True]).to_dict() | change
    with pytest.raises(FormatError) as info:
        RunRecord.from_dict(record)
    assert str(info.value).endswith(message)
