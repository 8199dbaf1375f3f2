"""Where a compare keeps its results: the store (the cache), exported to a results directory.

The store (:class:`~blockbench.store.run_store.Store`, SQLite in the results directory
unless ``--storage`` names another) is the source of truth and the cache. The
results directory keeps the portable export that ``leaderboard --results``
and ``check`` read: every run obtained is appended to ``runs.jsonl`` as soon as
it is known (flushed and fsynced), every search to ``searches.jsonl``, and
``runs.csv`` is rewritten at the end. A ``runs.jsonl`` written before the store
existed (an older blockbench) is imported into the directory's store.
"""

from __future__ import annotations

from pathlib import Path

from blockbench.core.records import (
    RUNS_CSV,
    RUNS_FILE,
    SEARCHES_FILE,
    RunRecord,
    SearchRecord,
    read_jsonl,
    records_frame,
    write_jsonl,
)
from blockbench.core.spec import RunSpec
from blockbench.store.run_store import Claim, Store
from blockbench.store.url import default_storage, normalize_url


class ResultsDir:
    """A store plus its export directory, indexed by run hash.

    Args:
        path: the export directory (created if missing); None: no export (a worker).
        storage: storage URL (default: ``sqlite:///<path>/blockbench.db``).
        store: an open store to use instead of opening ``storage``.
    """

    def __init__(self, path: str | Path | None, storage: str | None = None,
                 store: Store | None = None) -> None:
        self.path = Path(path) if path is not None else None
        if self.path is None:
            if store is None and storage is None:
                raise ValueError("a ResultsDir without a directory needs a storage URL or a store")
            self.store = store or Store(str(storage))
            self._exported: set[tuple[str, str]] = set()
            return
        self.path.mkdir(parents=True, exist_ok=True)
        default = default_storage(self.path)
        self.store = store or Store(storage or default)
        self._exported = set()
        runs = self.path / RUNS_FILE
        if runs.exists():
            legacy = list(read_jsonl(runs, RunRecord))
            self._exported = {(r.run_hash, r.status) for r in legacy}
            if self.store.url == normalize_url(default):
                self._import(legacy)

    def _import(self, legacy: list[RunRecord]) -> None:
        known = {r.run_hash: r.status for r in self.store.rows() if r.record is not None}
        for record in legacy:
            status = known.get(record.run_hash)
            if status is None or (record.ok and status != "ok"):
                known[record.run_hash] = self.store.add(record).status

    @property
    def storage_display(self) -> str:
        """The storage URL, password masked."""
        return self.store.display

    def get(self, run_hash: str) -> RunRecord | None:
        """The completed record with this identity hash, if any."""
        return self.store.get(run_hash)

    def claim(self, spec: RunSpec, retries: int = 1) -> Claim:
        """Claim a run to train it (see :meth:`Store.claim_run`)."""
        return self.store.claim_run(spec, retries)

    def finish(self, record: RunRecord) -> RunRecord:
        """Persist a claimed run's outcome now; returns the record kept by the store."""
        kept = self.store.finish_run(record)
        self._export(record)
        return kept

    def release(self, run_hash: str) -> None:
        self.store.release_run(run_hash)

    def add(self, record: RunRecord) -> None:
        """Persist a finished run immediately (failed runs too, for the record)."""
        self.store.add(record)
        self._export(record)

    def reused(self, record: RunRecord) -> None:
        """Export a cached record this directory does not hold yet (e.g. trained by a worker)."""
        if (record.run_hash, record.status) not in self._exported:
            self._export(record)

    def _export(self, record: RunRecord) -> None:
        if self.path is None:
            return
        write_jsonl([record], self.path / RUNS_FILE)
        self._exported.add((record.run_hash, record.status))

    def add_search(self, search: SearchRecord, study: str | None = None) -> SearchRecord:
        """Persist a search (passwords scrubbed); returns the record as stored."""
        clean = self.store.add_search(search, study)
        if self.path is not None:
            write_jsonl([clean], self.path / SEARCHES_FILE)
        return clean

    def __len__(self) -> int:
        return sum(r.status == "ok" for r in self.store.rows())

    def write_csv(self) -> Path:
        """Rewrite ``runs.csv`` from every record in ``runs.jsonl``."""
        if self.path is None:
            raise ValueError("this ResultsDir exports nowhere")
        target = self.path / RUNS_CSV
        source = self.path / RUNS_FILE
        records = list(read_jsonl(source, RunRecord)) if source.exists() else []
        records_frame(records).to_csv(target, index=False)
        return target

    def close(self) -> None:
        self.store.close()
