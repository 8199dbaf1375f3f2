"""The results store: run records keyed by run hash, search records, and claims on runs.

A :class:`Store` lives on one storage URL (SQLite by default, PostgreSQL for
teams). It is the cache: a run whose hash has an ``ok`` record is never
trained again. Before training, a process *claims* the run's row; another
process wanting the same run waits for it instead of training it twice, and
a claim whose process died (the row's heartbeat stopped, see
:mod:`blockbench.store.heartbeat`) is taken over, so an interrupted run is
retrained from its start.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Connection, and_, select
from sqlalchemy.exc import IntegrityError

from blockbench.core.errors import BlockbenchError, UsageError
from blockbench.core.failures import retryable
from blockbench.core.records import FAILED, OK, RunRecord, SearchRecord
from blockbench.core.spec import RunSpec, canonical_json
from blockbench.store.database import BUSY_TIMEOUT, Database
from blockbench.store.heartbeat import RUNNING, ClaimKeeper
from blockbench.store.schema import ensure_schema, runs, searches
from blockbench.store.url import backend_of, mask_url, normalize_url, scrub, sqlite_path

log = logging.getLogger(__name__)
T = TypeVar("T")
#: Fields of a search record that make its identity: the same search run again has the same key.
SEARCH_IDENTITY = ("policy", "policy_options", "policy_seed", "backbone", "dataset", "partition",
                   "seed", "budget", "run_hashes")


def search_key(record: Mapping[str, Any]) -> str:
    """The store's key of a search record (its JSON form, passwords scrubbed)."""
    identity = {k: record.get(k) for k in SEARCH_IDENTITY}
    return hashlib.sha256(canonical_json(identity).encode()).hexdigest()


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
            often as retries allow, or in a way a retry would repeat:
            ``record`` is the failure).
    """

    state: str
    record: RunRecord | None = None
    worker: str | None = None


class Store:
    """Run and search records on one storage URL.

    Args:
        url: storage URL (``sqlite:///x.db``, ``postgresql://...``) or a SQLite file path.
        busy_timeout: seconds a SQLite writer waits for another.
        stale_after: seconds without a heartbeat after which a claim is taken over
            (default: ``$BLOCKBENCH_STALE_AFTER`` or 120).
        create: create the store if it does not exist (False: readers, which fail instead).
    """

    def __init__(self, url: str | os.PathLike[str], busy_timeout: float = BUSY_TIMEOUT,
                 stale_after: float | None = None, create: bool = True) -> None:
        url = normalize_url(url)
        if not create and backend_of(url) == "sqlite" and not sqlite_path(url).is_file():
            if sqlite_path(url).is_dir():
                raise UsageError(f"store {mask_url(url)} is a directory, not a SQLite file")
            raise UsageError(f"store {mask_url(url)} does not exist; run 'blockbench compare "
                             "--storage URL' first, or pass another --storage")
        self.db = Database(url, busy_timeout)
        self.url, self.display = self.db.url, self.db.display
        with self.db.transaction() as conn:
            self.db.lock_schema(conn)
            ensure_schema(conn, self.display)
        self.keeper = ClaimKeeper(self.db, stale_after)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the claims' heartbeat, release the claims still held, close connections."""
        claimed = self.keeper.started
        self.keeper.stop()
        if claimed:
            try:
                self._retry(lambda conn: self._release(conn, None))
            except BlockbenchError as exc:
                log.warning("could not release the claims of %s: %s", self.keeper.worker_id, exc)
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
        """Store a search record (scrubbed of passwords); returns the record the store keeps.

        The same search run again (same policy, options, seeds, budget and runs:
        :func:`search_key`) is kept once, as first recorded: a rerun that reuses
        every run adds nothing, and the exports stay the same.
        """
        clean = SearchRecord.from_dict(scrub(search.to_dict(), self.db._secrets))
        data = clean.to_dict()
        key = search_key(data)
        values = {"study": study, "record": json.dumps(data, sort_keys=True),
                  "schema_version": clean.schema_version, "created_at": time.time()}

        def write(conn: Connection) -> SearchRecord:
            row = conn.execute(select(searches).where(searches.c.search_key == key)
                               .with_for_update()).first()
            if row is None:
                conn.execute(searches.insert().values(search_key=key, **values))
                return clean
            if row.study is None and study is not None:
                conn.execute(searches.update().where(searches.c.search_key == key)
                             .values(study=study))
            return self._checked(SearchRecord.from_dict, row.record, f"search {key[:12]}")

        return self._retry(write)

    def record_lines(self, hashes: Collection[str] | None = None) -> list[tuple[str, str]]:
        """(run hash, record JSON) of every finished run, or of those in ``hashes``, oldest first.

        The JSON is the stored text, the line :func:`~blockbench.core.record_files.jsonl_text`
        writes: exports copy it without parsing it.
        """
        query = select(runs.c.run_hash, runs.c.record, runs.c.created_at).where(
            runs.c.record.is_not(None))
        return self._lines(query, runs.c.run_hash, hashes)

    def search_lines(self, keys: Collection[str] | None = None) -> list[tuple[str, str]]:
        """(search key, record JSON) of every search, or of those in ``keys``, oldest first."""
        query = select(searches.c.search_key, searches.c.record, searches.c.created_at)
        return self._lines(query, searches.c.search_key, keys)

    def _lines(self, query: Any, column: Any, keys: Collection[str] | None) -> list[tuple[str, str]]:
        """(key, text) of the rows ``query`` selects as (key, text, created_at), oldest first."""
        with self.db.transaction() as conn:
            if keys is None:
                found = list(conn.execute(query).all())
            else:
                wanted, found = sorted(keys), []
                for start in range(0, len(wanted), 500):  # below every backend's parameter limit
                    found += conn.execute(query.where(column.in_(wanted[start:start + 500]))).all()
        return [(r[0], r[1]) for r in sorted(found, key=lambda r: (r[2], r[0]))]

    def searches(self, study: str | None = None) -> list[SearchRecord]:
        query = select(searches.c.search_key, searches.c.record).order_by(
            searches.c.created_at, searches.c.search_key)
        if study is not None:
            query = query.where(searches.c.study == study)
        with self.db.transaction() as conn:
            rows = conn.execute(query).all()
        return [self._checked(SearchRecord.from_dict, row[1], f"search {row[0][:12]}")
                for row in rows]

    # -- claims --------------------------------------------------------------

    def claim_run(self, spec: RunSpec, retries: int = 1) -> Claim:
        """Claim ``spec``'s run for this process, unless it is done, busy or out of attempts."""
        key = spec.run_hash
        me = self.keeper.start()

        def claim(conn: Connection) -> Claim:
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
            if row.status == RUNNING and self.keeper.holds(row.worker, row.updated_at):
                if row.worker == me:
                    return Claim("claimed")
                return Claim("busy", worker=row.worker)
            if row.status == FAILED and (row.failures >= 1 + retries or not retryable(row.error)):
                return Claim("exhausted", self._record(row))  # a NaN would only repeat
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
        self._retry(lambda conn: self._release(conn, run_hash))

    # -- internals -----------------------------------------------------------

    def _release(self, conn: Connection, run_hash: str | None) -> None:
        """Free this process's claim on ``run_hash`` (None: on every run): as it was before."""
        cond = and_(runs.c.status == RUNNING, runs.c.worker == self.keeper.worker_id)
        if run_hash is not None:
            cond = and_(cond, runs.c.run_hash == run_hash)
        conn.execute(runs.delete().where(and_(cond, runs.c.record.is_(None))))  # never finished
        conn.execute(runs.update().where(cond).values(status=FAILED, worker=None))

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
        return self._checked(RunRecord.from_dict, row.record, f"run {row.run_hash[:12]}")

    def _checked(self, parse: Callable[[dict[str, Any]], T], raw: str, what: str) -> T:
        try:
            return parse(json.loads(raw))
        except BlockbenchError as exc:
            raise BlockbenchError(f"store {self.display}, {what}: {exc}") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise BlockbenchError(f"store {self.display}, {what}: malformed record "
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
