"""Reading results back for people: ``blockbench runs``, and leaderboards from a store.

No TensorFlow here: listing runs or computing a leaderboard from a store
never builds a model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from blockbench.core.errors import UsageError
from blockbench.core.records import RUNS_FILE, RunRecord, SearchRecord, load_results
from blockbench.store.run_store import Store, StoredRun
from blockbench.store.url import DEFAULT_DB, mask_url

DEFAULT_RESULTS = "blockbench-results"


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
        elif not directory.is_dir():
            raise UsageError(f"results directory {str(directory)!r} does not exist; "
                             "pass --results DIR or --storage URL")
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
