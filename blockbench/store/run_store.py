"""The results store: run records keyed by run hash, search records, and claims on runs.

A :class:`Store` lives on one storage URL (SQLite by default, PostgreSQL for
teams). It is the cache: a run whose hash has an ``ok`` record is never
trained again. Before training, a process *claims* the run's row; another
process wanting the same run waits for it instead of training it twice, and
a claim whose process died (its heartbeat stopped, see
:mod:`blockbench.store.heartbeat`) is taken over, so an interrupted run is
retrained from its start.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Connection, and_, select
from sqlalchemy.exc import IntegrityError

from blockbench.core.errors import BlockbenchError, UsageError
from blockbench.core.records import FAILED, OK, RunRecord, SearchRecord
from blockbench.core.spec import RunSpec, canonical_json
from blockbench.store.database import BUSY_TIMEOUT, Database
from blockbench.store.heartbeat import Workers
from blockbench.store.schema import ensure_schema, runs, searches
from blockbench.store.url import backend_of, mask_url, normalize_url, scrub, sqlite_path

RUNNING = "running"
T = TypeVar("T")


@dataclass(frozen=True)
class StoredRun:
    """One row of the runs table: a finished run, or one being trained."""

    run_hash: str
    status: str
    spec: dict[str, Any]
    record: RunRecord | None
    attempts: int
    failures: int
    worker: str | None
    error: str | None
    updated_at: float


@dataclass(frozen=True)
class Claim:
    """The answer to "may I train this run?".

    Attributes:
        state: "claimed" (train it), "done" (``record`` is ok: reuse it), "busy"
            (``worker`` is training it: wait), or "exhausted" (it failed as
            often as retries allow: ``record`` is the failure).
    """

    state: str
    record: RunRecord | None = None
    worker: str | None = None


class Store:
    """Run and search records on one storage URL.

    Args:
        url: storage URL (``sqlite:///x.db``, ``postgresql://...``) or a SQLite file path.
        busy_timeout: seconds a SQLite writer waits for another.
        stale_after: seconds without a heartbeat after which a claim is taken over.
        create: create the store if it does not exist (False: readers, which fail instead).
    """

    def __init__(self, url: str | os.PathLike[str], busy_timeout: float = BUSY_TIMEOUT,
                 stale_after: float | None = None, create: bool = True) -> None:
        url = normalize_url(url)
        if not create and backend_of(url) == "sqlite" and not sqlite_path(url).is_file():
            raise UsageError(f"store {mask_url(url)} does not exist; run 'blockbench compare "
                             "--storage URL' first, or pass another --storage")
        self.db = Database(url, busy_timeout)
        self.url, self.display = self.db.url, self.db.display
        with self.db.transaction() as conn:
            self.db.lock_schema(conn)
            ensure_schema(conn, self.display)
        self.workers = Workers(self.db, stale_after)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop heartbeating, release this process's worker row, close connections."""
        self.workers.stop()
        self.db.dispose()

    # -- records -------------------------------------------------------------

    def get(self, run_hash: str) -> RunRecord | None:
        """The completed (ok) record with this identity hash, if any."""
        found = self.record(run_hash)
        return found if found is not None and found.ok else None

    def record(self, run_hash: str) -> RunRecord | None:
        """The last finished record of this run (ok or failed), if any."""
        with self.db.transaction() as conn:
            row = conn.execute(select(runs).where(runs.c.run_hash == run_hash)).first()
        return self._record(row) if row is not None else None

    def rows(self, backbone: str | None = None, dataset: str | None = None,
             status: str | None = None) -> list[StoredRun]:
        """Every run row, filtered, oldest first."""
        query = select(runs).order_by(runs.c.created_at, runs.c.run_hash)
        for column, value in ((runs.c.backbone, backbone), (runs.c.dataset, dataset),
                              (runs.c.status, status)):
            if value is not None:
                query = query.where(column == value)
        with self.db.transaction() as conn:
            result = conn.execute(query).all()
        return [StoredRun(r.run_hash, r.status, json.loads(r.spec), self._record(r), r.attempts,
                          r.failures, r.worker, r.error, r.updated_at) for r in result]

    def records(self) -> list[RunRecord]:
        """Every finished run's last record."""
        return [r.record for r in self.rows() if r.record is not None]

    def add(self, record: RunRecord) -> RunRecord:
        """Store a finished run (an ok record is never replaced by a failed one); return the kept one."""
        return self._retry(lambda conn: self._finish(conn, record, claimed=False))

    def add_search(self, search: SearchRecord, study: str | None = None) -> SearchRecord:
        """Store a search record (scrubbed of passwords); the same search stored twice is kept once."""
        clean = SearchRecord.from_dict(scrub(search.to_dict(), self.db._secrets))
        data = clean.to_dict()
        identity = {k: data[k] for k in ("policy", "policy_options", "policy_seed", "backbone",
                                         "dataset", "partition", "seed", "budget", "run_hashes")}
        key = hashlib.sha256(canonical_json(identity).encode()).hexdigest()
        values = {"study": study, "record": json.dumps(data, sort_keys=True),
                  "schema_version": clean.schema_version, "created_at": time.time()}

        def write(conn: Connection) -> None:
            if conn.execute(select(searches.c.search_key).where(searches.c.search_key == key)
                            .with_for_update()).first():
                conn.execute(searches.update().where(searches.c.search_key == key).values(**values))
            else:
                conn.execute(searches.insert().values(search_key=key, **values))

        self._retry(write)
        return clean

    def searches(self, study: str | None = None) -> list[SearchRecord]:
        query = select(searches.c.record).order_by(searches.c.created_at, searches.c.search_key)
        if study is not None:
            query = query.where(searches.c.study == study)
        with self.db.transaction() as conn:
            rows = conn.execute(query).all()
        return [self._checked(SearchRecord.from_dict, row[0]) for row in rows]

    # -- claims --------------------------------------------------------------

    def claim_run(self, spec: RunSpec, retries: int = 1) -> Claim:
        """Claim ``spec``'s run for this process, unless it is done, busy or out of attempts."""
        key = spec.run_hash
        me = self.workers.register()

        def claim(conn: Connection) -> Claim:
            self.workers.reap_dead_local(conn)
            row = conn.execute(select(runs).where(runs.c.run_hash == key).with_for_update()).first()
            now = time.time()
            if row is None:
                conn.execute(runs.insert().values(
                    run_hash=key, status=RUNNING, spec=canonical_json(spec.to_dict()),
                    backbone=spec.backbone, dataset=spec.dataset, target=spec.target,
                    seed=spec.seed, attempts=0, failures=0, worker=me, created_at=now,
                    updated_at=now))
                return Claim("claimed")
            if row.status == OK:
                return Claim("done", self._record(row))
            if row.status == RUNNING and self.workers.holds(conn, row.worker):
                if row.worker == me:
                    return Claim("claimed")
                return Claim("busy", worker=row.worker)
            if row.status == FAILED and row.failures >= 1 + retries:
                return Claim("exhausted", self._record(row))
            # New, failed with attempts left, or abandoned by a dead worker: ours now.
            conn.execute(runs.update().where(runs.c.run_hash == key)
                         .values(status=RUNNING, worker=me, updated_at=now))
            return Claim("claimed")

        return self._retry(claim)

    def finish_run(self, record: RunRecord) -> RunRecord:
        """Record a claimed run's outcome; returns the stored record (another ok one if it won)."""
        return self._retry(lambda conn: self._finish(conn, record, claimed=True))

    def release_run(self, run_hash: str) -> None:
        """Give up a claim without a result (interrupted): the run is free for anyone."""
        me = self.workers.worker_id

        def release(conn: Connection) -> None:
            cond = and_(runs.c.run_hash == run_hash, runs.c.status == RUNNING, runs.c.worker == me)
            row = conn.execute(select(runs.c.record).where(cond).with_for_update()).first()
            if row is None:
                return
            if row.record is None:
                conn.execute(runs.delete().where(cond))
            else:
                conn.execute(runs.update().where(cond).values(status=FAILED, worker=None))

        self._retry(release)

    # -- internals -----------------------------------------------------------

    def _finish(self, conn: Connection, record: RunRecord, claimed: bool) -> RunRecord:
        key, now = record.run_hash, time.time()
        row = conn.execute(select(runs).where(runs.c.run_hash == key).with_for_update()).first()
        if row is not None and row.status == OK:
            return self._record(row) or record
        values: dict[str, Any] = {
            "status": OK if record.ok else FAILED, "record": json.dumps(record.to_dict(), sort_keys=True),
            "schema_version": record.schema_version, "blockbench_version": record.blockbench_version,
            "error": record.error, "worker": None, "updated_at": now,
        }
        if row is None:
            conn.execute(runs.insert().values(
                run_hash=key, spec=canonical_json(record.spec.to_dict()),
                backbone=record.spec.backbone, dataset=record.spec.dataset,
                target=record.spec.target, seed=record.spec.seed, created_at=now,
                attempts=int(claimed), failures=int(not record.ok), **values))
        else:
            conn.execute(runs.update().where(runs.c.run_hash == key).values(
                attempts=row.attempts + int(claimed), failures=row.failures + int(not record.ok),
                **values))
        return record

    def _record(self, row: Any) -> RunRecord | None:
        if row.record is None:
            return None
        return self._checked(RunRecord.from_dict, row.record)

    def _checked(self, parse: Callable[[dict[str, Any]], T], raw: str) -> T:
        try:
            return parse(json.loads(raw))
        except BlockbenchError as exc:
            raise BlockbenchError(f"store {self.display}: {exc}") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise BlockbenchError(f"store {self.display} holds a malformed record "
                                  f"({type(exc).__name__}: {exc})") from None

    def _retry(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` in a transaction; an insert racing another process's is retried."""
        last: IntegrityError | None = None
        for attempt in range(5):
            try:
                with self.db.transaction() as conn:
                    return work(conn)
            except IntegrityError as exc:
                last = exc
                time.sleep(0.05 * (attempt + 1))
        assert last is not None
        raise BlockbenchError(self.db.describe(last))
