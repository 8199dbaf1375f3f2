"""Reading results back: ``blockbench runs``, and the records leaderboards are computed from.

A results directory is read folder by folder: a folder with a store
(``blockbench.db``) from the store, the single source of truth, whatever its
exported files say (they are brought up to date when they can be written);
a folder without one from its ``runs.jsonl`` and ``searches.jsonl``. No
TensorFlow here: listing runs or computing a leaderboard never builds a model.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from blockbench.core.errors import UsageError
from blockbench.core.record_files import RUNS_FILE, SEARCHES_FILE, merge_runs, read_jsonl
from blockbench.core.records import RunRecord, SearchRecord
from blockbench.store.results_dir import Export
from blockbench.store.run_store import Store, StoredRun
from blockbench.store.url import DEFAULT_DB, backend_of, mask_url, normalize_url, sqlite_path

log = logging.getLogger(__name__)

DEFAULT_RESULTS = "blockbench-results"


def results_folder(directory: str | os.PathLike[str]) -> Path:
    """A results directory given to read from, refused in one line if it is not one."""
    root = Path(directory)
    if not root.exists():
        raise UsageError(f"results directory {str(root)!r} does not exist; pass --results DIR, "
                         "a directory that 'compare --out DIR' wrote")
    if not root.is_dir():
        raise UsageError(f"results directory {str(root)!r} is a file, not a directory; pass "
                         "--results DIR, a directory that 'compare --out DIR' wrote")
    return root


def load_results(directory: str | os.PathLike[str]) -> tuple[list[RunRecord], list[SearchRecord]]:
    """Every run and search record under a results directory (recursively).

    When the same run appears more than once, a successful record wins over a
    failed one, and a later one over an earlier one.
    """
    root = results_folder(directory)
    folders = sorted({p.parent for name in (RUNS_FILE, SEARCHES_FILE, DEFAULT_DB)
                      for p in root.rglob(name)})
    runs: list[RunRecord] = []
    searches: list[SearchRecord] = []
    for folder in folders:
        found = _from_store(folder) if (folder / DEFAULT_DB).is_file() else _from_files(folder)
        runs += found[0]
        searches += found[1]
    if not runs and not searches:
        raise UsageError(f"no run records ({RUNS_FILE}) found under {str(root)!r}; pass --results "
                         "DIR, a directory that 'compare --out DIR' wrote")
    return merge_runs(runs), searches


def _from_files(folder: Path) -> tuple[list[RunRecord], list[SearchRecord]]:
    runs, searches = folder / RUNS_FILE, folder / SEARCHES_FILE
    return (list(read_jsonl(runs, RunRecord)) if runs.is_file() else [],
            list(read_jsonl(searches, SearchRecord)) if searches.is_file() else [])


def _from_store(folder: Path) -> tuple[list[RunRecord], list[SearchRecord]]:
    with Store(folder / DEFAULT_DB, create=False) as store:
        found = store.records(), store.searches()
        try:  # a damaged or stale export is rewritten; a reader never fails for it
            Export(folder, store).write(csv=False)
        except UsageError as exc:
            log.debug("export of %s not rewritten: %s", folder, exc)
    return found


def load_store(storage: str) -> tuple[list[RunRecord], list[SearchRecord]]:
    """Every finished run and every search in a store (for leaderboards and checks)."""
    with Store(storage, create=False) as store:
        runs, searches = store.records(), store.searches()
    if not runs and not searches:
        raise UsageError(f"store {mask_url(store.url)} holds no run records yet")
    return runs, searches


def _row(stored: StoredRun) -> dict[str, Any]:
    if stored.record is not None and stored.status != "running":
        row = stored.record.to_row()
        row["record"] = stored.record.to_dict()
    else:
        spec = stored.spec
        row = {"run_hash": stored.run_hash, "backbone": spec.get("backbone"),
               "dataset": spec.get("dataset"), "partition": spec.get("partition"),
               "target": spec.get("target"), "seed": spec.get("seed"),
               "epochs": spec.get("hparams", {}).get("epochs"), "error": stored.error}
    row.update(status=stored.status, worker=stored.worker, attempts=stored.attempts,
               failures=stored.failures)
    return row


def list_runs(storage: str | None, results: str | None, backbone: str | None = None,
              dataset: str | None = None, status: str | None = None) -> tuple[list[dict[str, Any]], str]:
    """Rows (flat dicts) of the runs in a store or results directory, and where they came from.

    Args:
        storage: a storage URL; wins over ``results``.
        results: a results directory: its ``blockbench.db`` if present, else its ``runs.jsonl``.
        backbone, dataset, status: filters.
    """
    if storage and results:
        raise UsageError("give --storage or --results, not both")
    if not storage:
        directory = Path(results or DEFAULT_RESULTS)
        if (directory / DEFAULT_DB).is_file():
            storage = str(directory / DEFAULT_DB)
        else:
            results_folder(directory)
    if storage:
        with Store(storage, create=False) as store:
            rows = [_row(r) for r in store.rows(backbone, dataset, status)]
            return rows, store.display
    runs = load_results(directory)[0] if any(directory.rglob(RUNS_FILE)) else []
    rows = []
    for record in runs:
        row = record.to_row()
        row["record"] = record.to_dict()
        if all(v is None or row[k] == v for k, v in
               (("backbone", backbone), ("dataset", dataset), ("status", status))):
            rows.append(row)
    return rows, str(directory)


def finished_runs(results: str | os.PathLike[str], storage: str | None = None) -> list[RunRecord]:
    """The successful runs a compare with ``--out results [--storage URL]`` would reuse.

    Reads only: a store that does not exist yet, or a results directory that
    does not, holds nothing (a plan made before the first run).
    """
    folder = Path(results)
    if storage:
        if backend_of(normalize_url(storage)) == "sqlite" and not sqlite_path(
                normalize_url(storage)).is_file():
            return []
        with Store(storage, create=False) as store:
            found = store.records()
    elif (folder / DEFAULT_DB).is_file():
        with Store(folder / DEFAULT_DB, create=False) as store:
            found = store.records()
    elif (folder / RUNS_FILE).is_file():
        found = list(read_jsonl(folder / RUNS_FILE, RunRecord))
    else:
        found = []
    return [r for r in merge_runs(found) if r.ok]
