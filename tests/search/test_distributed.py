"""Two ``blockbench compare`` drivers racing on one store: every run is trained exactly once.

The store's claims make the second driver wait for a run the first is training
and reuse it. Runs on SQLite everywhere and on a real PostgreSQL server on
loopback where one can be started (see ``tests/postgres_server.py``); real
subprocesses, tiny components from a plugin installed the way any plugin is
(``tests/tiny_plugin.py``).
"""

from __future__ import annotations

import json
import re
import subprocess
from collections import Counter

import pytest

from blockbench.store.run_store import Store
from blockbench.store.url import password_of
from tests.postgres_server import postgres_database
from tests.tiny_plugin import blockbench_cmd, plugin_env

TINY = ["compare", "-b", "tiny-net", "-d", "blobs", "-p", "by-stage", "--weights", "none",
        "--epochs", "1", "--hparam", "batch_size=8", "--hparam", "dense_units=8", "--seeds", "2",
        "--format", "json"]
EXPECTED = {f"tiny-net/blobs seed {s} {t}" for s in (0, 1)
            for t in ("bl1", "bl2", "block:0", "block:1")}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def storage(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'shared.db'}"
        return
    with postgres_database() as url:
        yield url


def run(args, env, cwd, timeout=120):
    return subprocess.run(blockbench_cmd(*args), env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.tf
@pytest.mark.slow
def test_two_compare_drivers_on_one_store_train_each_run_once(storage, tmp_path):
    env = plugin_env(tmp_path / "site")
    drivers = [subprocess.Popen(blockbench_cmd(*TINY, "--storage", storage, "--study", "race",
                                               "--out", str(tmp_path / f"out{n}")),
                                env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for n in range(2)]
    outputs = [d.communicate(timeout=600) for d in drivers]
    assert [d.returncode for d in drivers] == [0, 0], [err[-3000:] for _, err in outputs]
    trained = Counter(m.group(1) for _, err in outputs
                      for m in re.finditer(r"trained (tiny-net\S* seed \d \S+):", err))
    assert set(trained) == EXPECTED and set(trained.values()) == {1}, trained

    boards = [json.loads(out) for out, _ in outputs]  # both print the full leaderboard
    for board in boards:
        assert (board["meta"]["runs_ok"], board["meta"]["searches"]) == (8, 2)
    assert boards[0]["tables"] == boards[1]["tables"] and boards[0]["tables"]

    with Store(storage) as store:
        rows = store.rows()
        assert len(rows) == 8 and all(r.status == "ok" and r.attempts == 1 for r in rows)
        assert sorted(s.seed for s in store.searches(study="race")) == [0, 1]

    listing = run(["runs", "--storage", storage, "--format", "json", "--status", "ok"], env,
                  tmp_path)
    assert len(json.loads(listing.stdout)) == 8

    secret = password_of(storage)
    if secret:  # the password was on every command line: it must not come back anywhere
        texts = [listing.stdout, listing.stderr, *(part for pair in outputs for part in pair)]
        assert not any(secret in text for text in texts)
        with Store(storage) as store, store.db.transaction() as conn:
            from sqlalchemy import text

            for table in ("blockbench_runs", "blockbench_searches"):
                dump = json.dumps([list(r) for r in conn.execute(text(f"SELECT * FROM {table}"))],
                                  default=str)
                assert secret not in dump
        assert secret not in "".join(p.read_text() for n in range(2)
                                     for p in (tmp_path / f"out{n}").glob("*")
                                     if p.is_file() and p.suffix != ".db")
