"""Files through every command: unusable paths and malformed records are one line (exit 2), and a
refused command leaves nothing behind.

Tests run as root, for whom no directory is read-only: permission problems are
simulated by making ``os.access`` or the real filesystem call say no.
"""

from __future__ import annotations

import errno
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from blockbench.cli.main import cli
from blockbench.core.errors import UsageError

REPO = Path(__file__).resolve().parents[2]
DEMO_TABLE = REPO / "leaderboards" / "tables" / "demo"
BASELINE = REPO / "leaderboards" / "demo" / "leaderboard.json"
#: A compare that is refused before it trains (or trains the tiny demo for a few seconds).
FAST = ["compare", "-b", "demo-cnn", "-d", "demo", "--epochs", "1", "--seeds", "1",
        "--policy", "last-block", "--quiet"]


def _run(*args: str) -> tuple[int, list[str]]:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    return result.exit_code, [line for line in result.output.splitlines() if line.strip()]


def _one_line(*args: str) -> str:
    code, lines = _run(*args)
    assert code == 2 and len(lines) == 1, lines
    return lines[0]


# -- compare: bad input leaves nothing behind --------------------------------------------------


@pytest.mark.parametrize(("flags", "message"), [
    (["--policy", "random", "--policy-option", "random.k=0"], "k"),
    (["-p", "nosuch"], "unknown partition 'nosuch'"),
    (["-d", "./no/such/folder"], "dataset folder './no/such/folder' does not exist"),
    (["--storage", "nosuch://x"], "storage URL scheme 'nosuch' is not supported"),
])
def test_a_refused_compare_creates_no_results_directory(tmp_path, monkeypatch, flags, message):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "deeper" / "out"
    line = _one_line(*FAST, *flags, "--out", out)
    assert message in line
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_compare_refused_after_opening_its_results_removes_them(tmp_path, monkeypatch):
    def unusable(self, task):
        raise UsageError("dataset 'demo' cannot be used here")

    monkeypatch.setattr("blockbench.train.engine.Engine.setup", unusable)
    out = tmp_path / "out"
    assert _one_line(*FAST, "--out", out).endswith("dataset 'demo' cannot be used here")
    assert not out.exists()
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    _one_line(*FAST, "--out", out)
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]  # only what it created is gone


@pytest.mark.parametrize("where", ["out is a file", "out under a file", "storage under a file",
                                   "storage is a directory"])
def test_an_unusable_results_path_is_one_line(tmp_path, where):
    afile = tmp_path / "afile"
    afile.write_text("x")
    out, storage = tmp_path / "out", []
    if where == "out is a file":
        out = afile
    elif where == "out under a file":
        out = afile / "out"
    elif where == "storage under a file":
        storage = ["--storage", f"sqlite:///{afile}/x.db"]
    else:
        storage = ["--storage", f"sqlite:///{tmp_path}"]
    line = _one_line(*FAST, "--out", out, *storage)
    assert ("is a file, not a directory" in line) or ("is a directory, not a file" in line)
    assert str(afile if where != "storage is a directory" else tmp_path) in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


def test_a_data_cache_under_a_file_is_one_line(tmp_path):
    (tmp_path / "afile").write_text("x")
    line = _one_line(*FAST, "--out", tmp_path / "out", "--data-cache", tmp_path / "afile" / "cache")
    assert line.endswith(f"cannot create data cache directory '{tmp_path / 'afile' / 'cache'}': "
                         f"'{tmp_path / 'afile'}' is a file, not a directory")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


def test_a_read_only_parent_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr("os.access", lambda path, mode: False)
    line = _one_line(*FAST, "--out", tmp_path / "out")
    assert line.endswith(f"'{tmp_path}' is not writable (permission denied)")
    assert not (tmp_path / "out").exists()


def test_mkdir_refused_by_the_filesystem_is_one_line(tmp_path, monkeypatch):
    def refuse(self, *args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(self))

    monkeypatch.setattr("pathlib.Path.mkdir", refuse)
    line = _one_line(*FAST, "--out", tmp_path / "out")
    assert line.endswith(f"cannot create results directory '{tmp_path / 'out'}': permission denied")


def test_runs_on_a_store_that_does_not_exist_creates_none(tmp_path):
    line = _one_line("runs", "--storage", f"sqlite:///{tmp_path / 'none.db'}")
    assert "does not exist" in line
    assert list(tmp_path.iterdir()) == []


# -- output files of leaderboard, replay and plot ----------------------------------------------


@pytest.mark.parametrize("command", [
    ["leaderboard", "--results", DEMO_TABLE, "--out"],
    ["replay", "--results", DEMO_TABLE, "--repeats", "1", "--out"],
    ["plot", "blocks", "--results", DEMO_TABLE, "--out"],
])
def test_an_output_file_under_a_file_is_one_line(tmp_path, command):
    (tmp_path / "afile").write_text("x")
    suffix = ".png" if command[0] == "plot" else ".md"
    target = tmp_path / "afile" / f"report{suffix}"
    line = _one_line(*command, target)
    assert f"'{tmp_path / 'afile'}' is a file, not a directory" in line
    directory = tmp_path / f"dir{suffix}"
    directory.mkdir()
    assert "is a directory" in _one_line(*command, directory)


