"""The leaderboard data model: building, JSON round trip, loading, provenance, the TF boundary."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap

import pytest
from factories import exhaustive_runs, failed_run, make_search, make_spec, write_results
from rich.console import Console

from blockbench import __version__
from blockbench.core.errors import UsageError
from blockbench.core.formats import LEADERBOARD, FormatError
from blockbench.report.leaderboard import (
    Leaderboard,
    build_leaderboard,
    command_line,
    load_leaderboard,
    read_results,
)
from blockbench.report.leaderboard_render import format_for, print_leaderboard


def _runs():
    runs = exhaustive_runs(backbones=("mobilenet", "vgg16", "xception"), seeds=(0, 1, 2))
    runs = [r for r in runs if not (r.spec.backbone == "vgg16" and r.spec.target == "block:5"
                                    and r.spec.seed == 2)]
    return [*runs, failed_run(make_spec("block:5", 2, "vgg16"), n_blocks=8)]


def test_build_counts_runs_and_records_provenance():
    runs = _runs()
    picked = next(r for r in runs if r.spec.target == "block:7" and r.ok)
    board = build_leaderboard(runs, [make_search("random", picked)], command="blockbench x")
    assert (board.runs_ok, board.runs_failed, board.searches) == (len(runs) - 1, 1, 1)
    assert board.command == "blockbench x"
    assert board.blockbench_version == __version__
    assert board.generated_at.endswith("+00:00")
    assert [t.key.backbone for t in board.tables] == ["mobilenet", "vgg16", "xception"]
    assert board.table("vgg16/flowers5/uniform/imagenet/96").runs_failed == 1
    assert board.ranking.methods and board.quarters.shares


def test_json_round_trip(tmp_path):
    board = build_leaderboard(_runs(), command="blockbench leaderboard")
    path = tmp_path / "lb.json"
    path.write_text(json.dumps(board.to_dict()))
    again = load_leaderboard(path)
    assert again.to_dict() == board.to_dict()
    assert again.tables == board.tables
    assert json.loads(path.read_text())["format"] == LEADERBOARD.name == "blockbench-leaderboard"


def test_loading_bad_files_gives_one_line_errors(tmp_path):
    with pytest.raises(UsageError, match="does not exist"):
        load_leaderboard(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(FormatError, match="not a JSON leaderboard"):
        load_leaderboard(tmp_path / "bad.json")
    (tmp_path / "other.json").write_text('{"format": "something-else"}')
    with pytest.raises(FormatError, match="not a blockbench leaderboard"):
        load_leaderboard(tmp_path / "other.json")
    (tmp_path / "future.json").write_text(json.dumps({**LEADERBOARD.marker(), "format_version": 99}))
    with pytest.raises(FormatError, match="format version 99 is not supported"):
        load_leaderboard(tmp_path / "future.json")
    (tmp_path / "broken.json").write_text(json.dumps({**LEADERBOARD.marker(), "tables": [{"key": {}}]}))
    with pytest.raises(FormatError, match=r"broken.json: leaderboard field 'tables\[0\]\.methods' is missing$"):
        load_leaderboard(tmp_path / "broken.json")


def test_command_line_is_normalised_to_blockbench():
    assert command_line(["/usr/bin/blockbench", "leaderboard", "--results", "a b"]) == \
        "blockbench leaderboard --results 'a b'"
    assert command_line(["/x/blockbench/__main__.py", "compare"]) == "blockbench compare"


def test_read_results_supports_directories_only(tmp_path):
    write_results(tmp_path, _runs())
    runs, searches = read_results(tmp_path)
    assert len(runs) == len(_runs()) and searches == []
    with pytest.raises(UsageError, match="only results directories"):
        read_results("postgresql://host/db")


def test_format_from_suffix():
    assert format_for("lb.md") == "markdown"
    assert format_for("lb.JSON") == "json"
    assert format_for("lb.anything", "csv") == "csv"
    with pytest.raises(UsageError, match="cannot tell the format"):
        format_for("lb.xyz")


def test_print_leaderboard_for_compare():
    console = Console(file=io.StringIO(), width=120)
    board = build_leaderboard(_runs(), [])
    print_leaderboard(board, console)
    text = console.file.getvalue()
    assert isinstance(board, Leaderboard)
    assert "mobilenet/flowers5/uniform/imagenet/96" in text and "Bopt" in text
    assert "optimistic" in text and "(selected on test)" in text
    console = Console(file=io.StringIO())
    print_leaderboard(build_leaderboard(_runs(), []), console, fmt="json")
    assert json.loads(console.file.getvalue())["meta"]["runs_failed"] == 1


def test_bad_alpha_is_a_usage_error():
    with pytest.raises(UsageError, match=r"alpha 1\.5"):
        build_leaderboard(_runs(), alpha=1.5)


def test_statistics_leaderboard_and_check_never_import_tensorflow(tmp_path):
    write_results(tmp_path / "res", _runs())
    script = textwrap.dedent(f"""
        import sys
        from click.testing import CliRunner
        from blockbench.cli.main import cli
        import blockbench.stats.table_stats, blockbench.stats.inference, blockbench.stats.ranking, blockbench.stats.quarters
        import blockbench.report.check, blockbench.report.plots
        runner = CliRunner()
        res = {str(tmp_path / "res")!r}
        lb = {str(tmp_path / "lb.json")!r}
        for args in (["leaderboard", "--results", res], ["leaderboard", "--results", res, "--out", lb],
                     ["check", "--baseline", lb, "--results", res]):
            result = runner.invoke(cli, args)
            assert result.exit_code == 0, (args, result.output)
        heavy = sorted(m for m in ("tensorflow", "keras", "tf_keras") if m in sys.modules)
        print("HEAVY", heavy)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "HEAVY []" in done.stdout
