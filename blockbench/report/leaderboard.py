"""The leaderboard: per-table statistics, ranking and quarter analysis of a set of runs.

:func:`build_leaderboard` turns run and search records into a
:class:`Leaderboard`; :mod:`blockbench.report.leaderboard_render` prints one; the JSON form (:meth:`Leaderboard.to_dict`,
:func:`load_leaderboard`) is also the baseline format of ``blockbench check``.
No TensorFlow here: rendering a leaderboard must stay fast.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from blockbench import __version__
from blockbench.core.errors import BlockbenchError, UsageError
from blockbench.core.fields import Fields, ListOf, fields_of
from blockbench.core.formats import LEADERBOARD, FormatError, read_json
from blockbench.core.records import RunRecord, SearchRecord
from blockbench.stats.grouping import group_tables
from blockbench.stats.inference import ALPHA, Summary
from blockbench.stats.quarters import QuarterAnalysis, QuarterShare, analyse_quarters
from blockbench.stats.ranking import Ranking, rank_methods
from blockbench.stats.table_stats import TableStats, analyse_table
from blockbench.store.listing import load_results, load_store
from blockbench.store.url import mask_secrets


@dataclass
class Leaderboard:
    """Everything a leaderboard shows, and where it came from.

    Attributes:
        tables: per-table statistics, sorted by table key.
        ranking: average ranks and tests across tables.
        quarters: the quarter analysis across tables.
        notes: caveats that concern no single table (unresolved search picks...).
        command: the command that produced it, as ``blockbench ...``.
        blockbench_version: version that computed it.
        generated_at: ISO time, UTC.
        runs_ok, runs_failed, searches: how many records it was computed from.
        alpha: significance level of every test.
    """

    tables: list[TableStats]
    ranking: Ranking
    quarters: QuarterAnalysis
    notes: list[str] = field(default_factory=list)
    command: str = ""
    blockbench_version: str = __version__
    generated_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    runs_ok: int = 0
    runs_failed: int = 0
    searches: int = 0
    alpha: float = ALPHA

    def table(self, table_id: str) -> TableStats | None:
        return next((t for t in self.tables if t.key.id == table_id), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            **LEADERBOARD.marker(),
            "meta": {"command": self.command, "blockbench_version": self.blockbench_version,
                     "generated_at": self.generated_at, "runs_ok": self.runs_ok,
                     "runs_failed": self.runs_failed, "searches": self.searches, "alpha": self.alpha},
            "tables": [t.to_dict() for t in self.tables],
            "ranking": self.ranking.to_dict(),
            "quarters": self.quarters.to_dict(),
            "notes": self.notes,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Leaderboard:
        """A leaderboard from its JSON form, upgraded if an older blockbench wrote it.

        Raises:
            FormatError: it is not a leaderboard, or a field is missing or of the wrong type.
        """
        data = LEADERBOARD.upgrade(data)
        leaderboard_fields().check(data, "leaderboard")
        meta = data.get("meta", {})
        return cls(
            tables=[TableStats.from_dict(t) for t in data.get("tables", [])],
            ranking=Ranking.from_dict(data.get("ranking", {})),
            quarters=QuarterAnalysis.from_dict(data.get("quarters", {})),
            notes=list(data.get("notes", [])),
            **{k: meta[k] for k in ("command", "blockbench_version", "generated_at", "runs_ok",
                                    "runs_failed", "searches", "alpha") if k in meta},
        )


def leaderboard_fields() -> Fields:
    """The fields of a JSON leaderboard, from the dataclasses it is made of."""
    meta = Fields({"command": "string", "blockbench_version": "string", "generated_at": "string",
                   "runs_ok": "integer", "runs_failed": "integer", "searches": "integer",
                   "alpha": "number"}, extra=True)
    block = Fields({"index": "integer", "quarter": "integer", "summary": fields_of(Summary)},
                   ("index", "quarter", "summary"))
    quarters = fields_of(QuarterAnalysis, shares=ListOf(fields_of(QuarterShare, extra=True)))
    return Fields({"meta": meta, "tables": ListOf(fields_of(TableStats, blocks=ListOf(block))),
                   "ranking": fields_of(Ranking), "quarters": quarters,
                   "notes": ListOf("string")}, extra=True)


def command_line(argv: Sequence[str] | None = None) -> str:
    """The running command as ``blockbench <args>``, whatever launched it (script, ``-m``)."""
    args = list(sys.argv if argv is None else argv)[1:]
    return shlex.join(["blockbench", *(mask_secrets(a) for a in args)])


def build_leaderboard(
    runs: Iterable[RunRecord],
    searches: Iterable[SearchRecord] = (),
    command: str | None = None,
    alpha: float = ALPHA,
) -> Leaderboard:
    """Compute the leaderboard of a set of runs; failed runs are counted and excluded."""
    runs, searches = list(runs), list(searches)
    if not 0 < alpha < 1:
        raise UsageError(f"alpha {alpha} is not valid; use a level between 0 and 1, e.g. 0.05")
    grouped, notes = group_tables(runs, searches)
    tables = [analyse_table(t, alpha) for t in grouped]
    failed = sum(not r.ok for r in runs)
    return Leaderboard(
        tables=tables, ranking=rank_methods(tables, alpha), quarters=analyse_quarters(tables, alpha),
        notes=notes, command=command if command is not None else command_line(),
        runs_ok=len(runs) - failed, runs_failed=failed, searches=len(searches), alpha=alpha,
    )


def read_results(source: str | os.PathLike[str], storage: str | None = None
                 ) -> tuple[list[RunRecord], list[SearchRecord]]:
    """Run and search records from a results directory, or from the store at ``storage``."""
    if storage:

        return load_store(storage)
    text = str(source)
    if "://" in text:
        raise UsageError(f"results location {mask_secrets(text)!r} is not a directory; "
                         "only results directories (compare --out DIR) are supported by "
                         "--results: use --storage URL for a database")
    return load_results(text)


def load_leaderboard(path: str | os.PathLike[str]) -> Leaderboard:
    """Read a JSON leaderboard (``blockbench leaderboard --format json``)."""
    data = LEADERBOARD.upgrade(read_json(path, "leaderboard file"), str(path))
    try:
        return Leaderboard.from_dict(data)
    except FormatError as exc:
        raise FormatError(f"{path}: {exc}") from None
    except BlockbenchError as exc:
        raise BlockbenchError(f"{path}: {exc}") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise BlockbenchError(f"{path}: malformed leaderboard ({type(exc).__name__}: {exc})") from None
