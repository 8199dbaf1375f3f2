"""A results directory: the run records of past invocations, reused as a cache.

``compare --out DIR`` appends every finished run to ``DIR/runs.jsonl`` as
soon as it completes (flushed and fsynced), so a crash loses at most the run
in progress, and a later invocation with the same ``--out`` reuses every
completed run instead of training it again.
"""

from __future__ import annotations

from pathlib import Path

from blockbench.records import (
    RUNS_CSV,
    RUNS_FILE,
    SEARCHES_FILE,
    RunRecord,
    SearchRecord,
    read_jsonl,
    records_frame,
    write_jsonl,
)


class ResultsDir:
    """Run and search records under one directory, indexed by run hash.

    Args:
        path: the directory (created if missing).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self._ok: dict[str, RunRecord] = {}
        runs = self.path / RUNS_FILE
        if runs.exists():
            for record in read_jsonl(runs, RunRecord):
                if record.ok:
                    self._ok[record.run_hash] = record

    def get(self, run_hash: str) -> RunRecord | None:
        """The completed record with this identity hash, if any."""
        return self._ok.get(run_hash)

    def add(self, record: RunRecord) -> None:
        """Persist a finished run immediately (failed runs too, for the record)."""
        write_jsonl([record], self.path / RUNS_FILE)
        if record.ok:
            self._ok[record.run_hash] = record

    def add_search(self, search: SearchRecord) -> None:
        write_jsonl([search], self.path / SEARCHES_FILE)

    def __len__(self) -> int:
        return len(self._ok)

    def write_csv(self) -> Path:
        """Rewrite ``runs.csv`` from every record in ``runs.jsonl``."""
        target = self.path / RUNS_CSV
        source = self.path / RUNS_FILE
        records = list(read_jsonl(source, RunRecord)) if source.exists() else []
        records_frame(records).to_csv(target, index=False)
        return target
