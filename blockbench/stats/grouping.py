"""Group run records into tables and decide, per seed, what each method reports.

A *table* is one (backbone, dataset, partition, weights, input size), plus a
``variant`` string naming the Keras backend when it is not TensorFlow, and
backbone options and hyper-parameters that differ from the reference protocol,
so runs trained differently never mix. BL1 and
BL2 do not depend on the partition, so one baseline run serves every
partition's table.

Every choice is made on **validation** and reported on **test**: Bopt is the
block with the best validation accuracy at that seed, "Q<k> best" the best
block of quarter k. The block with the best *test* accuracy is kept only as
the method ``optimistic``, labelled as selected on test.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from blockbench.components.partition import quarter_of
from blockbench.core.backends import DEFAULT_BACKEND
from blockbench.core.records import RunRecord, SearchRecord
from blockbench.core.spec import PROTOCOL_VERSION, REFERENCE_HPARAMS, RunSpec, parse_target

BASELINES = ("bl1", "bl2")
OPTIMISTIC = "optimistic"
QUARTER_METHODS = ("q1", "q2", "q3", "q4")
POLICY_PREFIX = "policy:"
LABELS = {"bl1": "BL1", "bl2": "BL2", "bopt": "Bopt", OPTIMISTIC: "optimistic (selected on test)"}
LABELS |= {f"q{q}": f"Q{q} best" for q in range(1, 5)}


def method_label(method: str) -> str:
    """Display name of a method id (``bopt`` -> ``Bopt``, ``policy:x`` -> ``x``)."""
    return LABELS.get(method, method.removeprefix(POLICY_PREFIX))


_DIGEST = re.compile(r"\bsha256:([0-9a-f]{8})[0-9a-f]{56}\b")


def short_digests(text: str) -> str:
    """``text`` for display, each ``sha256:<64 hex digits>`` (a weights file's identity) cut to
    its first 8 digits and an ellipsis: ``sha256:9ab50ec0…``. Data keeps the full digest."""
    return _DIGEST.sub(r"sha256:\1…", text)


@dataclass(frozen=True, order=True)
class TableKey:
    """Identity of one leaderboard table (``partition`` is "" for a baselines-only table)."""

    backbone: str
    dataset: str
    partition: str
    weights: str
    input_size: int
    variant: str = ""

    @property
    def id(self) -> str:
        parts = [self.backbone, self.dataset, self.partition or "-", self.weights, str(self.input_size)]
        return "/".join([*parts, self.variant] if self.variant else parts)

    @property
    def unit(self) -> str:
        """The independent unit across tables: the id without the partition. Partitions of one
        (backbone, dataset, weights, input size, variant) share their BL1 and BL2 runs."""
        parts = [self.backbone, self.dataset, self.weights, str(self.input_size)]
        return "/".join([*parts, self.variant] if self.variant else parts)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TableKey:
        return cls(**dict(data))


def variant_of(spec: RunSpec) -> str:
    """The backend unless TensorFlow, backbone options and non-reference hyper-parameters, e.g.
    ``backend=jax,alpha=0.25,epochs=2`` (TensorFlow tables keep the ids they always had)."""
    parts = [f"backend={spec.backend}"] if spec.backend != DEFAULT_BACKEND else []
    parts += [f"{k}={v}" for k, v in sorted(spec.backbone_options.items())]
    parts += [f"{k}={v}" for k, v in sorted(spec.hparams.items()) if REFERENCE_HPARAMS.get(k) != v]
    if spec.protocol != PROTOCOL_VERSION:
        parts.append(f"protocol={spec.protocol}")
    return ",".join(parts)


def table_key(spec: RunSpec, partition: str | None = None) -> TableKey:
    part = partition if partition is not None else (spec.partition or "")
    return TableKey(spec.backbone, spec.dataset, part, spec.weights, spec.input_size, variant_of(spec))


@dataclass(frozen=True)
class Pick:
    """What a method reports at one seed: the chosen target and its accuracies."""

    target: str
    val_acc: float | None
    test_acc: float
    n_test: int


@dataclass
class TableRuns:
    """The successful runs of one table, by target and seed, and what failed.

    Attributes:
        key: the table's identity.
        baselines: ``"bl1"``/``"bl2"`` -> seed -> run.
        blocks: block index -> seed -> run.
        quarters: block index -> quarter (1-4; 0 until :meth:`finalize` fills it).
        policies: method id (``policy:<label>``) -> seed -> picked runs (one per policy seed).
        failed: failed runs (excluded from every statistic).
        notes: what the reader should know (blocks missing at a seed, duplicates...).
        data_notes: the dataset notes its runs carry (images skipped, duplicates...), once each.
        declared_blocks: the partition's block count as the block records state it.
    """

    key: TableKey
    baselines: dict[str, dict[int, RunRecord]] = field(default_factory=dict)
    blocks: dict[int, dict[int, RunRecord]] = field(default_factory=dict)
    quarters: dict[int, int] = field(default_factory=dict)
    policies: dict[str, dict[int, list[RunRecord]]] = field(default_factory=dict)
    failed: list[RunRecord] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    data_notes: list[str] = field(default_factory=list)
    declared_blocks: int = 0

    @property
    def n_blocks(self) -> int:
        """Blocks in the partition: as the records declare it, else the highest index seen + 1."""
        return max([self.declared_blocks, *(i + 1 for i in self.blocks)])

    @property
    def n_ok(self) -> int:
        return sum(len(s) for s in self.baselines.values()) + sum(len(s) for s in self.blocks.values())

    def add(self, record: RunRecord) -> None:
        self.data_notes += [n for n in record.data_notes if n not in self.data_notes]
        if not record.ok or record.test_acc is None:
            self.failed.append(record)
            return
        kind, index = parse_target(record.spec.target)
        slot = self.baselines.setdefault(kind, {}) if index is None else self.blocks.setdefault(index, {})
        seed = record.spec.seed
        if seed in slot and slot[seed].run_hash != record.run_hash:
            self.notes.append(f"two runs of {record.spec.target} at seed {seed}; kept the later")
            if slot[seed].created_at > record.created_at:
                return
        slot[seed] = record
        if index is not None:
            info = record.block or {}
            self.declared_blocks = max(self.declared_blocks, int(info.get("n_blocks") or 0))
            if info.get("quarter") or index not in self.quarters:
                self.quarters[index] = int(info.get("quarter") or 0)

    def methods(self) -> dict[str, dict[int, Pick]]:
        """Method id -> seed -> pick, in display order: baselines, Bopt, quarters, policies, optimistic."""
        out: dict[str, dict[int, Pick]] = {}
        for name in BASELINES:
            if self.baselines.get(name):
                out[name] = {s: _pick(r) for s, r in sorted(self.baselines[name].items())}
        by_seed: dict[int, list[RunRecord]] = {}
        for index in sorted(self.blocks):
            for seed, record in self.blocks[index].items():
                by_seed.setdefault(seed, []).append(record)
        if by_seed:
            out["bopt"] = _best_by_seed(by_seed, "val_acc")
            for q in range(1, 5):
                out[f"q{q}"] = _best_by_seed(
                    {s: [r for r in rs if self._quarter(r) == q] for s, rs in by_seed.items()}, "val_acc")
        for method, seeds in sorted(self.policies.items()):
            out[method] = {s: _mean_pick(rs) for s, rs in sorted(seeds.items())}
        if by_seed:
            out[OPTIMISTIC] = _best_by_seed(by_seed, "test_acc")
        return {m: picks for m, picks in out.items() if picks}

    def _quarter(self, record: RunRecord) -> int:
        return self.quarters[parse_target(record.spec.target)[1]]  # type: ignore[index]

    def finalize(self) -> None:
        """Fill quarters the records did not state, and note seeds where blocks are missing."""
        n_blocks = self.n_blocks
        for index, quarter in self.quarters.items():
            if not quarter:
                self.quarters[index] = quarter_of(index, n_blocks)
        for seed in sorted({s for runs in self.blocks.values() for s in runs}):
            present = sum(seed in runs for runs in self.blocks.values())
            if present < n_blocks:
                self.notes.append(
                    f"seed {seed}: Bopt chosen among {present} of {n_blocks} blocks (others failed or missing)")


def _pick(record: RunRecord) -> Pick:
    return Pick(record.spec.target, record.val_acc, float(record.test_acc), record.n_test)  # type: ignore[arg-type]


def shared_seeds(*by_seed: Mapping[int, Any]) -> list[int]:
    """The seeds every one of ``by_seed`` (seed -> value maps) has: the only seeds on which
    their methods may be compared."""
    if not by_seed:
        return []
    common = set(by_seed[0]).intersection(*by_seed[1:])
    return sorted(common)


def _best(records: list[RunRecord], metric: str) -> Pick | None:
    """The record with the highest ``metric``; ties go to the lowest block index (first listed).
    A missing or non-finite value (NaN) never wins: that run is skipped."""
    best: RunRecord | None = None
    for record in records:
        value = getattr(record, metric)
        if value is None or not math.isfinite(value):
            continue
        if best is None or value > getattr(best, metric):
            best = record
    return _pick(best) if best else None


def _best_by_seed(by_seed: Mapping[int, list[RunRecord]], metric: str) -> dict[int, Pick]:
    """Seed -> the best record by ``metric``, for the seeds that have one."""
    picks = {s: _best(rs, metric) for s, rs in sorted(by_seed.items())}
    return {s: p for s, p in picks.items() if p is not None}


def _mean_pick(records: list[RunRecord]) -> Pick:
    """Several policy seeds at one run seed: report the mean of their picks' test accuracies."""
    if len(records) == 1:
        return _pick(records[0])
    targets = ",".join(sorted({r.spec.target for r in records}))
    vals = [r.val_acc for r in records if r.val_acc is not None]
    tests = [float(r.test_acc or 0.0) for r in records]  # picks are ok runs: test_acc is set
    return Pick(targets, sum(vals) / len(vals) if vals else None, sum(tests) / len(tests),
                round(sum(r.n_test for r in records) / len(records)))


def policy_labels(searches: Iterable[SearchRecord]) -> dict[int, str]:
    """Method id of each search (by ``id()``): the policy name, plus its configuration when
    the same policy ran with several options or budgets."""
    searches = list(searches)

    def config(s: SearchRecord) -> str:
        budget = {k: v for k, v in s.budget.items() if v is not None}
        return ",".join(f"{k}={v}" for k, v in [*sorted(budget.items()), *sorted(s.policy_options.items())])

    configs: dict[str, set[str]] = {}
    for s in searches:
        configs.setdefault(s.policy, set()).add(config(s))
    return {id(s): POLICY_PREFIX + (s.policy if len(configs[s.policy]) == 1 else f"{s.policy}[{config(s)}]")
            for s in searches}


def group_tables(
    runs: Iterable[RunRecord], searches: Iterable[SearchRecord] = ()
) -> tuple[list[TableRuns], list[str]]:
    """Sort runs into tables and attach each search's pick; return the tables and global notes.

    A search is matched to its table through ``pick_hash``: the picked run's
    identity, with the search's partition (a policy may pick a baseline).
    """
    runs = list(runs)
    groups: dict[TableKey, list[RunRecord]] = {}
    for record in runs:
        groups.setdefault(table_key(record.spec, ""), []).append(record)
    tables: dict[TableKey, TableRuns] = {}
    for base, records in groups.items():
        partitions = sorted({r.spec.partition for r in records if r.spec.partition}) or [""]
        members = {p: TableRuns(dataclasses.replace(base, partition=p)) for p in partitions}
        for record in records:
            targets = [record.spec.partition] if record.spec.partition else partitions
            for p in targets:
                members[p].add(record)
        tables.update({t.key: t for t in members.values()})
    notes: list[str] = []
    by_hash = {r.run_hash: r for r in runs}
    labels = policy_labels(searches)
    for search in searches:
        method = labels[id(search)]
        where = f"{method_label(method)} on {search.backbone}/{search.dataset}/{search.partition} seed {search.seed}"
        picked = by_hash.get(search.pick_hash or "")
        if search.pick is None:
            notes.append(f"{where}: picked nothing (every run failed)")
        elif picked is None:
            notes.append(f"{where}: picked run {str(search.pick_hash)[:12]} is not in the results")
        elif not picked.ok or picked.test_acc is None:
            notes.append(f"{where}: picked run {picked.spec.target} failed")
        elif (key := table_key(picked.spec, search.partition)) not in tables:
            notes.append(f"{where}: no table {key.id} for its pick")
        else:
            seeds = tables[key].policies.setdefault(method, {})
            for seed, run in _picks_at_seeds(tables[key], search, picked, notes, where):
                seeds.setdefault(seed, []).append(run)
    ordered = [tables[k] for k in sorted(tables)]
    for table in ordered:
        table.finalize()
    return ordered, notes


def _picks_at_seeds(table: TableRuns, search: SearchRecord, picked: RunRecord, notes: list[str],
                    where: str) -> list[tuple[int, RunRecord]]:
    """The runs a search's pick stands for: its picked run, or for a multi-seed search (racing,
    ``info["seeds"]``) the picked target's run at every seed it searched."""
    searched = search.info.get("seeds")
    if not isinstance(searched, list):
        return [(search.seed, picked)]
    kind, index = parse_target(picked.spec.target)
    runs = table.baselines.get(kind, {}) if index is None else table.blocks.get(index, {})
    found = [(int(seed), runs[int(seed)]) for seed in searched if int(seed) in runs]
    missing = [str(seed) for seed in searched if int(seed) not in runs]
    if missing:
        notes.append(f"{where}: no successful run of its pick {picked.spec.target} at seed(s) "
                     f"{', '.join(missing)}")
    return found or [(search.seed, picked)]
