"""Replay tables: exhaustive results that an evaluator looks runs up in instead of training.

A :class:`ReplayTable` is one leaderboard table (backbone, dataset, partition,
weights, input size, variant) whose blocks were *all* run at one or more
seeds, as ``compare --policy exhaustive`` leaves them. :class:`ReplayEvaluator`
serves a policy from it for one run seed, exactly as
:class:`~blockbench.search.evaluator.TrainingEvaluator` would have trained, so the
same policy code runs in replay and in a real search.

Shorter runs (``evaluate(target, epochs=e)``, successive halving's rungs) are
served from the full run's per-epoch history: with ``eval_epoch=last`` an
``e``-epoch run ends where the full run was after epoch ``e`` (same seed, same
data order, Adam with a constant learning rate, no schedule), so its
validation accuracy is ``history[e-1]["val_accuracy"]``; with
``eval_epoch=best-val`` it is the best of the first ``e`` epochs. Both are
exact for the reference protocol (see docs/policies.md and tests/replay/test_tables.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from blockbench.components.policy import Observation, SearchSpace, Signal, SignalUnavailable
from blockbench.core.errors import BlockbenchError, UsageError
from blockbench.core.records import RunRecord, SearchRecord
from blockbench.core.spec import block_target, parse_target
from blockbench.stats.grouping import Pick, TableKey, group_tables


class FidelityUnavailable(BlockbenchError):
    """A shorter run was asked for, but the table's records lack the per-epoch history to serve it."""


class RunUnavailable(BlockbenchError):
    """A policy asked for a run the table lacks (e.g. BL1, which racing races as its reference)."""


@dataclass
class ReplayTable:
    """The runs of one exhaustive table, by (seed, target), and Bopt at each complete seed.

    Attributes:
        key: the leaderboard table it is.
        quarters: quarter of each block, by index.
        full_epochs: epochs of its runs.
        eval_epoch: which epoch's weights its runs report ("last" or "best-val").
        runs: (seed, target) -> record, failed runs included.
        bopt: seed -> the block chosen on validation by exhaustive search (ties: lowest index).
        signals: seed -> signals stored by real searches (e.g. gradient-rank's).
    """

    key: TableKey
    quarters: tuple[int, ...]
    full_epochs: int
    eval_epoch: str
    runs: dict[tuple[int, str], RunRecord]
    bopt: dict[int, Pick]
    signals: dict[int, list[Signal]] = field(default_factory=dict)
    _means: dict[str, float | None] = field(default_factory=dict, repr=False, compare=False)

    @property
    def id(self) -> str:
        return self.key.id

    @property
    def n_blocks(self) -> int:
        return len(self.quarters)

    @property
    def seeds(self) -> list[int]:
        return sorted(self.bopt)

    @property
    def space(self) -> SearchSpace:
        return SearchSpace(self.quarters)

    @property
    def n_test(self) -> int:
        """Test examples per run (the test accuracy's resolution is 1 / n_test)."""
        return max(p.n_test for p in self.bopt.values())

    def test_acc(self, seed: int, target: str) -> float | None:
        record = self.runs.get((seed, target))
        return record.test_acc if record is not None and record.ok else None

    def mean_test(self, target: str) -> float | None:
        """Expected test accuracy of ``target``: its mean over the table's seeds (failed runs left out)."""
        if target not in self._means:
            values = [v for s in self.seeds if (v := self.test_acc(s, target)) is not None]
            self._means[target] = sum(values) / len(values) if values else None
        return self._means[target]

    @property
    def best(self) -> tuple[str, float]:
        """The block with the highest expected test accuracy, and that accuracy (ties: lowest index)."""
        scored = [(t, m) for t in self.space.targets() if (m := self.mean_test(t)) is not None]
        return max(scored, key=lambda tm: tm[1])


def build_tables(runs: Iterable[RunRecord], searches: Iterable[SearchRecord] = ()
                 ) -> tuple[list[ReplayTable], list[str]]:
    """The replayable tables among ``runs``, and notes on what could not be used.

    A seed is usable when every block has a record there (a failed run counts:
    replay serves the failure) and at least one block succeeded.
    """
    grouped, _ = group_tables(runs)
    tables, notes = [], []
    for group in grouped:
        if not group.blocks:
            continue
        n = group.n_blocks
        records: dict[tuple[int, str], RunRecord] = {}
        for kind, by_seed in group.baselines.items():
            records.update({(s, kind): r for s, r in by_seed.items()})
        for record in group.failed:
            records.setdefault((record.spec.seed, record.spec.target), record)
        for index, by_seed in group.blocks.items():
            records.update({(s, block_target(index)): r for s, r in by_seed.items()})
        bopt = group.methods().get("bopt", {})
        complete = {s: p for s, p in bopt.items()
                    if all((s, block_target(i)) in records for i in range(n))}
        if not complete:
            notes.append(f"{group.key.id}: no seed has a run of every one of its {n} blocks; "
                         "not replayable (run 'compare --policy exhaustive' to complete it)")
            continue
        if len(complete) < len(bopt):
            skipped = sorted(set(bopt) - set(complete))
            notes.append(f"{group.key.id}: seeds {skipped} lack some blocks and are not replayed")
        spec = next(r for by_seed in group.blocks.values() for r in by_seed.values()).spec
        quarters = tuple(group.quarters.get(i) or 0 for i in range(n))
        tables.append(ReplayTable(group.key, quarters, int(spec.hparams["epochs"]),
                                  str(spec.hparams.get("eval_epoch", "last")),
                                  {k: v for k, v in records.items() if k[0] in complete}, complete))
    _attach_signals(tables, searches)
    return tables, notes


