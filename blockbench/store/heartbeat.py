"""Liveness of run claims: the claiming process keeps its claimed rows fresh.

A claimed run's row names its claimer (``host:pid:uuid8``) in ``worker``, and
its ``updated_at`` is the claim's heartbeat: the claiming process refreshes the
``updated_at`` of all its running rows every ``min(15, stale_after / 4)``
seconds. The claim stands while that heartbeat is younger than ``stale_after``
seconds, unless its process is gone from this very machine (a ``kill -9``
followed by a rerun is noticed at once); then anyone may take it over.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid

from sqlalchemy import and_

from blockbench.core.errors import BlockbenchError
from blockbench.store.database import Database
from blockbench.store.schema import runs

log = logging.getLogger(__name__)

#: Seconds without a heartbeat after which a claim counts as abandoned.
STALE_AFTER = 120.0
STALE_ENV = "BLOCKBENCH_STALE_AFTER"
RUNNING = "running"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


class ClaimKeeper:
    """This process's claimer id, the heartbeat of its claims, and the liveness of others'.

    Safe to use from several threads: the id and the heartbeat thread are
    guarded by a lock.

    Args:
        db: the store's database.
        stale_after: seconds without a heartbeat before a claim counts as abandoned
            (default: ``$BLOCKBENCH_STALE_AFTER`` or 120).
    """

    def __init__(self, db: Database, stale_after: float | None = None) -> None:
        if stale_after is None:
            try:
                stale_after = float(os.environ.get(STALE_ENV, STALE_AFTER))
            except ValueError:
                raise BlockbenchError(f"{STALE_ENV}={os.environ[STALE_ENV]!r} is not a number "
                                      "of seconds") from None
        if stale_after <= 0:
            raise BlockbenchError(f"stale-after must be positive seconds, got {stale_after}")
        self.db, self.stale_after = db, stale_after
        self.interval = min(15.0, stale_after / 4)
        self.host = socket.gethostname()
        self._new_identity()

    def _new_identity(self) -> None:
        self.pid = os.getpid()
        self._id = f"{self.host}:{self.pid}:{uuid.uuid4().hex[:8]}"
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def worker_id(self) -> str:
        """This process's claimer id (a forked child gets its own)."""
        if os.getpid() != self.pid:  # a forked child holds none of its parent's claims or threads
            self._new_identity()
        return self._id

    def start(self) -> str:
        """Make sure the heartbeat thread runs (called before a claim); return the claimer id."""
        me = self.worker_id
        with self._lock:
            if self._thread is None:
                self._stop = threading.Event()  # a thread stopped late must not beat on
                self._thread = threading.Thread(target=self._beat, args=(me, self._stop),
                                                name="blockbench-claims", daemon=True)
                self._thread.start()
        return me

    @property
    def started(self) -> bool:
        """Whether this process has claimed anything (its heartbeat runs)."""
        with self._lock:
            return self._thread is not None and os.getpid() == self.pid

    def holds(self, worker: str | None, updated_at: float) -> bool:
        """Whether a running row claimed by ``worker`` and last refreshed at ``updated_at`` stands."""
        if worker is None:
            return False
        if worker == self.worker_id:
            return True
        host, _, rest = worker.partition(":")
        pid = rest.partition(":")[0]
        if host == self.host and pid.isdigit() and int(pid) != self.pid and not _pid_alive(int(pid)):
            return False
        return updated_at >= time.time() - self.stale_after

    def stop(self) -> None:
        """Stop the heartbeat thread (the store then releases what this process still holds)."""
        with self._lock:
            thread, self._thread = self._thread, None
            self._stop.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    def _beat(self, me: str, stop: threading.Event) -> None:
        mine = and_(runs.c.status == RUNNING, runs.c.worker == me)
        while not stop.wait(self.interval):
            try:
                with self.db.transaction() as conn:
                    conn.execute(runs.update().where(mine).values(updated_at=time.time()))
            except Exception as exc:  # a missed beat is retried; the claim only goes stale later
                log.warning("heartbeat of the claims of %s failed: %s", me, exc)
