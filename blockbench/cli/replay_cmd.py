"""``blockbench replay``: benchmark search policies on exhaustive tables, at zero training cost."""

from __future__ import annotations

import shlex
import sys
import time
from typing import Any

import click

from blockbench.cli.flags import policy_options
from blockbench.cli.output import err_console, warn
from blockbench.components.policy import check_policy_options
from blockbench.core.errors import BlockbenchError, UsageError
from blockbench.core.files import check_file
from blockbench.core.record_files import SEARCHES_FILE, read_jsonl
from blockbench.core.records import RunRecord, SearchRecord
from blockbench.plugin import manager
from blockbench.replay.render import FORMATS, format_for, format_report, write_report
from blockbench.replay.report import build_report
from blockbench.replay.runner import PolicySpec, parse_budget, run_replay
from blockbench.replay.tables import build_tables
from blockbench.report.leaderboard import read_results
from blockbench.store.listing import DEFAULT_RESULTS
from blockbench.store.url import mask_secrets

PREFERRED = ("exhaustive", "last-quarter", "last-block", "random")


@click.command("replay",
               short_help="Replay search policies on exhaustive tables, looking runs up instead of training.")
@click.option("--results", multiple=True, metavar="DIR",
              help=f"Results directory holding exhaustive tables, searched recursively, e.g. "
                   f"leaderboards/tables (repeatable: their records are merged) "
                   f"[default: {DEFAULT_RESULTS}].")
@click.option("--storage", metavar="URL",
              help="Read the runs from this store (sqlite:///PATH.db or postgresql://...) instead.")
@click.option("--table", "table_file", type=click.Path(dir_okay=False), metavar="FILE",
              help="One runs.jsonl file instead (stored signals are read from a searches.jsonl beside it).")
@click.option("--policy", multiple=True, metavar="[LABEL:]NAME[@K]",
              help="Policy to replay (repeatable) [default: every registered policy]; a LABEL "
                   "lets one policy appear twice with different options; NAME@K (K a number or "
                   "'all') replays a per-seed policy over K seeds, picking the best mean validation "
                   "accuracy (e.g. exhaustive@3).")
@click.option("--policy-option", multiple=True, metavar="LABEL.KEY=VALUE",
              help="Option of one policy, e.g. random.k=5 or tpe-q4.warm_start=2.")
@click.option("--budget", multiple=True, metavar="N|q4|all|default",
              help="Budget in full runs (repeatable): N, q4 (as many as Q4 blocks, what last-quarter "
                   "spends), all, or default (each policy's own) [default: default].")
@click.option("--repeats", type=click.IntRange(min=1), default=200, show_default=True,
              help="Searches per policy, table and budget.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the policy seeds.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default=None,
              help="Output format [default: table, or guessed from the --out suffix].")
@click.option("--out", type=click.Path(dir_okay=False), metavar="FILE",
              help="Write the report to FILE (.md or .json) instead of stdout.")
def replay_command(results: tuple[str, ...], storage: str | None, table_file: str | None, policy: tuple[str, ...],
                   policy_option: tuple[str, ...], budget: tuple[str, ...], repeats: int, seed: int,
                   fmt: str | None, out: str | None) -> None:
    """Replay search policies on exhaustive tables: each policy searches N times, looking runs
    up instead of training them, and the report gives the expected test accuracy of its pick
    (chosen on validation; expected = mean over the table's seeds), its regret against the
    best block's, how often it lands within 0.5 and 1 point, the runs it needed, multi-seed
    policies (racing) against NAME@K at equal runs, and anytime regret ('plot regret --replay
    FILE.json').
    """

    if sum(map(bool, (results, storage, table_file))) > 1:
        raise UsageError("use one of --results DIR, --storage URL or --table FILE")
    budgets = list(dict.fromkeys(parse_budget(b) for b in budget or ("default",)))
    fmt = format_for(out, fmt) if out else (fmt or "table")
    if out:
        check_file(out, "output file")  # before the work, not after it
    components = manager.get_components()
    runs, searches = _read(results, storage, table_file)
    tables, notes = build_tables(runs, searches)
    if not tables:
        detail = "; ".join(notes) or "no block runs"
        source = table_file or ", ".join(results) or (mask_secrets(storage) if storage else DEFAULT_RESULTS)
        raise BlockbenchError(f"nothing to replay in {source}: {detail}")
    specs, skipped = _policies(policy, policy_option, components)
    for message in skipped:
        warn(message)
    started = time.perf_counter()
    outcome = run_replay(tables, specs, budgets, repeats, seed, components)
    command = shlex.join(["blockbench", *(mask_secrets(a) for a in sys.argv[1:])])
    report = build_report(tables, specs, outcome, repeats=repeats, seed=seed,
                          budgets=[b.label for b in budgets], command=command,
                          notes=[*notes, *skipped])
    done = (f"{len(outcome.repeats)} searches replayed on {len(tables)} table(s) "
            f"in {time.perf_counter() - started:.1f}s")
    if out:
        path = write_report(report, out, fmt)
        err_console().print(f"{done}; report written to {path}", highlight=False, soft_wrap=True)
    else:
        sys.stdout.write(format_report(report, fmt))
        err_console().print(f"[dim]{done}[/dim]")
    if not outcome.repeats:
        raise BlockbenchError("no policy could be replayed; see 'Not replayed' above")


