"""``kill -9`` during a real ``blockbench compare``, then the same command again.

Completed runs are reused, the run being trained when the process died is
trained again from its start (its claim is taken over at once: its process is
gone from this machine), and the final leaderboard equals that of a search
that was never interrupted.
"""

from __future__ import annotations

import json
import re
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from blockbench.store.run_store import Store
from tests.tiny_plugin import blockbench_cmd, plugin_env

TINY = ["compare", "-b", "tiny-net", "-d", "blobs", "-p", "by-stage", "--weights", "none",
        "--epochs", "1", "--hparam", "batch_size=8", "--hparam", "dense_units=8", "--seeds", "1",
        "--policy", "exhaustive", "--policy", "optuna-tpe", "--format", "json"]


def statuses(db: Path) -> list[str]:
    """Run statuses, read without taking the write lock (WAL lets readers in)."""
    if not db.exists():
        return []
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return [row[0] for row in conn.execute("SELECT status FROM blockbench_runs")]
    except sqlite3.OperationalError:  # tables not created yet
        return []
    finally:
        conn.close()


def board(stdout: str) -> dict:
    data = json.loads(stdout[stdout.index("{"):])
    data.pop("meta")  # when and by which command: differs by design
    return data


@pytest.mark.tf
@pytest.mark.slow
def test_kill_9_then_rerun_reuses_completed_runs_and_gives_the_same_leaderboard(tmp_path):
    env = plugin_env(tmp_path / "site")
    out = tmp_path / "killed"
    child = subprocess.Popen(blockbench_cmd(*TINY, "--out", str(out)), env=env, cwd=tmp_path,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    seen: list[str] = []
    # Kill once a run is complete and the next one is being trained.
    while time.monotonic() < deadline and child.poll() is None:
        seen = statuses(out / "blockbench.db")
        if "ok" in seen and "running" in seen:
            child.send_signal(signal.SIGKILL)
            break
        time.sleep(0.05)
    child.communicate(timeout=60)
    assert child.returncode == -signal.SIGKILL, "compare finished before it could be killed"
    with Store(out / "blockbench.db") as store:  # what the killed process left
        done_before = len(store.rows(status="ok"))
        interrupted = [r.run_hash for r in store.rows(status="running")]
    assert interrupted and done_before >= 1, seen

    again = subprocess.run(blockbench_cmd(*TINY, "--out", str(out)), env=env, cwd=tmp_path,
                           capture_output=True, text=True, timeout=400)
    assert again.returncode == 0, again.stderr[-3000:]
    summary = re.search(r"(\d+) trained, (\d+) reused", again.stderr)
    assert summary and int(summary.group(2)) >= done_before
    assert int(summary.group(1)) == 4 - done_before  # the rest, the interrupted run included
    with Store(out / "blockbench.db") as store:
        rows = {r.run_hash: r for r in store.rows()}
    assert len(rows) == 4 and all(r.status == "ok" and r.attempts == 1 for r in rows.values())
    assert all(rows[h].status == "ok" for h in interrupted)  # retrained from its start

    fresh = subprocess.run(blockbench_cmd(*TINY, "--out", str(tmp_path / "fresh")), env=env,
                           cwd=tmp_path, capture_output=True, text=True, timeout=400)
    assert fresh.returncode == 0, fresh.stderr[-3000:]
    assert board(again.stdout) == board(fresh.stdout)
    ranking = board(fresh.stdout)["ranking"]
    ranked = set(ranking["methods"]) | {m for group in ranking["merged"].values() for m in group}
    assert "policy:optuna-tpe" in ranked  # ranked, or merged with a method that picked the same runs

    import optuna  # the adaptive policy's study lives in the same database as the runs

    studies = optuna.get_all_study_summaries(storage=f"sqlite:///{out / 'blockbench.db'}")
    assert any(s.study_name.startswith("blockbench-optuna-tpe") for s in studies)
