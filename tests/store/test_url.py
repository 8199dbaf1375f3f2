"""Storage URLs: normalisation, one-line errors for bad ones, and passwords kept secret."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from blockbench.cli.main import cli
from blockbench.core.errors import UsageError
from blockbench.report.leaderboard import command_line
from blockbench.store.url import (
    backend_of,
    default_storage,
    mask_secrets,
    mask_url,
    normalize_url,
    password_of,
    scrub,
)


def test_paths_and_sqlite_urls_become_absolute_sqlite_urls(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert normalize_url("runs.db") == f"sqlite:///{tmp_path / 'runs.db'}"
    assert normalize_url("sqlite:///sub/runs.db") == f"sqlite:///{tmp_path / 'sub' / 'runs.db'}"
    assert normalize_url("sqlite:////abs/runs.db") == "sqlite:////abs/runs.db"
    assert default_storage("res") == f"sqlite:///{tmp_path / 'res' / 'blockbench.db'}"
    assert backend_of(normalize_url("x.db")) == "sqlite"


def test_postgres_urls_get_a_driver_and_keep_their_parts():
    url = normalize_url("postgres://bob:p%40ss@db.example:5433/bench?sslmode=require")
    assert url.startswith("postgresql+psycopg")
    assert url.endswith("@db.example:5433/bench?sslmode=require")
    assert password_of(url) == "p@ss"
    assert normalize_url("postgresql+psycopg2://h/db") == "postgresql+psycopg2://h/db"


@pytest.mark.parametrize("url, message", [
    ("mysql://u:secret@h/db", "scheme 'mysql' is not supported"),
    ("sqlite://", "names no file"),
    ("sqlite:///:memory:", "names no file"),
    ("postgresql://u:secret@h", "names no database"),
])
def test_bad_urls_are_usage_errors_that_never_show_the_password(url, message):
    with pytest.raises(UsageError, match=message) as info:
        normalize_url(url)
    assert "secret" not in str(info.value)


def test_masking_hides_passwords_in_urls_and_any_text():
    assert mask_url("postgresql://bob:hunter2@h/db") == "postgresql://bob:***@h/db"
    assert mask_url("sqlite:////a/b.db") == "sqlite:////a/b.db"
    text = "failed: postgresql+psycopg2://bob:pa:ss@word@h:5/db (timeout)"
    assert mask_secrets(text) == "failed: postgresql+psycopg2://bob:***@h:5/db (timeout)"
    assert mask_secrets("password is p@ss", ("p@ss",)) == "password is ***"
    assert scrub({"a": ["x postgresql://u:pw@h/d"], "n": 3}) == {"a": ["x postgresql://u:***@h/d"],
                                                                 "n": 3}


def test_leaderboard_command_line_masks_storage_passwords():
    line = command_line(["/bin/blockbench", "leaderboard", "--storage", "postgresql://u:pw@h/db"])
    assert line == "blockbench leaderboard --storage 'postgresql://u:***@h/db'"


def test_unreachable_postgres_store_is_one_line_without_the_password():
    result = CliRunner().invoke(cli, ["runs", "--storage", "postgresql://bob:hunter2@127.0.0.1:1/db"])
    assert result.exit_code == 1
    assert "hunter2" not in result.output and "Traceback" not in result.output
    assert "postgresql+psycopg2://bob:***@127.0.0.1:1/db" in result.output


def test_compare_with_a_bad_storage_url_fails_before_training(tmp_path):
    result = CliRunner().invoke(cli, ["compare", "--out", str(tmp_path / "r"),
                                      "--storage", "mysql://u:hunter2@h/db"])
    assert result.exit_code == 2 and "scheme 'mysql' is not supported" in result.output
    assert "hunter2" not in result.output and "Traceback" not in result.output
