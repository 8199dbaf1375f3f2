"""``blockbench replay`` on synthetic tables: formats, sources, stored signals, one-line errors."""

from __future__ import annotations

import importlib.util
import json

import pytest
from click.testing import CliRunner

from blockbench.cli.main import cli
from blockbench.components.policy import Signal
from blockbench.core.spec import block_target
from tests.factories import make_search, write_results
from tests.replay_tables import table_runs

VAL = [[0.50, 0.52, 0.54, 0.56, 0.58, 0.90, 0.60, 0.62, 0.64, 0.89, 0.66, 0.68]] * 2
TEST = [[0.50, 0.52, 0.54, 0.56, 0.58, 0.80, 0.60, 0.62, 0.64, 0.7925, 0.66, 0.68]] * 2
FEW = ["--policy", "exhaustive", "--policy", "last-quarter", "--policy", "random", "--repeats", "20"]


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    runs = table_runs(VAL, TEST)
    searches = []
    for seed in (0, 1):
        anchor = next(r for r in runs if r.spec.seed == seed and r.spec.target == "block:0")
        values = {block_target(i): VAL[seed][i] for i in range(12)}  # a signal that knows the answer
        signal = Signal("gradient-norm", {"head_epochs": 2, "batches": 8}, values, 1, 2, anchor.run_hash)
        searches.append(make_search("gradient-rank", anchor, info={"signal": signal.to_dict()}))
    return write_results(tmp_path_factory.mktemp("replay"), runs, searches)


def invoke(*args: str):
    return CliRunner().invoke(cli, ["replay", *args])


def test_table_format_shows_budgets_policies_and_verdicts(results) -> None:
    result = invoke("--results", str(results), *FEW, "--budget", "q4")
    assert result.exit_code == 0, result.output
    for text in ("Budget q4: overall", "last-quarter", "against last-quarter and random", "verdict",
                 "60 searches replayed on 1 table(s)"):
        assert text in result.output


def test_json_format_is_the_whole_report(results, monkeypatch) -> None:
    argv = ["/venv/bin/blockbench", "replay", "--results", str(results), *FEW, "--format", "json"]
    monkeypatch.setattr("sys.argv", argv)  # the command is recorded from the real argv
    result = invoke(*argv[2:])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    exhaustive = next(r for r in report["overall"] if r["policy"] == "exhaustive")
    assert exhaustive["regret"] == 0 and exhaustive["repeats"] == 20
    assert report["meta"]["command"] == " ".join(["blockbench", *argv[1:]])
    assert report["meta"]["budgets"] == ["default"]


def test_a_table_file_with_stored_signals_replays_gradient_rank(results) -> None:
    result = invoke("--table", str(results / "runs.jsonl"), "--policy", "gradient-rank",
                    "--budget", "3", "--repeats", "4", "--format", "json")
    assert result.exit_code == 0, result.output
    row = json.loads(result.stdout)["overall"][0]
    assert row["regret"] == 0 and row["runs"] == 3 and row["epochs"] == 22  # signal + 2 blocks


def test_several_results_directories_are_merged(results, tmp_path) -> None:
    signals = tmp_path / "signals"
    signals.mkdir()
    (signals / "searches.jsonl").write_text((results / "searches.jsonl").read_text())
    runs_only = write_results(tmp_path / "runs", table_runs(VAL, TEST))
    alone = invoke("--results", str(runs_only), "--policy", "gradient-rank", "--repeats", "2")
    assert alone.exit_code == 1 and "no stored 'gradient-norm' signal" in alone.output
    merged = invoke("--results", str(runs_only), "--results", str(signals), "--policy",
                    "gradient-rank", "--repeats", "2", "--format", "json")
    assert merged.exit_code == 0, merged.output
    assert json.loads(merged.stdout)["overall"][0]["repeats"] == 2


def test_out_files_by_suffix_and_the_json_feeds_plot_regret(results, tmp_path) -> None:
    md, js = tmp_path / "replay.md", tmp_path / "replay.json"
    for path in (md, js):
        result = invoke("--results", str(results), *FEW, "--budget", "2", "--budget", "q4",
                        "--out", str(path))
        assert result.exit_code == 0, result.output
        assert f"report written to {path}" in result.output
    assert md.read_text().startswith("# Replay report")
    assert "random @ q4" in {p["policy"] for p in json.loads(js.read_text())["points"]}
    if importlib.util.find_spec("matplotlib"):
        figure = tmp_path / "regret.png"
        plotted = CliRunner().invoke(cli, ["plot", "regret", "--replay", str(js), "--out", str(figure)])
        assert plotted.exit_code == 0, plotted.output
        assert figure.stat().st_size > 0


def test_two_labels_for_one_policy_with_their_own_options(results) -> None:
    result = invoke("--results", str(results), "--policy", "optuna-tpe", "--policy",
                    "tpe-q4:optuna-tpe", "--policy-option", "tpe-q4.warm_start=2",
                    "--repeats", "3", "--format", "json")
    assert result.exit_code == 0, result.output
    policies = json.loads(result.stdout)["meta"]["policies"]
    assert policies[1] == {"label": "tpe-q4", "name": "optuna-tpe", "options": {"warm_start": 2},
                           "multi_seed": False}


