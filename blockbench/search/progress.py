"""Progress display for long searches: rich bars on a terminal, plain lines otherwise."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Mapping
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
        self._lock = threading.RLock()  # searches running at once report from their threads
        self._running: dict[str, None] = {}
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
        with self._lock:
            self.total += n
            if self._progress:
                self._progress.update(self._overall, total=max(self.total, self.done))

    @contextlib.contextmanager
    def expecting(self, n: int, finished: Callable[[], int], counted: bool = False) -> Iterator[None]:
        """Expect the block to finish ``n`` runs (already in the total when ``counted``).

        On leaving it, however it ends, the total is trued up to the runs it
        really finished, as ``finished()`` counts them (a search's evaluations):
        fewer when a policy stopped early or a run failed. Retries grow the
        total by themselves (:class:`~blockbench.search.evaluator.TrainingEvaluator`).
        """
        if not counted:
            self.add_total(n)
        try:
            yield
        finally:
            self.add_total(finished() - n)

    def _advance(self) -> None:
        # A run past the total shows as the total (it is trued up when its search ends).
        self.done += 1
        if self._progress:
            self._progress.update(self._overall, completed=self.done,
                                  total=max(self.total, self.done))

    def run_started(self, label: str, epochs: int) -> None:
        """A run starts (in this process, or on a worker when several run at once)."""
        with self._lock:
            self._running[label] = None
            if self._progress:
                self._progress.update(self._current, description=self._describe_running(),
                                      total=epochs, completed=0, visible=True)

    def _describe_running(self) -> str:
        labels = list(self._running)
        if len(labels) == 1:
            return escape(labels[0])
        return f"{len(labels)} running, latest {escape(labels[-1])}" if labels else ""

    def _ended(self, label: str) -> None:
        for key in [k for k in self._running if k == label or k.startswith(label + " (")]:
            del self._running[key]
        if self._progress and self._running:
            self._progress.update(self._current, description=self._describe_running())

    def epoch(self, epoch: int, epochs: int, logs: Mapping[str, float]) -> None:
        if self._progress and len(self._running) <= 1:
            metrics = " ".join(f"{k} {logs[k]:.3f}" for k in ("loss", "accuracy", "val_accuracy")
                               if k in logs)
            desc = self._progress.tasks[self._current].description.split("  [")[0]
            self._progress.update(self._current, completed=epoch,
                                  description=f"{desc}  [epoch {epoch}/{epochs} {metrics}]")

    def run_finished(self, label: str, record: RunRecord) -> None:
        with self._lock:
            self._ended(label)
            self.trained += 1
            self.failed += int(not record.ok)
            self._advance()
            if not self.quiet or not record.ok:
                self._line(f"trained {label}: {_fmt(record)}")

    def reused(self, label: str, record: RunRecord) -> None:
        with self._lock:
            self._ended(label)
            self.reused_count += 1
            self._advance()
            if not self.quiet:
                self._line(f"cached  {label}: {_fmt(record)}")

    def note(self, text: str) -> None:
        """A line about a search's progress (a racing round and its survivors); none when quiet."""
        if not self.quiet:
            with self._lock:
                self._line(text)

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
