"""The results store on SQLite: records, claims, retries, takeover, schema checks, concurrency."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from blockbench.core.errors import BlockbenchError, UsageError
from blockbench.core.record_files import RUNS_FILE, read_jsonl, write_jsonl
from blockbench.core.records import SearchRecord
from blockbench.store.results_dir import ResultsDir
from blockbench.store.run_store import Store
from blockbench.store.schema import STORE_SCHEMA_VERSION, runs
from tests.factories import make_run, make_spec


@pytest.fixture
def url(tmp_path):
    return f"sqlite:///{tmp_path / 'store.db'}"


def test_records_round_trip_and_ok_is_never_replaced_by_a_failure(url):
    spec = make_spec("block:3")
    with Store(url) as store:
        assert store.get(spec.run_hash) is None
        store.add(make_run(spec, 0.8, 0.75))
        store.add(make_run(spec, None, None, status="failed", error="OOM"))
        kept = store.get(spec.run_hash)
        assert kept is not None and kept.ok and kept.val_acc == 0.8
    with Store(url) as reopened:  # persisted
        [row] = reopened.rows()
        assert (row.status, row.record.test_acc, row.spec["target"]) == ("ok", 0.75, "block:3")


def test_rows_filter_by_backbone_dataset_and_status(url):
    with Store(url) as store:
        store.add(make_run(make_spec("bl1", backbone="vgg16"), 0.5, 0.5))
        store.add(make_run(make_spec("bl2", dataset="cifar10"), 0.6, 0.6))
        store.add(make_run(make_spec("bl1", seed=1), None, None, status="failed", error="x"))
        assert [r.spec["backbone"] for r in store.rows(backbone="vgg16")] == ["vgg16"]
        assert [r.spec["dataset"] for r in store.rows(dataset="cifar10")] == ["cifar10"]
        assert [r.error for r in store.rows(status="failed")] == ["x"]


def test_a_claimed_run_is_busy_for_others_and_done_once_finished(url):
    spec = make_spec("block:0")
    with Store(url) as first, Store(url) as second:
        assert first.claim_run(spec).state == "claimed"
        busy = second.claim_run(spec)
        assert busy.state == "busy" and busy.worker == first.keeper.worker_id
        first.finish_run(make_run(spec, 0.9, 0.8))
        done = second.claim_run(spec)
        assert done.state == "done" and done.record.val_acc == 0.9
        [row] = first.rows()
        assert row.attempts == 1 and row.worker is None


def test_failed_runs_are_retried_then_stay_failed_with_their_error(url):
    spec = make_spec("block:1")
    with Store(url) as store:
        for attempt in range(2):  # retries=1: two attempts in all
            assert store.claim_run(spec, retries=1).state == "claimed"
            store.finish_run(make_run(spec, None, None, status="failed", error=f"boom {attempt}"))
        final = store.claim_run(spec, retries=1)
        assert final.state == "exhausted" and final.record.error == "boom 1"
        assert store.claim_run(spec, retries=2).state == "claimed"  # a larger --retries tries again


def test_claim_of_a_killed_process_on_this_machine_is_taken_over_at_once(url, tmp_path):
    spec = make_spec("block:2")
    child = subprocess.run(
        [sys.executable, "-c", "import os, sys; from blockbench.store.run_store import Store; "
         "from tests.factories import make_spec; s = Store(sys.argv[1]); "
         "print([s.claim_run(make_spec(t)).state for t in ('block:2', 'bl1')]); os._exit(0)",
         url], capture_output=True, text=True, timeout=120, cwd=os.getcwd())
    assert child.stdout.strip() == "['claimed', 'claimed']", child.stderr
    with Store(url, stale_after=3600) as store:
        assert [r.status for r in store.rows()] == ["running", "running"]
        assert store.claim_run(spec).state == "claimed"  # its process is gone: no waiting
    with Store(url, stale_after=3600) as later:  # any later process sees it dead too
        assert later.claim_run(make_spec("bl1")).state == "claimed"


def test_claim_of_a_silent_remote_worker_is_taken_over_once_stale(url):
    spec = make_spec("bl2")
    with Store(url) as store:
        store.claim_run(spec)
        with store.db.transaction() as conn:  # as if held by a machine that stopped beating
            conn.execute(runs.update().values(worker="far-away:1:x", updated_at=time.time() - 30))
    with Store(url, stale_after=60) as patient:
        assert patient.claim_run(spec).state == "busy"
    with Store(url, stale_after=10) as impatient:
        assert impatient.claim_run(spec).state == "claimed"


def test_a_live_claim_keeps_its_row_fresh_and_stands_past_stale_after(url):
    spec = make_spec("block:6")
    with Store(url, stale_after=0.4) as holder, Store(url, stale_after=0.4) as other:
        assert holder.claim_run(spec).state == "claimed"
        with holder.db.transaction() as conn:  # its last beat long ago: the next one renews it
            conn.execute(runs.update().values(updated_at=time.time() - 3600))
        time.sleep(0.5)  # beats every 0.1 s
        assert other.claim_run(spec).state == "busy"
        [row] = other.rows()
        assert time.time() - row.updated_at < 0.4 and row.worker == holder.keeper.worker_id


def test_a_claim_whose_process_closed_its_store_is_free(url):
    spec, failed = make_spec("block:5"), make_spec("block:8")
    with Store(url) as store:
        store.add(make_run(failed, None, None, status="failed", error="OOM"))
        store.claim_run(spec)
        store.claim_run(failed)
    with Store(url, stale_after=3600) as other:
        assert [(r.spec["target"], r.status) for r in other.rows()] == [("block:8", "failed")]
        assert other.claim_run(spec).state == "claimed"
        assert other.claim_run(failed).state == "claimed"


def test_claims_from_several_threads_of_one_process(url):
    specs = [make_spec(f"block:{i}") for i in range(24)]

    def beating() -> set[threading.Thread]:
        return {t for t in threading.enumerate() if t.name == "blockbench-claims"}

    others = beating()  # other tests' stores still open in this process
    with Store(url) as store:
        with ThreadPoolExecutor(6) as pool:
            states = list(pool.map(lambda s: store.claim_run(s).state, specs))
        assert states == ["claimed"] * 24
        assert len(beating() - others) == 1
        with ThreadPoolExecutor(6) as pool:
            list(pool.map(lambda s: store.finish_run(make_run(s, 0.5, 0.5)), specs))
        assert {(r.status, r.attempts, r.worker) for r in store.rows()} == {("ok", 1, None)}
    assert not beating() - others


def test_a_forked_child_claims_under_its_own_id(url):
    with Store(url) as store:
        assert store.claim_run(make_spec("bl1")).state == "claimed"
        parent = store.keeper.worker_id
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: its parent's claim is someone else's
            store.db.engine.dispose(close=False)  # never share the parent's connections
            try:
                claim = store.claim_run(make_spec("bl1"))
                os.write(write, f"{claim.state} {claim.worker} {store.keeper.worker_id}".encode())
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
        state, worker, child = os.read(read, 1000).decode().split()
        assert (state, worker) == ("busy", parent) and child != parent


def test_an_interrupted_claim_is_released(url):
    spec = make_spec("block:4")
    with Store(url) as store:
        store.claim_run(spec)
        store.release_run(spec.run_hash)
        assert store.rows() == []


def test_same_search_is_stored_once_and_passwords_are_scrubbed(url):
    search = SearchRecord(policy="tpe", backbone="b", dataset="d", partition="p", seed=0,
                          pick="block:1", run_hashes=["h1", "h2"],
                          policy_options={"storage": "postgresql://bob:hunter2@db/x"},
                          info={"study": "s", "url": "postgresql://bob:hunter2@db/x"})
    with Store(url) as store:
        store.add_search(search, study="one")
        store.add_search(search, study="one")
        [stored] = store.searches()
        assert stored.info["url"] == "postgresql://bob:***@db/x"
        assert "hunter2" not in json.dumps(stored.to_dict())
        assert store.searches(study="other") == []


def test_a_search_run_again_keeps_its_first_record(url):
    first = SearchRecord(policy="random", backbone="b", dataset="d", partition="p", seed=0,
                         pick="block:1", run_hashes=["h1", "h2"], trained=2)
    again = SearchRecord(**{**first.to_dict(), "trained": 0, "created_at": "later"})
    with Store(url) as store:
        assert store.add_search(first).trained == 2
        assert store.add_search(again, study="s").trained == 2  # the rerun adds nothing
        [(_key, text)] = store.search_lines()
        assert json.loads(text)["trained"] == 2 and store.searches(study="s")  # study filled in
        other = SearchRecord(**{**first.to_dict(), "seed": 1})
        store.add_search(other)
        assert len(store.searches()) == 2


def test_record_lines_are_the_stored_json_in_creation_order(url):
    specs = [make_spec(t) for t in ("bl2", "bl1", "block:0")]
    with Store(url) as store:
        for spec in specs:
            store.add(make_run(spec, 0.5, 0.4))
        lines = store.record_lines()
        assert [h for h, _ in lines] == [s.run_hash for s in specs]
        assert [json.loads(t)["spec"]["target"] for _, t in lines] == ["bl2", "bl1", "block:0"]
        chosen = {specs[2].run_hash, specs[0].run_hash, "unknown"}
        assert [h for h, _ in store.record_lines(chosen)] == [specs[0].run_hash, specs[2].run_hash]


def test_a_store_path_that_cannot_be_a_file_is_one_line(tmp_path):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(UsageError, match=r"'.*afile' is a file, not a directory$"):
        Store(f"sqlite:///{tmp_path / 'afile' / 'x.db'}")
    with pytest.raises(UsageError, match=r"store '.*' is a directory, not a file$"):
        Store(f"sqlite:///{tmp_path}")
    with pytest.raises(UsageError, match=r"is a directory, not a SQLite file$"):
        Store(f"sqlite:///{tmp_path}", create=False)
    with pytest.raises(UsageError, match=r"does not exist; run 'blockbench compare"):
        Store(f"sqlite:///{tmp_path / 'none.db'}", create=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


def test_a_store_sqlite_cannot_open_is_a_usage_error(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise sqlite3.OperationalError("unable to open database file")

    monkeypatch.setattr(sqlite3.dbapi2, "connect", refuse)  # the module SQLAlchemy calls
    with pytest.raises(UsageError, match=r"^cannot write store sqlite:///.*x\.db \(unable to open "
                                         r"database file\); check the path and permissions$"):
        Store(f"sqlite:///{tmp_path / 'x.db'}")


def _set_store_version(path, value: str) -> None:
    conn = sqlite3.connect(path)
    conn.execute("UPDATE blockbench_meta SET value = ? WHERE key = 'schema_version'", (value,))
    conn.commit()
    conn.close()


def test_a_newer_or_unmigratable_store_is_refused_with_a_clear_message(tmp_path, url):
    Store(url).close()
    _set_store_version(tmp_path / "store.db", str(STORE_SCHEMA_VERSION + 1))
    with pytest.raises(BlockbenchError, match=r"written by a newer blockbench .* upgrade"):
        Store(url)
    _set_store_version(tmp_path / "store.db", "0")
    with pytest.raises(BlockbenchError, match=r"schema 0, which blockbench .* cannot migrate"):
        Store(url)


def test_a_store_whose_tables_lost_their_version_is_refused(tmp_path, url):
    Store(url).close()
    conn = sqlite3.connect(tmp_path / "store.db")
    conn.execute("DELETE FROM blockbench_meta")
    conn.commit()
    conn.close()
    with pytest.raises(BlockbenchError, match="no readable schema version"):
        Store(url)


def test_a_record_of_another_record_schema_is_not_silently_misread(url):
    spec = make_spec("bl1")
    with Store(url) as store:
        store.add(make_run(spec, 0.5, 0.5))
        data = make_run(spec, 0.5, 0.5).to_dict() | {"schema_version": 99}
        with store.db.transaction() as conn:
            conn.execute(runs.update().values(record=json.dumps(data)))
        with pytest.raises(BlockbenchError, match=r"^store .*: run record schema version 99 is not "
                                                  r"supported by blockbench .* upgrade blockbench"):
            store.get(spec.run_hash)


def test_corrupt_file_gives_one_clear_line(tmp_path):
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(BlockbenchError, match="is not a readable SQLite database") as info:
        Store(str(bad))
    assert "\n" not in str(info.value)


def test_locked_file_gives_one_clear_line(url, tmp_path):
    Store(url).close()
    holder = sqlite3.connect(tmp_path / "store.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(BlockbenchError, match="is locked by another process"), \
                Store(url, busy_timeout=0.2) as store:
            store.add(make_run(make_spec("bl1"), 0.5, 0.5))
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_a_missing_store_is_not_created_by_readers(tmp_path):
    with pytest.raises(UsageError, match="does not exist"):
        Store(str(tmp_path / "nothing.db"), create=False)
    assert not (tmp_path / "nothing.db").exists()


_WRITER = """
import sys
from blockbench.store.run_store import Store
from tests.factories import make_run, make_spec
with Store(sys.argv[1]) as store:
    for i in range(60):
        spec = make_spec(f"block:{i}", seed=int(sys.argv[2]))
        assert store.claim_run(spec).state == "claimed"
        store.finish_run(make_run(spec, 0.5, 0.5))
