"""Stores of older schemas open in place: schema 1's job queue tables are dropped, runs kept."""

from __future__ import annotations

import logging
import sqlite3

import pytest
from sqlalchemy import (
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    inspect,
    text,
)

from blockbench.core.records import SearchRecord
from blockbench.store.run_store import Store
from blockbench.store.schema import STORE_SCHEMA_VERSION, runs
from tests.factories import make_run, make_spec


@pytest.fixture
def url(tmp_path):
    return f"sqlite:///{tmp_path / 'store.db'}"


def make_v1_store(url: str) -> list[str]:
    """A store as schema 1 left it: runs, a search, and the retired job queue's tables with rows.

    Returns the hashes of its runs.
    """
    specs = [make_spec("bl1"), make_spec("bl2"), make_spec("block:0")]
    old = MetaData()
    Table("blockbench_workers", old, Column("worker", String(128), primary_key=True),
          Column("host", String(255), nullable=False), Column("pid", Integer, nullable=False),
          Column("started_at", Float, nullable=False), Column("heartbeat", Float, nullable=False))
    Table("blockbench_studies", old, Column("study", String(128), primary_key=True),
          Column("definition", Text, nullable=False), Column("created_at", Float, nullable=False))
    jobs = Table("blockbench_jobs", old,
                 Column("id", Integer, primary_key=True, autoincrement=True),
                 Column("study", String(128), nullable=False, index=True),
                 Column("job_key", String(255), nullable=False),
                 Column("priority", Integer, nullable=False),
                 Column("payload", Text, nullable=False),
                 Column("status", String(16), nullable=False, index=True),
                 Column("worker", String(128)), Column("error", Text),
                 Column("updated_at", Float, nullable=False),
                 UniqueConstraint("study", "job_key", name="blockbench_jobs_study_key"))
    with Store(url) as store:  # runs, searches and meta are the same in schema 1
        store.add(make_run(specs[0], 0.6, 0.5))
        store.add(make_run(specs[1], 0.7, 0.6))
        store.claim_run(specs[2])
        store.add_search(SearchRecord(policy="random", backbone="b", dataset="d", partition="p",
                                      seed=0, pick="bl2", run_hashes=[s.run_hash for s in specs]),
                         study="s1")
        with store.db.transaction() as conn:
            old.create_all(conn)
            conn.execute(old.tables["blockbench_workers"].insert().values(
                worker="h:1:x", host="h", pid=1, started_at=0.0, heartbeat=0.0))
            conn.execute(old.tables["blockbench_studies"].insert(), [
                {"study": name, "definition": "{}", "created_at": 0.0} for name in ("s1", "s2", "s3")])
            conn.execute(jobs.insert(), [
                {"study": study, "job_key": f"run:{n}", "priority": 0, "payload": "{}",
                 "status": status, "updated_at": 0.0}
                for n, (study, status) in enumerate([("s1", "done"), ("s1", "queued"),
                                                     ("s1", "running"), ("s2", "failed"),
                                                     ("s3", "done"), ("s3", "done")])])
            conn.execute(text("UPDATE blockbench_meta SET value = '1' WHERE key = 'schema_version'"))
        # The row claimed under schema 1 has no heartbeat of its own: it was kept in workers.
        with store.db.transaction() as conn:
            conn.execute(runs.update().where(runs.c.status == "running")
                         .values(worker="h:1:x", updated_at=0.0))
    return [s.run_hash for s in specs]


def check_v1_store_migrates(url: str, caplog: pytest.LogCaptureFixture) -> None:
    """Open :func:`make_v1_store`'s store: it keeps its runs and searches, loses the queue."""
    hashes = make_v1_store(url)
    with caplog.at_level(logging.WARNING, logger="blockbench.store.schema"), Store(url) as store:
        [warning] = caplog.records
        message = warning.getMessage()
        assert store.display in message and "dropped 3 unfinished jobs" in message, message
        assert "(studies s1, s2)" in message and "--executor ray" in message, message
        assert "\n" not in message
        assert [(r.run_hash, r.status) for r in store.rows()] == [
            (hashes[0], "ok"), (hashes[1], "ok"), (hashes[2], "running")]
        assert [s.pick for s in store.searches(study="s1")] == ["bl2"]
        assert store.claim_run(make_spec("block:0")).state == "claimed"  # abandoned under v1
        with store.db.transaction() as conn:
            tables = set(inspect(conn).get_table_names())
            version = conn.execute(text("SELECT value FROM blockbench_meta")).scalar_one()
        assert not tables & {"blockbench_jobs", "blockbench_studies", "blockbench_workers"}
        assert version == str(STORE_SCHEMA_VERSION) == "2"
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="blockbench.store.schema"), Store(url) as again:
        assert len(again.rows()) == 2 and caplog.records == []  # migrated once; block:0 released


def test_a_v1_store_with_the_job_queue_opens_and_keeps_its_runs(url, caplog):
    check_v1_store_migrates(url, caplog)


def test_a_v1_store_whose_jobs_are_all_done_migrates_silently(url, tmp_path, caplog):
    make_v1_store(url)
    conn = sqlite3.connect(tmp_path / "store.db")
    conn.execute("UPDATE blockbench_jobs SET status = 'done'")
    conn.execute("DROP TABLE blockbench_workers")  # absent tables are fine too
    conn.commit()
    conn.close()
    with caplog.at_level(logging.WARNING), Store(url) as store:
        assert len(store.rows()) == 3 and len(store.searches()) == 1
    assert [r for r in caplog.records if r.name.startswith("blockbench")] == []
