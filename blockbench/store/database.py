"""Connecting to the store's database: engines, transactions and one-line errors.

SQLite runs in WAL mode with a busy timeout and takes the write lock when a
transaction begins (``BEGIN IMMEDIATE``), so concurrent writers wait for each
other instead of failing, and a claim read-then-update is atomic. PostgreSQL
claims use row locks (``SELECT ... FOR UPDATE [SKIP LOCKED]``).
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError

from blockbench.core.errors import BlockbenchError, UsageError
from blockbench.core.files import check_file, make_directory
from blockbench.store.url import (
    backend_of,
    driver_of,
    mask_secrets,
    mask_url,
    password_of,
    sqlite_path,
)

log = logging.getLogger(__name__)

#: Seconds a SQLite writer waits for another one before giving up.
BUSY_TIMEOUT = 60.0


class Database:
    """A SQLAlchemy engine on a storage URL whose errors become one clear line.

    Args:
        url: a normalised storage URL (see :func:`blockbench.store.url.normalize_url`).
        busy_timeout: seconds a SQLite writer waits for the lock.
    """

    def __init__(self, url: str, busy_timeout: float = BUSY_TIMEOUT) -> None:
        self.url = url
        self.display = mask_url(url)
        self.backend = backend_of(url)
        self.busy_timeout = busy_timeout
        self._secrets = tuple(p for p in (password_of(url),) if p)
        self.engine = self._create_engine()

    def _create_engine(self) -> Engine:
        if self.backend == "sqlite":
            path = sqlite_path(self.url)
            check_file(path, "store")
            make_directory(path.parent, "directory of the store")
            engine = create_engine(self.url, connect_args={"timeout": self.busy_timeout})
            timeout_ms = int(self.busy_timeout * 1000)

            @event.listens_for(engine, "connect")
            def _connect(dbapi_conn: Any, _record: Any) -> None:
                # Let SQLAlchemy's "begin" event, not pysqlite, decide how transactions start.
                dbapi_conn.isolation_level = None
                cursor = dbapi_conn.cursor()
                cursor.execute(f"PRAGMA busy_timeout = {timeout_ms}")
                cursor.execute("PRAGMA journal_mode = WAL")
                cursor.execute("PRAGMA synchronous = NORMAL")
                cursor.close()

            @event.listens_for(engine, "begin")
            def _begin(conn: Connection) -> None:
                conn.exec_driver_sql("BEGIN IMMEDIATE")

            return engine
        driver = driver_of(self.url) or "psycopg2"
        if importlib.util.find_spec(driver) is None:
            raise BlockbenchError(f"PostgreSQL storage needs the {driver} module: "
                                  "pip install 'blockbench[postgres]'")
        return create_engine(self.url, pool_pre_ping=True, pool_size=2,
                             connect_args={"connect_timeout": 15, "application_name": "blockbench"})

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A connection in a transaction, committed on success; database errors become one line."""
        with self.errors(), self.engine.begin() as conn:
            yield conn

    def lock_schema(self, conn: Connection) -> None:
        """Serialise schema creation between processes (SQLite's BEGIN IMMEDIATE already does)."""
        if self.backend == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(7291834501)"))

    @contextlib.contextmanager
    def errors(self) -> Iterator[None]:
        try:
            yield
        except IntegrityError:
            raise  # a lost insert race: the caller retries
        except SQLAlchemyError as exc:
            message = self.describe(exc)
            # A store file that cannot be opened or written is a path the user gave: usage.
            kind = UsageError if message.startswith("cannot write store") else BlockbenchError
            raise kind(message) from None

    def describe(self, exc: SQLAlchemyError) -> str:
        """One line saying what went wrong with the store, with any password masked."""
        orig = exc.orig if isinstance(exc, DBAPIError) else exc
        detail = " ".join(str(orig).split()) or type(orig).__name__
        detail = mask_secrets(detail, self._secrets)[:300]
        low = detail.lower()
        if self.backend == "sqlite":
            if "not a database" in low or "malformed" in low or "corrupt" in low:
                return (f"store {self.display} is not a readable SQLite database ({detail}); "
                        "move the file aside or choose another --storage")
            if "locked" in low or "busy" in low:
                return (f"store {self.display} is locked by another process "
                        f"(waited {self.busy_timeout:g}s: {detail}); retry when it is done")
            if "unable to open" in low or "readonly" in low or "read-only" in low:
                return f"cannot write store {self.display} ({detail}); check the path and permissions"
        elif "connect" in low or (isinstance(exc, DBAPIError) and exc.connection_invalidated):
            return f"cannot connect to store {self.display}: {detail}"
        return f"store {self.display} failed: {type(orig).__name__}: {detail}"

    def dispose(self) -> None:
        self.engine.dispose()
