"""``blockbench compare``: run BL1, BL2 and block searches, then print the leaderboard."""

from __future__ import annotations

from typing import Any

import click
from rich.markup import escape

from blockbench.cli.flags import component_option, policy_options
from blockbench.cli.output import console, err_console
from blockbench.cli.plan_output import print_plan
from blockbench.core.backends import check_backend
from blockbench.core.errors import UsageError
from blockbench.core.files import check_directory
from blockbench.core.options import parse_assignments
from blockbench.core.presets import PRESETS
from blockbench.core.validation import Source
from blockbench.plugin import manager
from blockbench.report.leaderboard import build_leaderboard
from blockbench.report.leaderboard_render import print_leaderboard
from blockbench.search.compare import check_compare, run_compare
from blockbench.search.executor import Executor, LocalExecutor
from blockbench.search.plan import DEFAULT_TFLOPS, plan_compare
from blockbench.search.progress import ProgressReporter
from blockbench.search.ray_executor import RayExecutor
from blockbench.search.settings import COMMAND_LINE, Settings, load_toml
from blockbench.store.listing import finished_runs
from blockbench.store.results_dir import ResultsDir
from blockbench.train.engine import Engine


@click.command("compare",
               short_help="Fine-tune BL1, BL2 and the blocks a policy picks; report Bopt on test.")
@click.option("--backbone", "-b", multiple=True, help="Backbone name (repeatable).")
@click.option("--dataset", "-d", multiple=True,
              help="Dataset name, or a folder of class sub-folders (repeatable).")
@click.option("--partition", "-p", help="Partition strategy [default: delimiter].")
@component_option("partition", "k=8", "--partition-param")
@click.option("--policy", multiple=True, help="Search policy (repeatable) [default: exhaustive].")
@click.option("--policy-option", multiple=True, metavar="POLICY.KEY=VALUE",
              help="Option of one policy, e.g. random.k=5.")
@click.option("--budget", type=int, help="Run budget per policy and seed (default: the policy's own).")
@click.option("--seeds", type=int, help="Number of training seeds [default: 3; demo: 2].")
@click.option("--seed-start", type=int, help="First seed [default: 0].")
@click.option("--epochs", type=int, help="Training epochs [default: 10, the reference protocol].")
@click.option("--input-size", type=int, help="Image side in pixels [default: the backbone's].")
@click.option("--weights", help="imagenet (pretrained), none (random) or a weights file.")
@click.option("--preprocessing", help="Override the backbone's input preprocessing "
              "(caffe, tf, torch, raw, unit=[0,1] as in the reference study).")
@component_option("backbone", "alpha=0.25")
@component_option("dataset", "path=./images")
@click.option("--hparam", multiple=True, metavar="KEY=VALUE",
              help="Training hyper-parameter, e.g. head=gap, learning_rate=1e-4, eval_epoch=best-val.")
@click.option("--split-seed", type=int, help="Seed of the stratified 70/20/10 split [default: 0].")
@click.option("--official-split", is_flag=True, help="Use the dataset's official split.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False),
              help="TOML file holding any of these settings.")
@click.option("--preset", type=click.Choice(sorted(PRESETS)),
              help="Start from a preset (a bare 'compare' runs the offline demo).")
@click.option("--out", help="Results directory; completed runs there are reused "
              "[default: blockbench-results].")
@click.option("--storage", envvar="BLOCKBENCH_STORAGE", metavar="URL",
              help="Results store: sqlite:///PATH.db or postgresql://USER:PASSWORD@HOST/DB "
              "[default: blockbench.db in --out; env BLOCKBENCH_STORAGE].")
@click.option("--retries", type=click.IntRange(min=0), default=1, show_default=True,
              help="Extra attempts for a failed run; then it stays recorded as failed. "
              "A NaN loss is final at once (it would repeat).")
@click.option("--study", metavar="NAME",
              help="Name of the study under which this compare's search records are stored "
              "[no default].")
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="Where runs train: in this process, or as Ray tasks on every GPU (else every "
              "core) of this machine or a Ray cluster; see docs/scaling.md.")
@click.option("--ray-address", metavar="ADDRESS",
              help="With --executor ray: the cluster, auto, HOST:PORT or ray://HOST:PORT "
              "[default: $RAY_ADDRESS, else a Ray instance started on this machine].")
@click.option("--ray-workers", type=click.IntRange(min=1), metavar="N",
              help="With --executor ray: workers to start at most [default: one per GPU, "
              "else one per --ray-cpus-per-run cores].")
@click.option("--ray-cpus-per-run", type=click.IntRange(min=1), metavar="N",
              help="With --executor ray: cores (and compute threads) of each worker "
              "[default: 1 without GPUs, else the cluster's cores per GPU].")
@click.option("--data-cache", type=click.Path(file_okay=False),
              help="Directory to cache decoded, resized datasets between invocations.")
@click.option("--format", "fmt", type=click.Choice(["table", "markdown", "json"]), default="table",
              show_default=True, help="Leaderboard format.")
@click.option("--quiet", "-q", is_flag=True, help="Only the leaderboard and failures.")
@click.option("--dry-run", is_flag=True,
              help="Print the plan (blocks, runs, runs already stored, FLOPs, GPU-hours) and "
              "train nothing; offline.")
