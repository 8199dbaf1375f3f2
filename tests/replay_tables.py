"""Synthetic exhaustive tables with chosen accuracies, for the replay tests."""

from __future__ import annotations

from collections.abc import Sequence

from blockbench.core.records import RunRecord
from blockbench.core.spec import block_target
from blockbench.replay.tables import ReplayTable, build_tables
from tests.factories import failed_run, make_run, make_spec

N_TEST = 400


def ramp(final: float, epochs: int = 10) -> list[dict[str, float]]:
    """A per-epoch history rising to ``final`` (ranking-preserving across blocks)."""
    return [{"epoch": e, "loss": 1.0 / e, "val_accuracy": final * (0.5 + 0.5 * e / epochs)}
            for e in range(1, epochs + 1)]


def table_runs(val: Sequence[Sequence[float]], test: Sequence[Sequence[float]] | None = None,
               seeds: Sequence[int] | None = None, history: bool = True,
               failing: Sequence[tuple[int, int]] = ()) -> list[RunRecord]:
    """Block runs of one table: ``val[s][i]`` / ``test[s][i]`` at seed ``seeds[s]``, block ``i``.

    ``failing`` lists (seed position, block) pairs whose runs failed.
    """
    test = test if test is not None else val
    seeds = list(seeds) if seeds is not None else list(range(len(val)))
    runs = []
    for s, seed in enumerate(seeds):
        n = len(val[s])
        for i in range(n):
            spec = make_spec(block_target(i), seed)
            if (s, i) in failing:
                runs.append(failed_run(spec, n))
                continue
            record = make_run(spec, val[s][i], test[s][i], N_TEST, n)
            record.history = ramp(val[s][i]) if history else []
            runs.append(record)
    return runs


def one_table(*args, **kw) -> ReplayTable:
    tables, notes = build_tables(table_runs(*args, **kw))
    assert len(tables) == 1, notes
    return tables[0]