def test_default_policies_skip_what_cannot_be_built_here(results) -> None:
    result = invoke("--results", str(results), "--repeats", "2", "--format", "json")
    assert result.exit_code == 0, result.output
    labels = [p["label"] for p in json.loads(result.stdout)["meta"]["policies"]]
    assert labels[:4] == ["exhaustive", "last-quarter", "last-block", "random"]
    if importlib.util.find_spec("torch") is None:
        assert "optuna-gp" not in labels and "policy optuna-gp not replayed" in result.stderr


@pytest.mark.parametrize("args, message", [
    (["--policy", "radnom"], "unknown policy 'radnom'. Did you mean 'random'"),
    (["--budget", "0"], "budget '0' is not valid"),
    (["--policy-option", "tpe.k=2", "--policy", "random"], "--policy-option names tpe"),
    (["--policy", "random", "--policy", "random"], "each --policy needs its own label"),
    (["--policy", "random", "--policy-option", "random.k=0"], "k=0 of policy random"),
    (["--policy", "exhaustive@0"], "policy 'exhaustive@0': the seed count after '@' must be"),
    (["--policy", "exhaustive@x"], "must be a positive integer or 'all', e.g. exhaustive@3"),
])
def test_bad_input_is_one_line(results, args, message) -> None:
    result = invoke("--results", str(results), *args)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_bad_sources_are_one_line(results, tmp_path) -> None:
    both = invoke("--results", str(results), "--table", str(results / "runs.jsonl"))
    assert both.exit_code == 2 and "use one of --results DIR, --storage URL or --table" in both.output
    no_store = invoke("--storage", f"sqlite:///{tmp_path / 'none.db'}")
    assert no_store.exit_code == 2 and "does not exist" in no_store.output
    missing = invoke("--table", str(tmp_path / "nope.jsonl"))
    assert missing.exit_code == 2 and "does not exist" in missing.output
    partial = tmp_path / "partial"
    write_results(partial, [r for r in table_runs(VAL, TEST) if r.spec.target != "block:3"])
    empty = invoke("--results", str(partial))
    assert empty.exit_code == 1 and "nothing to replay" in empty.output


def test_a_policy_over_k_seeds_scores_the_expected_test_accuracy(results) -> None:
    result = invoke("--results", str(results), "--policy", "exhaustive", "--policy", "exhaustive@2",
                    "--policy", "ex3:exhaustive@3", "--repeats", "4", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    rows = {r["policy"]: r for r in report["overall"]}
    assert rows["exhaustive@2"]["runs"] == 24 and rows["exhaustive@2"]["seeds"] == 2
    assert rows["exhaustive"]["regret"] == 0 and rows["exhaustive@2"]["regret"] == 0
    assert report["meta"]["policies"][1] == {"label": "exhaustive@2", "name": "exhaustive",
                                             "options": {}, "seeds": 2, "multi_seed": True}
    assert [u["policy"] for u in report["unavailable"]] == ["ex3"]  # the table has 2 seeds
    assert "expected test accuracy" in report["meta"]["regret"]


@pytest.mark.skipif(importlib.util.find_spec("torch") is not None, reason="PyTorch is installed")
def test_asking_for_optuna_gp_without_torch_says_what_to_install(results) -> None:
    result = invoke("--results", str(results), "--policy", "optuna-gp")
    assert result.exit_code == 1 and "pip install torch" in result.output


@pytest.mark.tf
@pytest.mark.slow
def test_a_real_compare_then_its_replay(monkeypatch, tmp_path) -> None:
    """compare stores an exhaustive table and gradient-rank's signal; replay serves both."""
    from blockbench.plugin.manager import get_components
    from tests.engine_fixtures import components

    installed = get_components()

    def with_policies():
        base = components()
        for entry in installed.policies:
            if entry.name not in base.policies:
                base.policies.add(entry.name, entry.factory, description=entry.description)
        return base

    monkeypatch.setattr("blockbench.plugin.manager.get_components", with_policies)
    out = tmp_path / "results"
    compare = CliRunner().invoke(cli, [
        "compare", "-b", "tiny-net", "-d", "blobs", "-p", "by-stage", "--weights", "none",
        "--epochs", "3", "--hparam", "batch_size=8", "--hparam", "dense_units=8", "--seeds", "1",
        "--policy", "exhaustive", "--policy", "gradient-rank", "--policy", "successive-halving",
        "--policy-option", "gradient-rank.head_epochs=1", "--policy-option",
        "gradient-rank.batches=2", "--budget", "2", "--quiet", "--out", str(out)])
    assert compare.exit_code == 0, compare.output
    result = invoke("--results", str(out), "--policy", "exhaustive", "--policy", "gradient-rank",
                    "--policy", "successive-halving", "--policy-option", "gradient-rank.head_epochs=1",
                    "--policy-option", "gradient-rank.batches=2", "--repeats", "3",
                    "--budget", "2", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["unavailable"] == []
    rows = {r["policy"]: r for r in report["overall"]}
    assert rows["gradient-rank"]["runs"] == 2 and rows["gradient-rank"]["epochs"] == 1 + 3
    assert rows["successive-halving"]["epochs"] <= 6
