"""``blockbench runs``: what a store or results directory holds, filtered, as table, JSON or CSV."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from blockbench.cli.main import cli
from blockbench.core.record_files import RUNS_FILE, write_jsonl
from blockbench.store.run_store import Store
from tests.factories import make_run, make_spec


@pytest.fixture
def store_url(tmp_path):
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    with Store(url) as store:
        store.add(make_run(make_spec("bl1"), 0.61, 0.6))
        store.add(make_run(make_spec("block:2", backbone="vgg16"), 0.71, 0.7, n_blocks=8))
        store.add(make_run(make_spec("block:3", dataset="cifar10"), None, None, status="failed",
                           error="ResourceExhaustedError: OOM"))
        store.claim_run(make_spec("block:4"))
        yield url


def invoke(*args: str):
    result = CliRunner().invoke(cli, ["runs", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_table_lists_finished_and_running_runs(store_url):
    out = invoke("--storage", store_url)
    assert "4 runs in sqlite:///" in out
    assert "0.6100" in out and "ResourceExhaustedError" in out and "running (" in out


def test_filters_by_backbone_dataset_and_status(store_url):
    rows = json.loads(invoke("--storage", store_url, "--format", "json", "--backbone", "vgg16"))
    assert [(r["target"], r["val_acc"]) for r in rows] == [("block:2", 0.71)]
    assert rows[0]["record"]["spec"]["backbone"] == "vgg16"  # the full record, for export
    failed = json.loads(invoke("--storage", store_url, "--format", "json", "--status", "failed"))
    assert [r["dataset"] for r in failed] == ["cifar10"]
    running = json.loads(invoke("--storage", store_url, "--format", "json", "--status", "running"))
    assert [r["target"] for r in running] == ["block:4"] and running[0]["worker"]
    assert json.loads(invoke("--storage", store_url, "--format", "json", "-d", "nowhere")) == []


def test_csv_is_flat(store_url):
    rows = list(csv.DictReader(io.StringIO(invoke("--storage", store_url, "--format", "csv"))))
    assert len(rows) == 4 and "record" not in rows[0]
    assert {r["status"] for r in rows} == {"ok", "failed", "running"}


def test_results_directory_uses_its_store_or_its_runs_jsonl(tmp_path, store_url):
    legacy = tmp_path / "legacy"
    write_jsonl([make_run(make_spec("bl2"), 0.5, 0.4)], legacy / RUNS_FILE)
    rows = json.loads(invoke("--results", str(legacy), "--format", "json"))
    assert [(r["target"], r["status"]) for r in rows] == [("bl2", "ok")]
    assert not (legacy / "blockbench.db").exists()  # listing never creates a store


@pytest.mark.parametrize("args, message", [
    (["--results", "nowhere"], "results directory 'nowhere' does not exist"),
    (["--storage", "missing.db"], "does not exist"),
    (["--storage", "x.db", "--results", "d"], "not both"),
])
def test_bad_sources_are_one_line_errors(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["runs", *args])
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


def test_listing_never_imports_tensorflow(store_url):
    code = ("import sys; from blockbench.cli.main import cli; "
            "cli.main(['runs', '--storage', sys.argv[1], '--format', 'json'], "
            "standalone_mode=False); "
            "heavy = [m for m in ('tensorflow', 'keras') if m in sys.modules]; "
            "sys.exit(f'imported {heavy}' if heavy else 0)")
    child = subprocess.run([sys.executable, "-c", code, store_url], capture_output=True,
                           text=True, timeout=120)
    assert child.returncode == 0, child.stderr[-2000:]


def test_a_corrupt_store_is_one_line(tmp_path):
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"\x00garbage, not SQLite" * 64)
    result = CliRunner().invoke(cli, ["runs", "--storage", str(bad)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.count("\n") == 1 and "not a readable SQLite database" in result.output
