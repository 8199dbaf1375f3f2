"""ResultsDir: cache hits, retries, waiting for another trainer, and its export from the store."""

from __future__ import annotations

import errno
import io
import threading
import time
from dataclasses import dataclass, field

import pytest
from rich.console import Console

from blockbench.core.errors import UsageError
from blockbench.core.formats import FormatError
from blockbench.core.record_files import RUNS_CSV, RUNS_FILE, SEARCHES_FILE, read_jsonl, write_jsonl
from blockbench.core.records import RunRecord, SearchRecord
from blockbench.search.evaluator import TrainingEvaluator
from blockbench.search.progress import ProgressReporter
from blockbench.store.listing import load_results
from blockbench.store.results_dir import ResultsDir
from blockbench.store.run_store import Store
from tests.factories import make_run, make_spec


@dataclass
class FakeProblem:
    """Trains instantly; the first ``fail_first`` attempts of each target fail."""

    fail_first: int = 0
    backbone: str = "mobilenet"
    dataset: str = "flowers5"
    trained: list[str] = field(default_factory=list)

    def spec(self, target, seed, epochs=None):
        return make_spec(target, seed=seed)

    def train(self, spec, on_epoch=None) -> RunRecord:
        self.trained.append(spec.target)
        if self.trained.count(spec.target) <= self.fail_first:
            return make_run(spec, None, None, status="failed", error="ResourceExhaustedError: OOM")
        return make_run(spec, 0.7, 0.6)


def progress() -> ProgressReporter:
    return ProgressReporter(Console(file=io.StringIO()), quiet=True)


def test_a_completed_run_is_reused_across_invocations(tmp_path):
    problem = FakeProblem()
    with_results = ResultsDir(tmp_path)
    first = TrainingEvaluator(problem, 0, with_results, progress())
    assert first.record("block:1")[1] is True
    with_results.close()
    again = ResultsDir(tmp_path)
    record, trained = TrainingEvaluator(problem, 0, again, progress()).record("block:1")
    assert (trained, record.val_acc, problem.trained) == (False, 0.7, ["block:1"])
    again.close()


def test_a_failed_run_is_retried_then_recorded_as_failed_and_others_go_on(tmp_path):
    problem = FakeProblem(fail_first=5)
    results = ResultsDir(tmp_path)
    evaluator = TrainingEvaluator(problem, 0, results, progress(), retries=2)
    record, _ = evaluator.record("block:2")
    assert not record.ok and "OOM" in record.error
    assert problem.trained == ["block:2"] * 3  # 1 + retries attempts
    assert TrainingEvaluator(problem, 0, results, progress(), retries=2).record("block:2")[1] is False
    assert problem.trained.count("block:2") == 3  # final: a rerun does not train it again
    problem.fail_first = 0
    assert evaluator.record("block:3")[0].ok  # never blocks the others
    [row] = results.store.rows(status="failed")
    assert (row.failures, row.attempts) == (3, 3)
    exported = list(read_jsonl(tmp_path / RUNS_FILE))  # the store's record of each run
    assert [(r.spec.target, r.status) for r in exported] == [("block:2", "failed"), ("block:3", "ok")]
    results.close()


def test_a_transient_failure_succeeds_on_retry(tmp_path):
    problem = FakeProblem(fail_first=1)
    results = ResultsDir(tmp_path)
    record, trained = TrainingEvaluator(problem, 0, results, progress(), retries=1).record("bl1")
    assert record.ok and trained and problem.trained == ["bl1", "bl1"]
    results.close()


def test_a_run_another_process_is_training_is_waited_for_not_trained_twice(tmp_path):
    problem = FakeProblem()
    results = ResultsDir(tmp_path)
    other = Store(results.store.url)
    spec = make_spec("block:0")
    assert other.claim_run(spec).state == "claimed"

    def finish_later() -> None:
        time.sleep(0.5)
        other.finish_run(make_run(spec, 0.9, 0.9))

    thread = threading.Thread(target=finish_later)
    thread.start()
    record, trained = TrainingEvaluator(problem, 0, results, progress(), poll=0.05).record("block:0")
    thread.join()
    assert (trained, record.val_acc, problem.trained) == (False, 0.9, [])
    assert [r.val_acc for r in read_jsonl(tmp_path / RUNS_FILE)] == [0.9]  # exported here too
    other.close()
    results.close()


# -- the export: written from the store, idempotent, crash-safe -----------------------------


def _search(target: str = "block:1", trained: int = 1) -> SearchRecord:
    spec = make_spec(target)
    return SearchRecord(policy="exhaustive", backbone=spec.backbone, dataset=spec.dataset,
                        partition="uniform", seed=0, pick=target, pick_hash=spec.run_hash,
                        targets=[target], run_hashes=[spec.run_hash], runs=1, trained=trained)


def _files(path) -> dict[str, bytes]:
    return {n: (path / n).read_bytes() for n in (RUNS_FILE, SEARCHES_FILE, RUNS_CSV)}


def test_running_the_same_thing_again_leaves_the_export_byte_for_byte_the_same(tmp_path):
    problem = FakeProblem()
    for attempt in range(2):  # the second time every run is reused and the search repeated
        results = ResultsDir(tmp_path)
        evaluator = TrainingEvaluator(problem, 0, results, progress())
        for target in ("bl1", "bl2", "block:1"):
            evaluator.record(target)
        results.add_search(_search(trained=1 - attempt))
        results.export()
        results.close()
        if attempt == 0:
            first = _files(tmp_path)
    assert _files(tmp_path) == first
    assert len(first[SEARCHES_FILE].splitlines()) == 1 and len(first[RUNS_FILE].splitlines()) == 3
    assert problem.trained == ["bl1", "bl2", "block:1"]
    [kept] = read_jsonl(tmp_path / SEARCHES_FILE, SearchRecord)
    assert kept.trained == 1  # the search as first recorded


