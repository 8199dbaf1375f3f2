"""Run records: what one training run produced, and reading/writing them.

Records are JSON objects carrying their ``schema_version`` (see
:mod:`blockbench.core.formats`), the run identity and its hash. They are
written as JSON lines (lossless) and CSV (flat, for spreadsheets);
:func:`records_frame` turns them into a pandas DataFrame.
"""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from blockbench import __version__
from blockbench.core.errors import BlockbenchError
from blockbench.core.formats import RUN_RECORD, SEARCH_RECORD, FormatError
from blockbench.core.spec import RunSpec, parse_target

if TYPE_CHECKING:
    import pandas as pd

OK = "ok"
FAILED = "failed"


@dataclass
class RunRecord:
    """The outcome of one run.

    Attributes:
        spec: the run identity.
        run_hash: ``spec.run_hash``.
        status: "ok" or "failed".
        error: the error for a failed run (one line).
        val_acc, test_acc, val_loss, test_loss: final metrics of the evaluated weights.
        history: per epoch: ``{"epoch", "loss", "accuracy", "val_loss", "val_accuracy"}``.
        epochs_run: epochs actually trained.
        best_epoch: 1-based epoch whose weights were evaluated.
        trainable_params: parameters trained (block or backbone, plus head).
        block: for block targets, ``{"index", "quarter", "n_blocks", "first_layer", "last_layer", "trainable_params"}``.
        n_train, n_val, n_test: split sizes.
        wall_seconds: training plus evaluation time.
        blockbench_version: version that produced the record (not part of the hash).
        schema_version: record layout version.
        created_at: ISO timestamp, UTC.
        host: machine name and device, informative only.
    """

    spec: RunSpec
    status: str
    run_hash: str = ""
    error: str | None = None
    val_acc: float | None = None
    test_acc: float | None = None
    val_loss: float | None = None
    test_loss: float | None = None
    history: list[dict[str, float]] = field(default_factory=list)
    epochs_run: int = 0
    best_epoch: int | None = None
    trainable_params: int = 0
    block: dict[str, Any] | None = None
    n_train: int = 0
    n_val: int = 0
    n_test: int = 0
    wall_seconds: float = 0.0
    blockbench_version: str = __version__
    schema_version: int = RUN_RECORD.version
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    host: str = field(default_factory=platform.node)

    def __post_init__(self) -> None:
        if not self.run_hash:
            self.run_hash = self.spec.run_hash

    @property
    def ok(self) -> bool:
        return self.status == OK

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["spec"] = self.spec.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunRecord:
        """A record from its JSON form, upgraded if an older blockbench wrote it."""
        fields = dict(RUN_RECORD.upgrade(data))
        fields["spec"] = RunSpec.from_dict(fields["spec"])
        return cls(**fields)

    def to_row(self) -> dict[str, Any]:
        """A flat dict for tables: identity columns, then results."""
        spec = self.spec
        kind, index = parse_target(spec.target)
        block = self.block or {}
        return {
            "run_hash": self.run_hash,
            "backbone": spec.backbone,
            "weights": spec.weights,
            "input_size": spec.input_size,
            "dataset": spec.dataset,
            "partition": spec.partition,
            "target": spec.target,
            "kind": kind,
            "block": index,
            "quarter": block.get("quarter"),
            "n_blocks": block.get("n_blocks"),
            "seed": spec.seed,
            "epochs": spec.hparams.get("epochs"),
            "status": self.status,
            "val_acc": self.val_acc,
            "test_acc": self.test_acc,
            "val_loss": self.val_loss,
            "test_loss": self.test_loss,
            "epochs_run": self.epochs_run,
            "trainable_params": self.trainable_params,
            "n_train": self.n_train,
            "n_val": self.n_val,
            "n_test": self.n_test,
            "wall_seconds": self.wall_seconds,
            "error": self.error,
            "blockbench_version": self.blockbench_version,
        }


