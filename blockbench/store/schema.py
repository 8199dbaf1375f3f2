"""Tables of the results store, and the check of the store's schema version.

The tables carry a ``blockbench_`` prefix so they can share one database
with Optuna's own tables (``studies``, ``trials``...): one storage URL holds
the run records and the policies' Optuna studies alike.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import (
    Column,
    Connection,
    Float,
    Integer,
    MetaData,
    String,
    Text,
    inspect,
    select,
    text,
)
from sqlalchemy import Table as SqlTable

from blockbench import __version__
from blockbench.core.errors import BlockbenchError

log = logging.getLogger(__name__)

#: Layout of the store's tables; bump with a migration in :data:`MIGRATIONS`.
STORE_SCHEMA_VERSION = 2

metadata = MetaData()

meta = SqlTable(
    "blockbench_meta", metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

#: One row per run identity: its record once finished, its claim while being trained
#: (``worker`` is the claimer, ``updated_at`` the claim's heartbeat).
runs = SqlTable(
    "blockbench_runs", metadata,
    Column("run_hash", String(64), primary_key=True),
    Column("status", String(16), nullable=False, index=True),  # running | ok | failed
    Column("spec", Text, nullable=False),
    Column("record", Text),  # RunRecord JSON of the last finished attempt
    Column("schema_version", Integer),  # of the record
    Column("blockbench_version", String(32)),
    Column("backbone", String(128), index=True),
    Column("dataset", String(128), index=True),
    Column("target", String(32)),
    Column("seed", Integer),
    Column("error", Text),
    Column("attempts", Integer, nullable=False, default=0),  # finished trainings
    Column("failures", Integer, nullable=False, default=0),
    Column("worker", String(128)),  # claimed by, while running
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

searches = SqlTable(
    "blockbench_searches", metadata,
    Column("search_key", String(64), primary_key=True),
    Column("study", String(128), index=True),
    Column("record", Text, nullable=False),
    Column("schema_version", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
)

#: Tables of the job queue that ``compare --detach`` and ``blockbench worker`` used (schema 1).
_QUEUE_TABLES = ("blockbench_jobs", "blockbench_studies", "blockbench_workers")


def _drop_job_queue(conn: Connection, where: str) -> None:
    """Schema 1 to 2: drop the retired job queue's tables; runs and searches stay as they are."""
    names = set(inspect(conn).get_table_names())
    if "blockbench_jobs" in names:
        left = conn.execute(text("SELECT study, COUNT(*) FROM blockbench_jobs WHERE status <> 'done' "
                                 "GROUP BY study ORDER BY study")).all()
        if left:
            log.warning("store %s: dropped %d unfinished jobs of the retired job queue (studies %s); "
                        "the completed runs are kept in the store, and re-running the same "
                        "'blockbench compare' (optionally with --executor ray) finishes them",
                        where, sum(int(n) for _, n in left), ", ".join(str(s) for s, _ in left))
    for name in _QUEUE_TABLES:
        if name in names:
            conn.execute(text(f"DROP TABLE {name}"))


#: ``MIGRATIONS[v]`` upgrades a store from schema ``v`` to ``v + 1`` in place.
MIGRATIONS: dict[int, Callable[[Connection, str], None]] = {1: _drop_job_queue}


def ensure_schema(conn: Connection, where: str) -> None:
    """Create the tables of a new store, migrate an older one, refuse one we cannot read.

    Args:
        conn: a connection inside a transaction.
        where: the store, masked, for messages.
    """
    names = set(inspect(conn).get_table_names())
    ours = {t.name for t in metadata.sorted_tables}
    if meta.name not in names:
        if names & ours:
            raise BlockbenchError(f"store {where} has blockbench tables but no schema version; "
                                  "it was not written by blockbench or is damaged")
        metadata.create_all(conn)
        conn.execute(meta.insert().values(key="schema_version", value=str(STORE_SCHEMA_VERSION)))
        return
    row = conn.execute(select(meta.c.value).where(meta.c.key == "schema_version")).first()
    try:
        version = int(row[0]) if row else None
    except ValueError:
        version = None
    if version is None:
        raise BlockbenchError(f"store {where} has no readable schema version; it is damaged")
    if version > STORE_SCHEMA_VERSION:
        raise BlockbenchError(
            f"store {where} was written by a newer blockbench (store schema {version}); "
            f"blockbench {__version__} reads schema {STORE_SCHEMA_VERSION} at most: upgrade blockbench")
    while version < STORE_SCHEMA_VERSION:
        if version not in MIGRATIONS:
            raise BlockbenchError(
                f"store {where} has schema {version}, which blockbench {__version__} cannot migrate "
                f"to schema {STORE_SCHEMA_VERSION}; export it with the blockbench that wrote it "
                "('blockbench runs --format json') or use a new store")
        MIGRATIONS[version](conn, where)
        version += 1
        conn.execute(meta.update().where(meta.c.key == "schema_version").values(value=str(version)))
    metadata.create_all(conn, checkfirst=True)