def test_a_cut_short_runs_jsonl_beside_a_store_is_rewritten_from_it(tmp_path):
    results = ResultsDir(tmp_path)
    for target in ("bl1", "bl2", "block:0"):
        results.add(make_run(make_spec(target), 0.7, 0.6))
    results.add_search(_search("block:0"))
    results.export()
    results.close()
    whole = _files(tmp_path)
    damaged = whole[RUNS_FILE].splitlines(keepends=True)
    (tmp_path / RUNS_FILE).write_bytes(damaged[0] + damaged[1][:50] + damaged[2][:70])
    records, searches = load_results(tmp_path)  # a reader: the store wins, the file is repaired
    assert len(records) == 3 and len(searches) == 1
    assert _files(tmp_path) == whole
    (tmp_path / RUNS_FILE).write_bytes(damaged[1][:50] + b"\n" + damaged[0])
    ResultsDir(tmp_path).close()  # a compare opening it: the same
    assert _files(tmp_path) == whole


def test_a_legacy_runs_jsonl_with_a_cut_short_last_line_imports_the_rest(tmp_path, caplog):
    runs = [make_run(make_spec(t), 0.7, 0.6) for t in ("bl1", "bl2", "block:0")]
    searches = [_search("block:0")]
    write_jsonl(runs, tmp_path / RUNS_FILE)
    write_jsonl(searches, tmp_path / SEARCHES_FILE)
    with (tmp_path / RUNS_FILE).open("a") as handle:
        handle.write('{"spec": {"backbone": "mobil')
    with caplog.at_level("WARNING"):
        results = ResultsDir(tmp_path)
    assert f"{tmp_path / RUNS_FILE}:4: skipped a cut-short last line" in caplog.text
    assert len(results) == 3 and len(results.store.searches()) == 1  # searches imported too
    results.close()
    assert [r.to_dict() for r in read_jsonl(tmp_path / RUNS_FILE)] == [r.to_dict() for r in runs]
    assert (tmp_path / SEARCHES_FILE).read_text().count("\n") == 1


def test_a_legacy_runs_jsonl_damaged_in_the_middle_is_refused_and_nothing_is_created(tmp_path):
    write_jsonl([make_run(make_spec(t), 0.7, 0.6) for t in ("bl1", "bl2")], tmp_path / RUNS_FILE)
    lines = (tmp_path / RUNS_FILE).read_text().splitlines()
    (tmp_path / RUNS_FILE).write_text(lines[0][:60] + "\n" + lines[1] + "\n")
    with pytest.raises(FormatError, match=rf"^{tmp_path / RUNS_FILE}:1: not a JSON run record"):
        ResultsDir(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [RUNS_FILE]


def test_with_a_shared_store_the_export_holds_this_directory_s_runs(tmp_path):
    shared = f"sqlite:///{tmp_path / 'shared.db'}"
    other = Store(shared)
    other.add(make_run(make_spec("bl1", seed=7), 0.1, 0.1))  # someone else's run
    other.close()
    elsewhere = tmp_path / "mine"
    write_jsonl([make_run(make_spec("bl2", seed=3), 0.2, 0.2)], elsewhere / RUNS_FILE)  # not in it
    results = ResultsDir(elsewhere, storage=shared)
    results.add(make_run(make_spec("block:1"), 0.7, 0.6))
    reused = results.get(make_spec("bl1", seed=7).run_hash)
    results.reused(reused)
    results.export()
    results.close()
    exported = {(r.spec.target, r.spec.seed) for r in read_jsonl(elsewhere / RUNS_FILE)}
    assert exported == {("block:1", 0), ("bl1", 7), ("bl2", 3)}
    assert not (elsewhere / "blockbench.db").exists()


def test_discard_removes_only_what_opening_created_and_only_when_nothing_was_recorded(tmp_path):
    out = tmp_path / "new" / "out"
    ResultsDir(out).discard()
    assert not (tmp_path / "new").exists()
    kept = ResultsDir(out)
    kept.add(make_run(make_spec("bl1"), 0.7, 0.6))
    kept.discard()
    assert (out / "blockbench.db").is_file() and (out / RUNS_FILE).is_file()
    (tmp_path / "existing").mkdir()
    (tmp_path / "existing" / "notes.txt").write_text("mine")
    ResultsDir(tmp_path / "existing").discard()
    assert sorted(p.name for p in (tmp_path / "existing").iterdir()) == ["notes.txt"]


@pytest.mark.parametrize("where", ["out is a file", "out under a file", "store under a file"])
def test_an_unusable_path_is_one_line_and_nothing_is_created(tmp_path, where):
    (tmp_path / "afile").write_text("x")
    out, storage = tmp_path / "out", None
    if where == "out is a file":
        out = tmp_path / "afile"
    elif where == "out under a file":
        out = tmp_path / "afile" / "out"
    else:
        storage = f"sqlite:///{tmp_path / 'afile' / 'x.db'}"
    with pytest.raises(UsageError) as info:
        ResultsDir(out, storage=storage)
    assert "afile" in str(info.value) and "is a file, not a directory" in str(info.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


def test_a_store_that_cannot_write_its_export_is_one_line(tmp_path, monkeypatch):
    results = ResultsDir(tmp_path)

    def refuse(src, dst):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr("os.replace", refuse)
    with pytest.raises(UsageError, match=rf"^cannot write results file '{tmp_path / RUNS_FILE}': "
                                         "permission denied$"):
        results.add(make_run(make_spec("bl1"), 0.7, 0.6))
    results.close()
