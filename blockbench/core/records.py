"""Run and search records: what one training run and one policy's search produced.

Records are JSON objects carrying their ``schema_version`` (see
:mod:`blockbench.core.formats`), the run identity and its hash; every field is
checked when a record is read (:mod:`blockbench.core.fields`). Files of records
are :mod:`blockbench.core.record_files`.
"""

from __future__ import annotations

import base64
import binascii
import math
import platform
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from blockbench import __version__
from blockbench.core.errors import UsageError
from blockbench.core.fields import Fields, ListOf, MapOf, check_value, fields_of
from blockbench.core.formats import RUN_RECORD, SEARCH_RECORD, FormatError
from blockbench.core.spec import RunSpec, parse_target

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
        val_correct, test_correct: which validation / test examples the evaluated
            weights predicted right, in the split's example order, packed
            (:meth:`encode_correct`; read with :meth:`correct`); None for failed
            runs and for records written before they were kept (version 1).
        wall_seconds: training plus evaluation time.
        data_notes: what the dataset left out or could not use (undecodable
            images, duplicates...), one line each; absent from the JSON when none.
        blockbench_version: version that produced the record (not part of the hash).
        backend_version: the versions of the Keras backend's packages and Keras
            (:func:`~blockbench.core.backends.backend_version`), not part of the
            hash; None for records written before it was kept (version 2).
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
    val_correct: str | None = None
    test_correct: str | None = None
    wall_seconds: float = 0.0
    data_notes: list[str] = field(default_factory=list)
    blockbench_version: str = __version__
    backend_version: str | None = None
    schema_version: int = RUN_RECORD.version
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    host: str = field(default_factory=platform.node)

    def __post_init__(self) -> None:
        if not self.run_hash:
            self.run_hash = self.spec.run_hash

    @property
    def ok(self) -> bool:
        return self.status == OK

    @staticmethod
    def encode_correct(hits: Any) -> str:
        """The stored form of a per-example correctness vector: base64 of its packed bits."""
        bits = np.packbits(np.asarray(hits, dtype=bool).ravel())
        return base64.b64encode(bits.tobytes()).decode("ascii")

    def correct(self, split: str) -> np.ndarray | None:
        """Which examples of ``split`` ("val" or "test") were predicted right, or None if not kept.

        A bool array of ``n_val`` / ``n_test`` entries, in the split's example order;
        its mean is the split's accuracy.
        """
        if split not in _SPLITS:
            raise ValueError(f"split must be 'val' or 'test', got {split!r}")
        text = getattr(self, f"{split}_correct")
        return None if text is None else _decode_correct(text, getattr(self, f"n_{split}"))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["spec"] = self.spec.to_dict()
        if not data["data_notes"]:
            del data["data_notes"]  # records of clean data keep the layout they always had
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunRecord:
        """A record from its JSON form, upgraded if an older blockbench wrote it."""
        fields = dict(RUN_RECORD.upgrade(data))
        RUN_FIELDS.check(fields, RUN_RECORD.title)
        _check_target(fields["spec"]["target"], RUN_RECORD.title, "spec.target")
        fields["spec"] = RunSpec.from_dict(fields["spec"])
        record = cls(**fields)
        _check_results(record)
        return record

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
        fields = SEARCH_RECORD.upgrade(data)
        SEARCH_FIELDS.check(fields, SEARCH_RECORD.title)
        if "signal" in fields.get("info", {}):
            check_value(fields["info"]["signal"], SIGNAL_FIELDS, SEARCH_RECORD.title, "info.signal")
        if fields["pick"] is not None:
            _check_target(fields["pick"], SEARCH_RECORD.title, "pick")
        for index, target in enumerate(fields.get("targets", [])):
            _check_target(target, SEARCH_RECORD.title, f"targets[{index}]")
        return cls(**fields)


#: The JSON fields of each record type, checked when a record is read.
SPEC_FIELDS = fields_of(RunSpec)
RUN_FIELDS = fields_of(
    RunRecord, spec=SPEC_FIELDS, status=(OK, FAILED), history=ListOf("object"),
    block=Fields({"index": "integer", "quarter": "integer", "n_blocks": "integer",
                  "first_layer": "string", "last_layer": "string", "trainable_params": "integer"},
                 extra=True, nullable=True))
SEARCH_FIELDS = fields_of(SearchRecord)
#: A policy's stored signal (``info.signal``, see :class:`~blockbench.components.policy.Signal`).
SIGNAL_FIELDS = Fields({"name": "string", "params": "object", "values": MapOf("number"),
                        "runs": "integer", "epochs": "integer", "anchor": "string|null"},
                       ("name", "values"), extra=True, nullable=True)


_SPLITS = ("val", "test")


def _decode_correct(text: str, n: int) -> np.ndarray:
    """The bool vector of ``n`` entries that :meth:`RunRecord.encode_correct` wrote as ``text``."""
    try:
        packed = np.frombuffer(base64.b64decode(text, validate=True), np.uint8)
    except (binascii.Error, ValueError):
        raise ValueError("is not base64 text") from None
    if len(packed) != (n + 7) // 8:
        raise ValueError(f"holds {len(packed) * 8} bits, expected {n} (rounded up to bytes)")
    bits = np.unpackbits(packed)
    if bits[n:].any():
        raise ValueError(f"has bits set after the {n} examples")
    return bits[:n].astype(bool)


def _check_results(record: RunRecord) -> None:
    """Refuse an ok record whose accuracies the statistics cannot use, naming the run."""
    if record.status != OK:
        return
    run = f"{RUN_RECORD.title} of run {record.run_hash[:12]} ({record.spec.target})"
    for split in _SPLITS:  # the statistics of every ok run use these
        acc = getattr(record, f"{split}_acc")
        if acc is None:
            raise FormatError(f"{run}: field '{split}_acc' must be a number for an ok run, got null")
        if not math.isfinite(acc):
            raise FormatError(f"{run}: field '{split}_acc' must be a finite number, got {acc}")
        try:
            hits = record.correct(split)
        except ValueError as exc:
            raise FormatError(f"{run}: field '{split}_correct' {exc}") from None
        n = getattr(record, f"n_{split}")
        if hits is not None and int(hits.sum()) != round(acc * n):
            raise FormatError(f"{run}: field '{split}_correct' has {int(hits.sum())} of {n} "
                              f"right, but {split}_acc {acc} means {round(acc * n)}")


def _check_target(target: str, title: str, where: str) -> None:
    try:
        parse_target(target)
    except UsageError:
        raise FormatError(f"{title} field {where!r} must be 'bl1', 'bl2' or 'block:<index>', "
                          f"got {target!r}") from None
