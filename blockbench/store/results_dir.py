"""Where a compare keeps its results: the store (the cache), exported to a results directory.

The store (:class:`~blockbench.store.run_store.Store`, SQLite in the results
directory unless ``--storage`` names another) is the single source of truth.
The results directory holds its portable export, which ``leaderboard
--results``, ``check`` and ``replay`` read: ``runs.jsonl`` (the last finished
record of each run), ``searches.jsonl`` and ``runs.csv``. Each file is
rewritten from the store by write-to-temp-then-rename, never appended:
``runs.jsonl`` when a run finishes, ``searches.jsonl`` when a search does, and
all three when the directory is opened and when the compare ends. A file is
written only when its content changes, so running a command again leaves the
export byte for byte the same, and a crash leaves each file whole.

A directory's own store (``blockbench.db`` in it) is exported whole. A
``runs.jsonl`` without a store beside it (written by an older blockbench) is
imported into a new one; a store that exists wins over a damaged file. With
``--storage`` naming another store (shared by a team), the export holds the
runs and searches this directory has used: those its files list, and those
obtained since.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Callable
from pathlib import Path

from blockbench.core.files import check_directory, check_file, make_directory, write_atomic
from blockbench.core.record_files import (
    RUNS_CSV,
    RUNS_FILE,
    SEARCHES_FILE,
    read_jsonl,
    records_frame,
)
from blockbench.core.records import RunRecord, SearchRecord
from blockbench.core.spec import RunSpec
from blockbench.store.run_store import Claim, Store, search_key
from blockbench.store.url import backend_of, default_storage, normalize_url, sqlite_path

log = logging.getLogger(__name__)

#: Files SQLite keeps beside a database.
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


class ResultsDir:
    """A store plus its export directory, indexed by run hash.

    Everything is checked (the directory can be made, its files can be read)
    before anything is created, so a refused directory is left as it was.
    Recording is thread-safe.

    Args:
        path: the export directory (created if missing); None: no export (a worker).
        storage: storage URL (default: ``sqlite:///<path>/blockbench.db``).
        store: an open store to use instead of opening ``storage``.
    """

    def __init__(self, path: str | Path | None, storage: str | None = None,
                 store: Store | None = None) -> None:
        self.path = Path(path) if path is not None else None
        # Searches running at once (compare --executor ray) record from their threads.
        self._lock = threading.RLock()
        self._created: list[Path] = []  # by opening: the directory, then the store's files
        self._closed = False
        if self.path is None:
            if store is None and storage is None:
                raise ValueError("a ResultsDir without a directory needs a storage URL or a store")
            self.store = store or Store(str(storage))
            self._export: Export | None = None
            return
        default = normalize_url(default_storage(self.path))
        url = store.url if store is not None else normalize_url(storage) if storage else default
        own = url == default
        database = sqlite_path(default)
        fresh = own and not database.is_file()
        check_directory(self.path, "results directory")
        if store is None and backend_of(url) == "sqlite":
            check_file(sqlite_path(url), "store")
        runs, searches = self._read_export(strict=fresh)
        missing = [p for p in (self.path, *self.path.parents) if not p.exists()]
        self._created += reversed(missing)  # outermost first: removed last
        make_directory(self.path, "results directory")
        if fresh:
            self._created += [database.with_name(database.name + s) for s in ("", *SQLITE_SIDE_FILES)]
        try:
            self.store = store or Store(url)
        except BaseException:
            self._remove_created()
            raise
        try:
            if own:
                self._import(runs, searches)
                self._export = Export(self.path, self.store)
            else:
                self._export = Export(self.path, self.store, runs, searches)
            self._export.write()
        except BaseException:
            self.discard()
            raise

    def _read_export(self, strict: bool) -> tuple[list[RunRecord], list[SearchRecord]]:
        """The records in the directory's files.

        Args:
            strict: no store holds them yet: a bad line is an error (a cut-short
                last line only a warning); else the store wins, and bad lines
                are skipped (the files are rewritten from the store).
        """
        assert self.path is not None
        skipped: list[str] = []
        on_bad = None if strict else skipped.append
        runs_file, searches_file = self.path / RUNS_FILE, self.path / SEARCHES_FILE
        runs = list(read_jsonl(runs_file, RunRecord, on_bad)) if runs_file.is_file() else []
        searches = (list(read_jsonl(searches_file, SearchRecord, on_bad))
                    if searches_file.is_file() else [])
        if skipped:
            log.warning("%s; %d unreadable line(s) skipped: the store wins, and the files are "
                        "rewritten from it", skipped[0], len(skipped))
        return runs, searches

    def _import(self, runs: list[RunRecord], searches: list[SearchRecord]) -> None:
        """Copy into the store what the files hold and it lacks (an older blockbench wrote them)."""
        if runs:
            known = {r.run_hash: r.status for r in self.store.rows() if r.record is not None}
            for record in runs:
                status = known.get(record.run_hash)
                if status is None or (record.ok and status != "ok"):
                    known[record.run_hash] = self.store.add(record).status
        for search in searches:
            self.store.add_search(search)  # kept once: a search the store holds is left as it is

    @property
    def storage_display(self) -> str:
        """The storage URL, password masked."""
        return self.store.display

    def get(self, run_hash: str) -> RunRecord | None:
        """The completed record with this identity hash, if any."""
        return self.store.get(run_hash)

    def claim(self, spec: RunSpec, retries: int = 1) -> Claim:
        """Claim a run to train it (see :meth:`Store.claim_run`)."""
        with self._lock:
            return self.store.claim_run(spec, retries)

    def finish(self, record: RunRecord) -> RunRecord:
        """Persist a claimed run's outcome now; returns the record kept by the store."""
        with self._lock:
            kept = self.store.finish_run(record)
            if self._export is not None:
                self._export.add_run(record.run_hash)
            return kept

    def release(self, run_hash: str) -> None:
        with self._lock:
            self.store.release_run(run_hash)

    def add(self, record: RunRecord) -> None:
        """Persist a finished run immediately (failed runs too, for the record)."""
        with self._lock:
            self.store.add(record)
            if self._export is not None:
                self._export.add_run(record.run_hash)

    def reused(self, record: RunRecord) -> None:
        """Note a cached record this directory uses (it may have been trained elsewhere)."""
        with self._lock:
            if self._export is not None:
                self._export.add_run(record.run_hash, changed=False)

    def add_search(self, search: SearchRecord, study: str | None = None) -> SearchRecord:
        """Persist a search (passwords scrubbed); returns the record as stored."""
        with self._lock:
            kept = self.store.add_search(search, study)
            if self._export is not None:
                self._export.add_search(search_key(kept.to_dict()))
            return kept

    def __len__(self) -> int:
        return sum(r.status == "ok" for r in self.store.rows())

    def export(self) -> None:
        """Rewrite ``runs.jsonl``, ``searches.jsonl`` and ``runs.csv`` from the store, where changed."""
        with self._lock:
            if self._export is not None:
                self._export.write()

    def write_csv(self) -> Path:
        """Bring every exported file up to date; returns the path of ``runs.csv``."""
        if self._export is None or self.path is None:
            raise ValueError("this ResultsDir exports nowhere")
        self._export.write()
        return self.path / RUNS_CSV

    # -- closing -------------------------------------------------------------

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.store.close()

    def discard(self) -> None:
        """Close, and remove what opening created (the directory, the store) if nothing was recorded.

        A command refused after opening (a dataset that cannot be prepared) leaves nothing behind.
        """
        # Once closed, the store cannot say it is empty: keep it.
        keep_store = self._closed or bool(self.store.rows()) or bool(self.store.search_lines())
        self.close()
        self._remove_created(keep_store)

    def _remove_created(self, keep_store: bool = False) -> None:
        for path in reversed(self._created):  # files before the directory that holds them
            with contextlib.suppress(OSError):
                if path.is_dir():
                    path.rmdir()  # only if empty: never what someone else put there
                elif not keep_store:
                    path.unlink(missing_ok=True)
        self._created = []


class Export:
    """The files of a results directory, written from a store.

    Args:
        path: the results directory.
        store: the store.
        runs, searches: given, the export holds only these records and those
            added later (a directory whose store is shared), each as the store
            has it where it has it. None: the whole store.
    """

    def __init__(self, path: Path, store: Store, runs: list[RunRecord] | None = None,
                 searches: list[SearchRecord] | None = None) -> None:
        self.path, self.store = path, store
        self._exported: set[str] = set()  # run hashes in runs.jsonl as last written
        self._runs: dict[str, str | None] | None = None
        self._searches: dict[str, str | None] | None = None
        if runs is not None:  # key -> the file's own line, for records the store lacks
            self._runs = {r.run_hash: _line(r) for r in runs}
        if searches is not None:
            self._searches = {search_key(s.to_dict()): _line(s) for s in searches}

    def add_run(self, run_hash: str, changed: bool = True) -> None:
        """Export a run the directory uses; ``changed``: the store's record of it is new."""
        if self._runs is not None:
            self._runs.setdefault(run_hash, None)
        if changed or run_hash not in self._exported:
            self._write_runs()

    def add_search(self, key: str) -> None:
        """Export a search the directory ran."""
        if self._searches is not None:
            self._searches.setdefault(key, None)
        self._sync(SEARCHES_FILE, _text(self._pairs(self.store.search_lines, self._searches)))

    def write(self, csv: bool = True) -> bool:
        """Rewrite the files whose content the store changed; ``runs.csv`` too if ``csv`` or
        ``runs.jsonl`` changed. Returns whether ``runs.jsonl`` changed."""
        lines, changed = self._write_runs()
        self._sync(SEARCHES_FILE, _text(self._pairs(self.store.search_lines, self._searches)))
        if csv or changed:
            records = [RunRecord.from_dict(json.loads(line)) for line in lines]
            self._sync(RUNS_CSV, records_frame(records).to_csv(index=False) if records else "")
        return changed

    def _write_runs(self) -> tuple[list[str], bool]:
        """Rewrite ``runs.jsonl`` where it changed; its lines, and whether it changed."""
        pairs = self._pairs(self.store.record_lines, self._runs)
        self._exported = {key for key, _ in pairs}
        return [line for _, line in pairs], self._sync(RUNS_FILE, _text(pairs))

    @staticmethod
    def _pairs(read: Callable[[set[str] | None], list[tuple[str, str]]],
               chosen: dict[str, str | None] | None) -> list[tuple[str, str]]:
        """(key, line) of the store's records (all, or the chosen ones), then of the chosen
        records it does not hold (the files' own lines)."""
        pairs = read(None if chosen is None else set(chosen))
        known = {key for key, _ in pairs}
        return pairs + [(key, line) for key, line in (chosen or {}).items()
                        if line is not None and key not in known]

    def _sync(self, name: str, text: str) -> bool:
        """Replace the file ``name`` by ``text`` unless it holds it already (no empty new files)."""
        target = self.path / name
        try:
            if target.read_bytes() == text.encode("utf-8"):
                return False
        except FileNotFoundError:
            if not text:
                return False
        except OSError:
            pass  # unreadable: replace it
        write_atomic(target, text, "results file")
        return True


def _line(record: RunRecord | SearchRecord) -> str:
    return json.dumps(record.to_dict(), sort_keys=True)


def _text(pairs: list[tuple[str, str]]) -> str:
    return "".join(line + "\n" for _, line in pairs)
