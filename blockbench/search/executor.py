"""Executors: where a compare's runs train.

The driver (the ``compare`` process) always keeps what is cheap: policies,
the store and progress. An executor resolves each task into a problem and
trains the runs the evaluators ask for:

* :class:`LocalExecutor` (``--executor local``, the default) trains in this
  process, one run at a time, the searches one after another;
* :class:`~blockbench.search.ray_executor.RayExecutor` (``--executor ray``)
  trains each run as a task of a Ray actor on a GPU or a few cores of a
  cluster, while the driver runs the searches at once from threads.

Both give the same records: a run's result depends on its identity only
(on CPU, also on the threads it computes with; see ``docs/scaling.md``).
"""

from __future__ import annotations

import abc
from typing import ClassVar

from blockbench.core.task import Task
from blockbench.search.evaluator import SearchProblem
from blockbench.train.engine import Engine


class Executor(abc.ABC):
    """Resolves tasks and trains their runs for one compare.

    Lifecycle:
        1. The command creates it with its settings; nothing starts yet.
        2. :meth:`problem` is called once per task, before any of its runs:
           the problem's identity fixes every run's hash, so the driver looks
           runs up in the store and claims them before anything trains.
        3. The evaluators call the problem's ``train`` and ``measure``: from one
           thread when :attr:`parallel` is False, else from many at once.
        4. :meth:`close` is called once at the end, with ``cancel=True`` when the
           compare was interrupted (in-flight runs are abandoned, their claims released).

    Attributes:
        parallel: whether runs train elsewhere, so the driver should ask for many at once.
    """

    parallel: ClassVar[bool] = False

    @abc.abstractmethod
    def problem(self, task: Task) -> SearchProblem:
        """Resolve ``task`` (build the backbone, prepare the data, cut the blocks) where runs train."""

    def describe(self) -> str:
        """Where runs train, for the progress display."""
        return "this process"

    def close(self, cancel: bool = False) -> None:  # noqa: B027 - nothing to release by default
        """Release what the executor holds (``cancel``: the compare was interrupted)."""


class LocalExecutor(Executor):
    """Trains in this process with one :class:`~blockbench.train.engine.Engine` (the default).

    Args:
        engine: the process's engine (its caches are shared by every run).
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def problem(self, task: Task) -> SearchProblem:
        return self.engine.setup(task)