"""


def test_two_processes_writing_at_once_both_finish_and_the_file_stays_sound(url, tmp_path):
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, url, str(seed)],
                              stderr=subprocess.PIPE, text=True) for seed in (0, 1)]
    errors = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    with Store(url) as store:
        rows = store.rows()
    assert len(rows) == 120 and all(r.status == "ok" and r.attempts == 1 for r in rows)
    check = sqlite3.connect(tmp_path / "store.db")
    assert check.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert check.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    check.close()


def test_results_dir_imports_a_legacy_runs_jsonl_and_exports_what_it_reuses(tmp_path):
    legacy = tmp_path / "old"
    write_jsonl([make_run(make_spec("bl1"), 0.6, 0.5)], legacy / RUNS_FILE)
    results = ResultsDir(legacy)
    assert results.get(make_spec("bl1").run_hash).val_acc == 0.6  # the old file is a cache
    assert len(results) == 1
    results.close()
    shared = f"sqlite:///{legacy / 'blockbench.db'}"
    elsewhere = ResultsDir(tmp_path / "new", storage=shared)
    record = elsewhere.get(make_spec("bl1").run_hash)
    elsewhere.reused(record)
    elsewhere.reused(record)  # exported once
    assert [r.val_acc for r in read_jsonl(tmp_path / "new" / RUNS_FILE)] == [0.6]
    elsewhere.close()