@dataclass
class SearchRecord:
    """One policy's search on one (backbone, dataset, partition, seed).

    Attributes:
        policy: registered policy name.
        policy_options: the policy's options.
        backbone, dataset, partition: what was searched.
        seed: the run seed the search used.
        policy_seed: the seed of the policy's own randomness.
        pick: the target chosen on validation (None if nothing succeeded).
        pick_hash: run hash of the picked run, to look up its test accuracy.
        targets: targets evaluated, in order.
        run_hashes: their run hashes, in the same order.
        runs: runs evaluated (cache hits included: the cost the policy would pay alone).
        epochs: epochs evaluated (ditto).
        trained: runs actually trained in this invocation (the rest were cache hits).
        budget: the budget given, ``{"runs": ..., "epochs": ...}``.
        info: policy-specific details.
    """

    policy: str
    backbone: str
    dataset: str
    partition: str
    seed: int
    pick: str | None
    pick_hash: str | None = None
    policy_options: dict[str, Any] = field(default_factory=dict)
    policy_seed: int = 0
    targets: list[str] = field(default_factory=list)
    run_hashes: list[str] = field(default_factory=list)
    runs: int = 0
    epochs: int = 0
    trained: int = 0
    budget: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    schema_version: int = SEARCH_RECORD.version
    blockbench_version: str = __version__
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SearchRecord:
        """A record from its JSON form, upgraded if an older blockbench wrote it."""
        return cls(**SEARCH_RECORD.upgrade(data))


def write_jsonl(
    records: Iterable[RunRecord | SearchRecord], path: str | os.PathLike[str], append: bool = True
) -> None:
    """Append (or write) records as JSON lines, flushing each so a crash loses nothing."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a" if append else "w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record.to_dict(), sort_keys=True) + "\n")
            handle.flush()
            os.fsync(handle.fileno())


def read_jsonl(path: str | os.PathLike[str], kind: type[Any] = RunRecord) -> Iterator[Any]:
    """Read records of ``kind``; a truncated last line (a crash mid-write) is ignored."""
    path = Path(path)
    with path.open(encoding="utf-8") as handle:
        lines = handle.readlines()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            if number == len(lines) and not line.endswith("\n"):
                return  # interrupted write of the last record
            raise BlockbenchError(f"{path}:{number}: not a JSON run record ({exc.msg})") from None
        try:
            record = kind.from_dict(data)
        except FormatError as exc:
            raise FormatError(f"{path}:{number}: {exc}") from None
        yield record


def records_frame(records: Iterable[RunRecord]) -> pd.DataFrame:
    """One row per record (see :meth:`RunRecord.to_row`)."""
    import pandas as pd

    return pd.DataFrame([r.to_row() for r in records])


#: File names inside a results directory (``compare --out DIR``).
RUNS_FILE = "runs.jsonl"
RUNS_CSV = "runs.csv"
SEARCHES_FILE = "searches.jsonl"


def load_results(directory: str | os.PathLike[str]) -> tuple[list[RunRecord], list[SearchRecord]]:
    """Read every run and search record under a results directory (recursively).

    When the same run hash appears more than once, the last successful record wins.
    """
    root = Path(directory)
    if not root.is_dir():
        raise BlockbenchError(f"results directory {str(root)!r} does not exist")
    runs: dict[str, RunRecord] = {}
    for path in sorted(root.rglob(RUNS_FILE)):
        for record in read_jsonl(path, RunRecord):
            if record.ok or record.run_hash not in runs or not runs[record.run_hash].ok:
                runs[record.run_hash] = record
    searches = [s for p in sorted(root.rglob(SEARCHES_FILE)) for s in read_jsonl(p, SearchRecord)]
    if not runs and not searches:
        raise BlockbenchError(f"no run records ({RUNS_FILE}) found under {str(root)!r}")
    return list(runs.values()), searches
