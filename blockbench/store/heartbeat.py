"""Worker liveness: each process holding claims beats a heartbeat in the store.

A claim (on a run or a queued job) names its worker. The claim stands while
that worker's heartbeat is fresh; once it is older than ``stale_after``
seconds, or the worker's process is gone from this very machine (a
``kill -9`` followed by a rerun is noticed at once), anyone may take it over.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid

from sqlalchemy import Connection, Select, select

from blockbench.core.errors import BlockbenchError
from blockbench.store.database import Database
from blockbench.store.schema import workers

log = logging.getLogger(__name__)

#: Seconds without a heartbeat after which a worker counts as dead.
STALE_AFTER = 120.0
STALE_ENV = "BLOCKBENCH_STALE_AFTER"
#: Heartbeat of a worker whose process is known to be gone.
DEAD = 0.0


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


class Workers:
    """This process's worker identity and heartbeat, and the liveness of other workers.

    Args:
        db: the store's database.
        stale_after: seconds without a heartbeat before a worker counts as dead
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
        self.host, self.pid = socket.gethostname(), os.getpid()
        self.worker_id = f"{self.host}:{self.pid}:{uuid.uuid4().hex[:8]}"
        self._registered = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def register(self) -> str:
        """Make sure this process has a committed worker row (and a heartbeat); return its id.

        Registration commits before any claim, so a process that sees a claim
        also sees its worker.
        """
        if not self._registered or self._pid_changed():
            with self.db.transaction() as conn:
                self._upsert(conn, time.time())
            self._registered = True
            if self._thread is None:
                self._thread = threading.Thread(target=self._beat, name="blockbench-heartbeat",
                                                daemon=True)
                self._thread.start()
        return self.worker_id

    def live(self) -> Select[tuple[str]]:
        """Query of the workers whose heartbeat is fresh (to use inside a claim's statement)."""
        return select(workers.c.worker).where(workers.c.heartbeat >= time.time() - self.stale_after)

    def dead(self) -> Select[tuple[str]]:
        """Query of the workers known dead (see :meth:`reap_dead_local`)."""
        return select(workers.c.worker).where(workers.c.heartbeat == DEAD)

    def reap_dead_local(self, conn: Connection) -> None:
        """Mark dead the workers of this machine whose process is gone, so their claims fall now.

        Their rows stay (marked), so every process sees at once that they are dead.
        """
        rows = conn.execute(select(workers.c.worker, workers.c.pid).where(
            (workers.c.host == self.host) & (workers.c.heartbeat != DEAD))).all()
        dead = [r.worker for r in rows if r.pid != self.pid and not _pid_alive(r.pid)]
        if dead:
            conn.execute(workers.update().where(workers.c.worker.in_(dead)).values(heartbeat=DEAD))

    def holds(self, conn: Connection, worker_id: str | None) -> bool:
        """Whether a claim by ``worker_id`` stands: its worker is this process or still beats.

        Workers register (commit) before they claim, so a committed claim's worker is visible.
        """
        if worker_id is None:
            return False
        if worker_id == self.worker_id:
            return True
        return conn.execute(self.live().where(workers.c.worker == worker_id)).first() is not None

    def stop(self) -> None:
        """Stop beating and remove this worker's row (its claims become free at once)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._registered:
            try:
                with self.db.transaction() as conn:
                    conn.execute(workers.delete().where(workers.c.worker == self.worker_id))
            except BlockbenchError as exc:
                log.warning("could not unregister worker %s: %s", self.worker_id, exc)
            self._registered = False

    def _pid_changed(self) -> bool:
        # A forked child must not reuse its parent's identity.
        if os.getpid() != self.pid:
            self.pid = os.getpid()
            self.worker_id = f"{self.host}:{self.pid}:{uuid.uuid4().hex[:8]}"
            self._thread = None
            return True
        return False

    def _upsert(self, conn: Connection, now: float) -> None:
        updated = conn.execute(workers.update().where(workers.c.worker == self.worker_id)
                               .values(heartbeat=now)).rowcount
        if not updated:
            conn.execute(workers.insert().values(worker=self.worker_id, host=self.host,
                                                 pid=self.pid, started_at=now, heartbeat=now))

    def _beat(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                with self.db.transaction() as conn:
                    self._upsert(conn, time.time())
            except Exception as exc:  # a missed beat is retried; the claim only goes stale later
                log.warning("heartbeat of worker %s failed: %s", self.worker_id, exc)