def test_a_report_that_cannot_be_written_is_one_line(tmp_path, monkeypatch):
    def read_only(src, dst):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr("os.replace", read_only)
    line = _one_line("leaderboard", "--results", DEMO_TABLE, "--out", tmp_path / "lb.md")
    assert line.endswith(f"cannot write output file '{tmp_path / 'lb.md'}': it is on a read-only "
                         "file system")
    assert list(tmp_path.iterdir()) == []


# -- malformed record files through every command that reads them ------------------------------


READERS = [
    ["leaderboard", "--results"],
    ["check", "--baseline", BASELINE, "--results"],
    ["replay", "--repeats", "1", "--results"],
    ["runs", "--results"],
    ["plot", "blocks", "--out", "{tmp}/p.png", "--results"],
]


def _results(tmp_path: Path, line: int, change) -> Path:
    folder = tmp_path / "results"
    shutil.copytree(DEMO_TABLE, folder)
    lines = (folder / "runs.jsonl").read_text().splitlines()
    record = json.loads(lines[line - 1])
    change(record)
    lines[line - 1] = json.dumps(record)
    (folder / "runs.jsonl").write_text("\n".join(lines) + "\n")
    return folder


def _args(command: list, tmp_path: Path) -> list[str]:
    return [str(a).replace("{tmp}", str(tmp_path)) for a in command]


@pytest.mark.parametrize("command", READERS, ids=lambda c: c[0])
def test_a_field_of_the_wrong_type_names_file_line_and_field(tmp_path, command):
    folder = _results(tmp_path, 7, lambda r: r.update(test_acc="abc"))
    line = _one_line(*_args(command, tmp_path), folder)
    assert line == (f"Error: {folder / 'runs.jsonl'}:7: run record field 'test_acc' must be a "
                    "number or null, got 'abc'")


@pytest.mark.parametrize("command", READERS, ids=lambda c: c[0])
def test_a_missing_field_names_file_line_and_field(tmp_path, command):
    folder = _results(tmp_path, 4, lambda r: r["spec"].pop("seed"))
    line = _one_line(*_args(command, tmp_path), folder)
    assert line == f"Error: {folder / 'runs.jsonl'}:4: run record field 'spec.seed' is missing"


def test_a_malformed_search_record_names_file_line_and_field(tmp_path):
    folder = tmp_path / "results"
    shutil.copytree(DEMO_TABLE, folder)
    lines = (folder / "searches.jsonl").read_text().splitlines()
    record = json.loads(lines[0])
    record["run_hashes"] = "abc"
    (folder / "searches.jsonl").write_text("\n".join([json.dumps(record), *lines[1:]]) + "\n")
    line = _one_line("leaderboard", "--results", folder)
    assert line == (f"Error: {folder / 'searches.jsonl'}:1: search record field 'run_hashes' must "
                    "be a list of strings, got 'abc'")


def test_a_cut_short_last_line_is_a_warning_and_every_reader_goes_on(tmp_path):
    folder = tmp_path / "results"
    shutil.copytree(DEMO_TABLE, folder)
    text = (folder / "runs.jsonl").read_text()
    (folder / "runs.jsonl").write_text(text[: len(text) - 200])
    count = len(text.splitlines())
    for command in READERS:
        code, lines = _run(*_args(command, tmp_path), folder)
        assert code == 0, lines
        assert f"warning: {folder / 'runs.jsonl'}:{count}: skipped a cut-short last line" in lines[0]


def test_a_malformed_baseline_leaderboard_names_the_field(tmp_path):
    board = json.loads(BASELINE.read_text())
    board["tables"][0]["methods"][0]["summary"]["mean"] = "high"
    path = tmp_path / "lb.json"
    path.write_text(json.dumps(board))
    line = _one_line("check", "--baseline", path, "--results", DEMO_TABLE)
    assert line == (f"Error: {path}: leaderboard field 'tables[0].methods[0].summary.mean' must be "
                    "a number or null, got 'high'")


def test_a_malformed_replay_report_names_the_point_and_field(tmp_path):
    report = {"format": "blockbench-replay", "format_version": 1,
              "points": [{"policy": "random", "budget": 2, "regret": 0.1},
                         {"policy": "random", "budget": "two", "regret": 0.1}]}
    path = tmp_path / "replay.json"
    path.write_text(json.dumps(report))
    line = _one_line("plot", "regret", "--replay", path, "--out", tmp_path / "r.png")
    assert line == (f"Error: {path}: regret report field 'points[1].budget' must be a number, "
                    "got 'two'")