def _read(results: tuple[str, ...], storage: str | None, table_file: str | None
          ) -> tuple[list[Any], list[Any]]:
    from pathlib import Path

    if storage:
        return read_results("", storage=storage)
    if table_file is None:
        runs: dict[str, RunRecord] = {}
        searches: list[SearchRecord] = []
        for directory in results or (DEFAULT_RESULTS,):
            found, stored = read_results(directory)
            runs.update({r.run_hash: r for r in found if r.ok or r.run_hash not in runs})
            searches += stored
        return list(runs.values()), searches
    path = Path(table_file)
    if not path.is_file():
        raise UsageError(f"table file {table_file!r} does not exist")
    beside = path.parent / SEARCHES_FILE
    beside_searches = list(read_jsonl(beside, SearchRecord)) if beside.is_file() else []
    return list(read_jsonl(path, RunRecord)), beside_searches


def _policies(names: tuple[str, ...], options: tuple[str, ...], components: Any
              ) -> tuple[list[Any], list[str]]:
    """The policies to replay, and a line for each default one that cannot be built here."""

    by_label = policy_options(options, "LABEL")
    if names:
        pairs = [(n.partition(":")[0], n.partition(":")[2]) if ":" in n else (n, n) for n in names]
    else:
        registered = components.policies.names()
        ordered = [n for n in PREFERRED if n in registered] + [n for n in registered if n not in PREFERRED]
        pairs = [(n, n) for n in ordered]
    specs, skipped = [], []
    for label, written in pairs:
        name, seeds = _seed_count(written)
        entry = components.policies.get(name)
        spec = PolicySpec(label, entry.name, by_label.pop(label, {}), seeds)
        if seeds is not None and getattr(entry.factory, "multi_seed", False):
            raise UsageError(f"policy {written!r}: {entry.name} already searches across seeds; "
                             "'@K' applies to per-seed policies only (e.g. exhaustive@3)")
        try:
            check_policy_options(entry.name, entry.factory, spec.options)
            entry.factory(**dict(spec.options))
        except BlockbenchError as exc:
            if names:
                raise
            skipped.append(f"policy {entry.name} not replayed: {exc}")
            continue
        specs.append(spec)
    if len({s.label for s in specs}) < len(specs):
        raise UsageError("each --policy needs its own label; write LABEL:NAME, e.g. tpe-q4:optuna-tpe")
    if by_label:
        raise UsageError(f"--policy-option names {', '.join(sorted(by_label))}, which is not a "
                         f"replayed policy; replayed: {', '.join(s.label for s in specs)}")
    return specs, skipped


def _seed_count(written: str) -> tuple[str, int | str | None]:
    """``NAME@K`` -> (NAME, K as an int or "all"); a plain NAME -> (NAME, None)."""
    if "@" not in written:
        return written, None
    name, _, count = written.partition("@")
    if count.strip().lower() == "all":
        return name, "all"
    if count.isdigit() and int(count) > 0:
        return name, int(count)
    raise UsageError(f"policy {written!r}: the seed count after '@' must be a positive integer "
                     "or 'all', e.g. exhaustive@3")
