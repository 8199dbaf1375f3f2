"""``blockbench worker``: join a study that ``compare --detach`` queued, and work on it."""

from __future__ import annotations

import click

from blockbench.cli.output import err_console
from blockbench.core.backends import check_backend
from blockbench.plugin import manager
from blockbench.search.progress import ProgressReporter
from blockbench.search.worker import run_worker
from blockbench.store.results_dir import ResultsDir
from blockbench.store.run_store import Store


@click.command("worker",
               short_help="Train the queued runs and run the searches of a detached study.")
@click.option("--storage", envvar="BLOCKBENCH_STORAGE", required=True, metavar="URL",
              help="The store holding the study: sqlite:///PATH.db or postgresql://... "
              "[env BLOCKBENCH_STORAGE, which keeps the password out of the process list].")
@click.option("--study", required=True, metavar="NAME", help="The study to work on.")
@click.option("--poll", type=click.FloatRange(min=0.05), default=2.0, show_default=True,
              metavar="SECONDS", help="Pause between looks at the queue when every job is taken.")
@click.option("--stale-after", type=click.FloatRange(min=1), default=None, metavar="SECONDS",
              help="Take over the jobs of a worker silent for this long "
              "[default: $BLOCKBENCH_STALE_AFTER or 120].")
@click.option("--max-jobs", type=click.IntRange(min=1), default=None,
              help="Stop after this many jobs [default: when the study is done].")
@click.option("--quiet", "-q", is_flag=True, help="Only failures and the summary.")
def worker_command(storage: str, study: str, poll: float, stale_after: float | None,
                   max_jobs: int | None, quiet: bool) -> None:
    """Train the queued runs and run the searches of a detached study.

    Start one worker per GPU on any number of machines (CUDA_VISIBLE_DEVICES=i);
    each job is claimed by exactly one worker, and a job whose worker died is
    taken over. The worker exits when the study has nothing left to do: with
    status 1 if a job could not be done (a failed training run is a result, not
    a failed job).
    """

    check_backend()  # an unsupported backend stops before Keras is imported
    store = Store(storage, stale_after=stale_after, create=False)  # a study's store exists
    results = ResultsDir(None, store=store)
    progress = ProgressReporter(err_console(), quiet=quiet)
    err_console().print(f"worker {store.workers.worker_id} on study {study} in {store.display}",
                        highlight=False, markup=False)
    try:
        summary = run_worker(study, manager.get_components(), results, progress, poll=poll,
                             max_jobs=max_jobs)
    finally:
        progress.close()
        results.close()
    err_console().print(f"{summary.jobs} jobs ({summary.failed_jobs} failed); {progress.summary()}",
                        highlight=False, markup=False)
    if summary.failed_jobs:
        raise click.exceptions.Exit(1)  # the other jobs were done; schedulers should still see it