@click.option("--assume-tflops", type=click.FloatRange(min=0, min_open=True), default=DEFAULT_TFLOPS,
              show_default=True, help="Sustained training TFLOP/s the dry run's GPU-hours assume.")
def compare_command(**kw: Any) -> None:
    """Fine-tune BL1, BL2 and the blocks a policy picks; report Bopt on test.

    With no arguments, runs the offline demo: a small backbone pretrained by
    blockbench's own script, on a generated dataset, every block, 2 seeds.
    """

    check_backend()  # an unsupported backend stops before Keras is imported
    settings = Settings()
    bare = not (kw["backbone"] or kw["dataset"] or kw["config_file"])
    preset = kw["preset"] or ("demo" if bare else None)
    if preset:
        settings.update(PRESETS[preset], Source(f"preset {preset!r}"))
    if kw["config_file"]:
        settings.update(load_toml(kw["config_file"]), Source.file(kw["config_file"]))
    split: dict[str, Any] = {}
    if kw["split_seed"] is not None:
        split["seed"] = kw["split_seed"]
    if kw["official_split"]:
        split["kind"] = "official"
    settings.update({
        "backbone": kw["backbone"], "dataset": kw["dataset"], "partition": kw["partition"],
        "policy": kw["policy"], "seeds": kw["seeds"], "seed_start": kw["seed_start"],
        "epochs": kw["epochs"], "input_size": kw["input_size"], "weights": kw["weights"],
        "preprocessing": kw["preprocessing"], "out": kw["out"], "budget": kw["budget"],
        "backbone_options": parse_assignments(kw["backbone_options"], "--backbone-option"),
        "dataset_options": parse_assignments(kw["dataset_options"], "--dataset-option"),
        "partition_options": parse_assignments(kw["partition_options"], "--partition-option"),
        "hparams": parse_assignments(kw["hparam"], "--hparam"),
        "policy_options": policy_options(kw["policy_option"]), "split": split,
    }, COMMAND_LINE)
    components = manager.get_components()
    tasks = settings.tasks()
    requests = settings.policy_requests()
    seeds = settings.seed_list()
    if kw["data_cache"]:
        check_directory(kw["data_cache"], "data cache directory")
    engine = Engine(components, data_cache_dir=kw["data_cache"])
    check_compare(tasks, requests, components, engine)  # all input is checked before OUT is made
    _check_executor_options(kw)
    if kw["dry_run"]:
        plan = plan_compare(tasks, requests, seeds, components,
                            finished_runs(settings.out, kw["storage"]), kw["assume_tflops"])
        print_plan(plan, console(), kw["fmt"])
        return
    results = ResultsDir(settings.out, storage=kw["storage"])
    try:
        executor = _executor(kw, engine)
    except BaseException:
        results.discard()  # Ray could not start: leave nothing behind
        raise
    if preset and not kw["quiet"]:
        given = escape(", ".join(f"{k}={v}" for k, v in PRESETS[preset].items()))
        err_console().print(f"[dim]starting from preset {preset} ({given}); --config and flags "
                            "override it[/dim]", markup=True)
    if executor.parallel and not kw["quiet"]:
        err_console().print(f"[dim]runs train on {escape(executor.describe())}[/dim]", markup=True)
    progress = ProgressReporter(err_console(), quiet=kw["quiet"])
    done = False
    try:
        outcome = run_compare(tasks, requests, seeds, components, results, progress, engine,
                              retries=kw["retries"], study=kw["study"], executor=executor)
        results.export()
        done = True
    finally:
        progress.close()
        executor.close(cancel=not done)
        if done:
            results.close()
        else:
            results.discard()  # refused before anything was recorded: leave nothing behind

    err_console().print(f"[dim]{progress.summary()}; records in {escape(str(results.path))}/ "
                        f"and {escape(results.storage_display)}[/dim]")

    for line in outcome.data_summary():  # shown even with --quiet: it changes what was measured
        err_console().print(line, highlight=False, markup=False, soft_wrap=True)
    print_leaderboard(build_leaderboard(outcome.runs, outcome.searches), console(), kw["fmt"])


RAY_OPTIONS = ("ray_address", "ray_workers", "ray_cpus_per_run")


def _check_executor_options(kw: dict[str, Any]) -> None:
    """Ray's options are refused, in one line, without ``--executor ray``."""
    given = [name for name in RAY_OPTIONS if kw[name] is not None]
    if given and kw["executor"] != "ray":
        flag = "--" + given[0].replace("_", "-")
        raise UsageError(f"{flag} applies to --executor ray only; add --executor ray, "
                         f"or leave {flag} out")


def _executor(kw: dict[str, Any], engine: Engine) -> Executor:
    """The executor the options ask for (Ray is imported, and started, only for ``ray``)."""
    if kw["executor"] == "local":
        return LocalExecutor(engine)
    return RayExecutor(kw["ray_address"], workers=kw["ray_workers"],
                       cpus_per_run=kw["ray_cpus_per_run"], data_cache_dir=kw["data_cache"])
