"""``blockbench worker``: joining a study, and what it says when there is nothing or something wrong."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from blockbench.cli.main import cli
from blockbench.core.task import SplitConfig, Task
from blockbench.search.compare import PolicyRequest
from blockbench.search.queue import RUN_JOB, StudyDefinition, WorkQueue
from blockbench.store.run_store import Store


@pytest.fixture
def url(tmp_path):
    return f"sqlite:///{tmp_path / 'q.db'}"


def make_study(url: str, backbone: str = "demo-cnn", jobs: int = 0) -> None:
    task = Task(backbone, "demo", SplitConfig(), weights="none")
    with Store(url) as store:
        queue = WorkQueue(store)
        queue.create_study("s1", StudyDefinition([task], [PolicyRequest("exhaustive")], [0]))
        for number in range(jobs):
            queue.enqueue("s1", RUN_JOB, f"run:{number}", {"task": 0, "seed": 0, "target": "bl1"})


def test_unknown_study_suggests_the_known_ones(url):
    make_study(url)
    result = CliRunner().invoke(cli, ["worker", "--storage", url, "--study", "s2"])
    assert result.exit_code == 2 and "unknown study 's2'" in result.output
    assert "Did you mean 's1'" in result.output and "Traceback" not in result.output


def test_a_study_with_nothing_left_ends_at_once(url):
    make_study(url)
    result = CliRunner().invoke(cli, ["worker", "--storage", url, "--study", "s1"])
    assert result.exit_code == 0, result.output
    assert "0 jobs (0 failed)" in result.output


def test_a_job_that_cannot_run_is_recorded_and_the_others_go_on(url):
    make_study(url, backbone="no-such-net", jobs=2)
    result = CliRunner().invoke(cli, ["worker", "--storage", url, "--study", "s1", "--poll", "0.1"])
    assert result.exit_code == 1
    assert "2 jobs (2 failed)" in result.output and "unknown backbone 'no-such-net'" in result.output
    with Store(url) as store:
        queue = WorkQueue(store)
        assert queue.counts("s1") == {"failed": 2}
        assert all("no-such-net" in error for _, error in queue.failures("s1"))


def test_storage_is_required_and_may_come_from_the_environment(url, monkeypatch):
    result = CliRunner().invoke(cli, ["worker", "--study", "s1"])
    assert result.exit_code == 2 and "--storage" in result.output
    make_study(url)
    monkeypatch.setenv("BLOCKBENCH_STORAGE", url)
    assert CliRunner().invoke(cli, ["worker", "--study", "s1"]).exit_code == 0