def _attach_signals(tables: list[ReplayTable], searches: Iterable[SearchRecord]) -> None:
    """Give each table the signals real searches measured on it, matched by their anchor run."""
    anchors = {r.run_hash: (t, seed) for t in tables for (seed, target), r in t.runs.items()
               if target == block_target(0)}
    for search in searches:
        stored = search.info.get("signal") if isinstance(search.info, dict) else None
        if not stored:
            continue
        signal = Signal.from_dict(stored)
        if signal.anchor in anchors:
            table, seed = anchors[signal.anchor]
            table.signals.setdefault(seed, []).append(signal)


def short_run_val(record: RunRecord, epochs: int, eval_epoch: str, where: str) -> float | None:
    """Validation accuracy an ``epochs``-epoch run would have reported, from ``record``'s history."""
    history = [float(h["val_accuracy"]) for h in record.history[:epochs] if "val_accuracy" in h]
    if len(history) < epochs:
        if record.ok:
            raise FidelityUnavailable(f"{where}: the run of {record.spec.target} at seed "
                                      f"{record.spec.seed} has no per-epoch validation history "
                                      f"for epoch {epochs}; shorter runs cannot be replayed")
        return None  # the run failed before that epoch, so the shorter run fails too
    return history[-1] if eval_epoch == "last" else max(history)


class ReplayEvaluator:
    """Serves one table at one run seed to a policy, and counts what the policy spends.

    Args:
        table: the exhaustive table (kept private: a policy sees validation accuracy only).
        seed: the run seed whose runs are served.

    Attributes:
        log: every observation served, in order.
        spent: cumulative (runs, epochs) after each observation, signals included.
        runs, epochs: total spent (signals included).
    """

    def __init__(self, table: ReplayTable, seed: int) -> None:
        self._table, self.seed = table, seed
        self.log: list[Observation] = []
        self.spent: list[tuple[int, int]] = []
        self.runs = 0
        self.epochs = 0

    @property
    def full_epochs(self) -> int:
        return self._table.full_epochs

    def evaluate(self, target: str, *, epochs: int | None = None) -> Observation:
        kind, index = parse_target(target)
        name = kind if index is None else block_target(index)
        if index is not None and not 0 <= index < self._table.n_blocks:
            raise UsageError(f"block index {index} is out of range: table {self._table.id} "
                             f"has blocks 0 to {self._table.n_blocks - 1}")
        n = self.full_epochs if epochs is None else int(epochs)
        if not 1 <= n <= self.full_epochs:
            raise FidelityUnavailable(f"{self._table.id}: runs of 1 to {self.full_epochs} epochs "
                                      f"can be replayed, not {n}")
        record = self._table.runs.get((self.seed, name))
        if record is None:
            raise RunUnavailable(f"{self._table.id}: no run of {name} at seed {self.seed} to replay "
                                 "(the table's compare did not run it)")
        if n == self.full_epochs:
            val = record.val_acc if record.ok else None
        else:
            val = short_run_val(record, n, self._table.eval_epoch, self._table.id)
        obs = Observation(name, val, n, val is not None)
        self.runs += 1
        self.epochs += n
        self.log.append(obs)
        self.spent.append((self.runs, self.epochs))
        return obs

    def signal(self, name: str, measure: Callable[..., Signal], **params: Any) -> Signal:
        """The signal a real search stored for this table and seed with these parameters."""
        stored = self._table.signals.get(self.seed, [])
        for signal in stored:
            if signal.name == name and dict(signal.params) == params:
                self.runs += signal.runs
                self.epochs += signal.epochs
                return signal
        have = "; stored: " + ", ".join(f"{s.name} {dict(s.params)}" for s in stored) if stored else ""
        raise SignalUnavailable(
            f"{self._table.id} has no stored {name!r} signal with {params} at seed {self.seed}{have}; "
            "a real search stores one (e.g. 'blockbench compare --policy gradient-rank' on the same "
            "backbone, dataset and seeds, which reuses the table's runs)")
