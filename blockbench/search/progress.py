"""Progress display for long searches: rich bars on a terminal, plain lines otherwise."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping
from typing import Any

from rich.console import Console
from rich.markup import escape

from blockbench.core.records import RunRecord


def _fmt(record: RunRecord) -> str:
    if not record.ok:
        return f"FAILED ({record.error})"
    return f"val {record.val_acc:.3f} test {record.test_acc:.3f} ({record.wall_seconds:.1f}s)"


class ProgressReporter:
    """Reports runs done of the total (with an ETA) and the current run's epoch and metrics.

    Args:
        console: where to draw (stderr usually).
        total: expected number of runs, trained or reused; commands add to it as they
            learn what they will run (:meth:`add_total`, :meth:`expecting`).
        quiet: print nothing but failures.
    """

    def __init__(self, console: Console, total: int = 0, quiet: bool = False) -> None:
        self.console, self.total, self.quiet = console, max(total, 0), quiet
        self.done = self.trained = self.reused_count = self.failed = 0
        self.started = time.perf_counter()
        self._progress: Any = None
        self._overall: Any = None
        self._current: Any = None
        if console.is_terminal and not quiet:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                console=console, transient=False,
            )
            self._overall = self._progress.add_task("runs", total=self.total or None)
            self._current = self._progress.add_task("", total=None, visible=False)
            self._progress.start()

    def add_total(self, n: int) -> None:
        """Expect ``n`` more runs (fewer when negative)."""
        self.total += n
        if self._progress:
            self._progress.update(self._overall, total=self.total)

    @contextlib.contextmanager
    def expecting(self, n: int, counted: bool = False) -> Iterator[None]:
        """Expect the block to finish ``n`` runs (already in the total when ``counted``).

        On leaving it, however it ends, the total is trued up to the runs it
        really finished: fewer when a policy stopped early or a job failed.
        Retries grow the total by themselves (:class:`~blockbench.search.evaluator.TrainingEvaluator`).
        """
        if not counted:
            self.add_total(n)
        done, total = self.done, self.total
        try:
            yield
        finally:
            grown = self.total - total  # retries, and runs past the total
            self.add_total((self.done - done) - n - grown)

    def _advance(self) -> None:
        self.done += 1
        if self.done > self.total:
            self.add_total(self.done - self.total)
        if self._progress:
            self._progress.update(self._overall, completed=self.done)

    def run_started(self, label: str, epochs: int) -> None:
        if self._progress:
            self._progress.update(self._current, description=escape(label), total=epochs,
                                  completed=0, visible=True)

    def epoch(self, epoch: int, epochs: int, logs: Mapping[str, float]) -> None:
        if self._progress:
            metrics = " ".join(f"{k} {logs[k]:.3f}" for k in ("loss", "accuracy", "val_accuracy")
                               if k in logs)
            desc = self._progress.tasks[self._current].description.split("  [")[0]
            self._progress.update(self._current, completed=epoch,
                                  description=f"{desc}  [epoch {epoch}/{epochs} {metrics}]")

    def run_finished(self, label: str, record: RunRecord) -> None:
        self.trained += 1
        self.failed += int(not record.ok)
        self._advance()
        if not self.quiet or not record.ok:
            self._line(f"trained {label}: {_fmt(record)}")

    def reused(self, label: str, record: RunRecord) -> None:
        self.reused_count += 1
        self._advance()
        if not self.quiet:
            self._line(f"cached  {label}: {_fmt(record)}")

    def _line(self, text: str) -> None:
        if self._progress:
            self._progress.console.print(escape(text), highlight=False)
        else:
            elapsed = time.perf_counter() - self.started
            # soft_wrap: a plain line stays one line whatever the console's width.
            self.console.print(f"[{self.done}/{max(self.total, self.done)} {elapsed:6.1f}s] "
                               f"{text}", highlight=False, markup=False, soft_wrap=True)

    def close(self) -> None:
        if self._progress:
            self._progress.update(self._current, visible=False)
            self._progress.stop()
            self._progress = None

    def summary(self) -> str:
        return (f"{self.done} runs: {self.trained} trained, {self.reused_count} reused from cache, "
                f"{self.failed} failed, {time.perf_counter() - self.started:.1f}s")
