"""Compare settings: one typed model for presets, TOML and flags; old names still read; run
identities unchanged."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from blockbench.cli.main import cli
from blockbench.core.errors import UsageError
from blockbench.core.options import parse_assignments
from blockbench.core.record_files import read_jsonl
from blockbench.core.records import RunRecord
from blockbench.core.spec import REFERENCE_HPARAMS, RunSpec
from blockbench.core.task import SplitConfig, Task
from blockbench.core.task_settings import complete_hparams
from blockbench.core.validation import Source
from blockbench.plugin.manager import get_components
from blockbench.search.settings import COMMAND_LINE, Settings

REPO = Path(__file__).resolve().parents[2]
TABLES = sorted((REPO / "leaderboards" / "tables").glob("*/runs.jsonl"))


TOML = Source.file("bench.toml")


def _task(values: dict[str, object], source: Source = TOML) -> Task:
    settings = Settings()
    settings.update({"backbone": "mobilenet", "dataset": "demo", **values}, source)
    return settings.tasks()[0]


def test_partition_options_and_their_old_name_give_the_same_task() -> None:
    new = _task({"partition": "uniform", "partition_options": {"k": 4}})
    old = _task({"partition": "uniform", "partition_params": {"k": 4}})
    flags = _task({"partition": "uniform", "partition-options": {"k": 4}})
    assert new == old == flags
    assert new.partition_params == {"k": 4}


def test_an_unknown_setting_suggests_the_current_name_and_lists_the_valid_ones() -> None:
    with pytest.raises(UsageError, match=re.escape(
            "unknown setting 'partition_option' in bench.toml. Did you mean 'partition_options'? "
            "Valid: backbone, backbone_options, budget,")):
        Settings().update({"partition_option": {"k": 4}}, TOML)


def test_hparams_are_the_same_dict_as_before_the_typed_model() -> None:
    # The hparams dict enters the run hash: values keep the type they were given, and the key
    # set is REFERENCE_HPARAMS plus what was given (xla only when given).
    task = _task({"epochs": 10, "hparams": {"learning_rate": 1, "dropout": 0}})
    assert task.hparams == {"learning_rate": 1, "dropout": 0, "epochs": 10}
    hparams = complete_hparams(task.hparams)
    assert set(hparams) == set(REFERENCE_HPARAMS)
    assert type(hparams["learning_rate"]) is int and type(hparams["dropout"]) is int
    assert type(hparams["epochs"]) is int
    flags = _task({"hparams": parse_assignments(["epochs=10", "learning_rate=0.001", "xla=true"],
                                                "--hparam")}, COMMAND_LINE)
    hparams = complete_hparams(flags.hparams)
    assert hparams == {**REFERENCE_HPARAMS, "epochs": 10, "learning_rate": 0.001, "xla": True}
    assert type(hparams["epochs"]) is int and type(hparams["learning_rate"]) is float
    assert complete_hparams(_task({}).hparams) == REFERENCE_HPARAMS


def test_sources_merge_in_order_and_sections_key_by_key() -> None:
    settings = Settings()
    settings.update({"seeds": 2, "backbone": "demo-cnn", "dataset": "demo"}, Source("preset"))
    settings.update({"seeds": 5, "hparams": {"epochs": 3, "head": "gap"},
                     "split": {"fractions": [0.6, 0.2, 0.2]}, "backbone_options": {"a": 1}}, TOML)
    settings.update({"hparams": {"epochs": 4}, "split": {"seed": 7}, "backbone": ("x", "y"),
                     "budget": None, "dataset": ()}, COMMAND_LINE)
    assert settings.seed_list() == [0, 1, 2, 3, 4]
    assert [t.backbone for t in settings.tasks()] == ["x", "y"]
    task = settings.tasks()[0]
    assert task.dataset == "demo" and task.backbone_options == {"a": 1}
    assert task.hparams == {"epochs": 4, "head": "gap"}
    assert task.split == SplitConfig(fractions=(0.6, 0.2, 0.2), seed=7)


def _bad(tmp_path: Path, text: str) -> list[str]:
    """The output of a compare with this config file in the working directory: one line."""
    base = "" if text.startswith("backbone") else 'backbone = "demo-cnn"\n'
    (tmp_path / "bench.toml").write_text(base + 'dataset = "demo"\n' + text)
    result = CliRunner().invoke(cli, ["compare", "--config", "bench.toml", "--out",
                                      str(tmp_path / "out"), "--quiet"])
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert "Traceback" not in result.output
    assert result.exit_code == 2, result.output
    assert len(lines) == 1, result.output
    return lines


@pytest.mark.parametrize(("text", "message"), [
    # wrong types: refused, never truncated or parsed
    ('seeds = "three"\n', 'bench.toml seeds = "three" is not valid; use a whole number from 1 '
                         "to 10,000"),
    ("seeds = 1.5\n", "bench.toml seeds = 1.5 is not valid; use a whole number from 1 to 10,000"),
    ("epochs = true\n", "bench.toml epochs = true is not valid; use a whole number, at least 1"),
    ("epochs = 2.5\n", "bench.toml epochs = 2.5 is not valid"),
    ("backbone = 5\n", "bench.toml backbone = 5 is not valid; use a name or a list of names"),
    ("weights = 5\n", "bench.toml weights = 5 is not valid; use imagenet, none or the path"),
    ("split = 3\n", "bench.toml split = 3 is not valid; use a table of kind, fractions and seed"),
    ("hparams = 3\n", "bench.toml hparams = 3 is not valid; use a table of hyper-parameters"),
    ("policy_options = 3\n", "bench.toml policy_options = 3 is not valid; use one table of "
                              "options per policy"),
    ('[hparams]\nepochs = "two"\n', 'bench.toml [hparams] epochs = "two" is not valid; '
                                     "use a whole number, at least 1"),
    ("[hparams]\nepochs = true\n", "bench.toml [hparams] epochs = true is not valid"),
    ('[hparams]\ndropout = "abc"\n', 'bench.toml [hparams] dropout = "abc" is not valid; '
                                      "use a number from 0 up to, not including, 1"),
    # ranges
    ("seeds = 0\n", "bench.toml seeds = 0 is not valid"),
    ("budget = 0\n", "bench.toml budget = 0 is not valid; use a whole number of runs, at least 1"),
    ("input_size = -1\n", "bench.toml input_size = -1 is not valid; use a whole number of pixels"),
    ("seed_start = -1\n", "bench.toml seed_start = -1 is not valid; use a whole number from 0 "
                          "to 4,294,957,295"),
    ("seeds = 20000\n", "bench.toml seeds = 20000 is not valid; use a whole number from 1 to 10,000"),
    ("[hparams]\nlearning_rate = -1e-3\n", "bench.toml [hparams] learning_rate = -0.001 is not "
                                           "valid; use a finite number greater than 0"),
    ("[hparams]\nlearning_rate = 0\n", "bench.toml [hparams] learning_rate = 0 is not valid"),
    ("[hparams]\nlearning_rate = inf\n", "bench.toml [hparams] learning_rate = inf is not valid"),
    ("[hparams]\ndropout = 1\n", "bench.toml [hparams] dropout = 1 is not valid"),
    ("[hparams]\nbatch_size = 0\n", "bench.toml [hparams] batch_size = 0 is not valid"),
    ("[hparams]\ndense_units = 0\n", "bench.toml [hparams] dense_units = 0 is not valid"),
    ("[split]\nfractions = [0.7, 0.2, 0.2]\n", "bench.toml [split] fractions = [0.7, 0.2, 0.2] is "
                                              "not valid; use three positive numbers"),
    ("[split]\nfractions = [0.7, 0.3]\n", "bench.toml [split] fractions = [0.7, 0.3] is not valid"),
    ("[split]\nfractions = [0.8, 0.3, -0.1]\n", "is not valid; use three positive numbers"),
    ("[split]\nseed = -1\n", "bench.toml [split] seed = -1 is not valid; use a whole number, at "
                             "least 0"),
    # enumerations
    ('[hparams]\nhead = "nosuch"\n', "use one of flatten, gap"),
    ('[hparams]\neval_epoch = "best"\n', "use one of last, best-val"),
    ('[hparams]\nprecision = "float64"\n', "use one of float32, mixed_float16"),
    ('[hparams]\noptimizer = "adamax"\n', "use one of adam, sgd, adamw, rmsprop"),
    ('[hparams]\nxla = "yes"\n', 'bench.toml [hparams] xla = "yes" is not valid; use true or '
                                  "false"),
    ('[split]\nkind = "random"\n', "use one of stratified, official"),
    # unknown keys, in every section: "did you mean" and the valid keys
    ("seedz = 3\n", "unknown setting 'seedz' in bench.toml. Did you mean 'seeds'? Valid: "
                    "backbone,"),
    ("[hparams]\nepochz = 3\n", "unknown hyper-parameter 'epochz' in bench.toml [hparams]. Did you "
                                "mean 'epochs'? Valid: batch_size, dense_units, dropout, epochs, "
                                "eval_epoch, head, learning_rate, optimizer, precision, xla."),
    ("[split]\nfractionz = [0.7, 0.2, 0.1]\n", "unknown split setting 'fractionz' in bench.toml "
                                               "[split]. Did you mean 'fractions'? Valid: "
                                               "fractions, kind, seed."),
])
def test_a_bad_config_file_is_one_line_naming_the_key_and_what_is_valid(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, message: str) -> None:
    monkeypatch.chdir(tmp_path)
    (line,) = _bad(tmp_path, text)
    assert line.startswith("Error: ") and message in line


@pytest.mark.skipif(not TABLES, reason="no committed tables in this checkout")
@pytest.mark.parametrize("path", TABLES, ids=lambda p: p.parent.name)
def test_committed_runs_keep_their_identity_through_todays_option_checks(path: Path) -> None:
    # The committed tables were made with the defaults of their partition strategy and the
    # backbone options they record: today's checks must complete them to the same identity.
    components = get_components()
    records = [r for r in read_jsonl(path, RunRecord) if r.spec.partition is not None]
    assert records
    for record in records:
        spec = record.spec
        backbone = components.backbones.get(spec.backbone).factory
        strategy = components.partitions.get(spec.partition).factory
        options = backbone.check_options(dict(spec.backbone_options))
        again = RunSpec(**{**spec.to_dict(), "backbone_options": options,
                           "partition_params": strategy.check_options({})})
        assert again.run_hash == record.run_hash, spec.target
