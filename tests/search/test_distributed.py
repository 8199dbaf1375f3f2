"""``compare --detach`` then two ``blockbench worker`` processes: every run trained exactly once.

Runs on SQLite everywhere and on a real PostgreSQL server on loopback where one
can be started (see ``tests/postgres_server.py``); real subprocesses, tiny
components from a plugin installed the way any plugin is (``tests/tiny_plugin.py``).
"""

from __future__ import annotations

import json
import re
import subprocess
from collections import Counter

import pytest

from blockbench.search.queue import WorkQueue
from blockbench.store.run_store import Store
from blockbench.store.url import password_of
from tests.postgres_server import postgres_database
from tests.tiny_plugin import blockbench_cmd, plugin_env

TINY = ["compare", "-b", "tiny-net", "-d", "blobs", "-p", "by-stage", "--weights", "none",
        "--epochs", "1", "--hparam", "batch_size=8", "--hparam", "dense_units=8", "--seeds", "2"]
EXPECTED = {f"tiny-net/blobs seed {s} {t}" for s in (0, 1)
            for t in ("bl1", "bl2", "block:0", "block:1")}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def storage(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'shared.db'}"
        return
    with postgres_database() as url:
        yield url


def run(args, env, cwd, timeout=400):
    return subprocess.run(blockbench_cmd(*args), env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.tf
@pytest.mark.slow
def test_two_workers_share_a_detached_exhaustive_search(storage, tmp_path):
    env = plugin_env(tmp_path / "site")
    detach = run([*TINY, "--storage", storage, "--detach", "--study", "dist",
                  "--out", str(tmp_path / "out")], env, tmp_path)
    assert detach.returncode == 0, detach.stderr[-3000:]
    assert "queued 8 runs and 2 searches" in detach.stderr
    assert "blockbench worker --storage" in detach.stdout and "--study dist" in detach.stdout

    workers = [subprocess.Popen(blockbench_cmd("worker", "--storage", storage, "--study", "dist",
                                               "--poll", "0.3"),
                                env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [w.communicate(timeout=600) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], [err[-3000:] for _, err in outputs]
    trained = Counter(m.group(1) for _, err in outputs
                      for m in re.finditer(r"trained (tiny-net\S* seed \d \S+):", err))
    assert set(trained) == EXPECTED and set(trained.values()) == {1}, trained

    with Store(storage) as store:
        rows = store.rows()
        assert len(rows) == 8 and all(r.status == "ok" and r.attempts == 1 for r in rows)
        assert [s.seed for s in store.searches(study="dist")] in ([0, 1], [1, 0])
        assert WorkQueue(store).counts("dist") == {"done": 10}

    board = run(["leaderboard", "--storage", storage, "--format", "json"], env, tmp_path, 120)
    assert board.returncode == 0, board.stderr
    meta = json.loads(board.stdout)["meta"]
    assert (meta["runs_ok"], meta["searches"]) == (8, 2)
    listing = run(["runs", "--storage", storage, "--format", "json", "--status", "ok"], env,
                  tmp_path, 120)
    assert len(json.loads(listing.stdout)) == 8

    secret = password_of(storage)
    if secret:  # the password was on every command line: it must not come back anywhere
        texts = [detach.stdout, detach.stderr, board.stdout, board.stderr, listing.stdout,
                 *(part for pair in outputs for part in pair)]
        assert not any(secret in text for text in texts)
        with Store(storage) as store, store.db.transaction() as conn:
            from sqlalchemy import text

            for table in ("blockbench_runs", "blockbench_searches", "blockbench_studies"):
                dump = json.dumps([list(r) for r in conn.execute(text(f"SELECT * FROM {table}"))],
                                  default=str)
                assert secret not in dump
        assert secret not in "".join(p.read_text() for p in (tmp_path / "out").glob("*")
                                     if p.is_file() and p.suffix != ".db")
