"""Compare settings: one options vocabulary, old names still read, and run identities unchanged."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from blockbench.core.errors import UsageError
from blockbench.core.records import RunRecord, read_jsonl
from blockbench.core.spec import RunSpec
from blockbench.plugin.manager import get_components
from blockbench.search.settings import Settings

REPO = Path(__file__).resolve().parents[2]
TABLES = sorted((REPO / "leaderboards" / "tables").glob("*/runs.jsonl"))


def _task(values: dict[str, object]) -> object:
    settings = Settings()
    settings.update({"backbone": "mobilenet", "dataset": "demo", **values}, "test")
    return settings.tasks()[0]


def test_partition_options_and_their_old_name_give_the_same_task() -> None:
    new = _task({"partition": "uniform", "partition_options": {"k": 4}})
    old = _task({"partition": "uniform", "partition_params": {"k": 4}})
    flags = _task({"partition": "uniform", "partition-options": {"k": 4}})
    assert new == old == flags
    assert new.partition_params == {"k": 4}  # type: ignore[attr-defined]


def test_an_unknown_setting_suggests_the_current_name() -> None:
    with pytest.raises(UsageError, match=re.escape(
            "unknown setting 'partition_option' in bench.toml. Did you mean 'partition_options'")):
        Settings().update({"partition_option": {"k": 4}}, "bench.toml")


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
