"""A real PostgreSQL server on loopback for the store's tests, or a clear reason to skip.

``$BLOCKBENCH_TEST_POSTGRES_URL`` (set by ``.ci/run``) names a running server;
otherwise a throw-away server is started from the ``initdb``/``pg_ctl`` found
on this machine (as the ``postgres`` user when running as root). Each use gets
a fresh database, with a password, so tests can check it never leaks.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

URL_ENV = "BLOCKBENCH_TEST_POSTGRES_URL"
PASSWORD = "pw-Never-Printed-7c1"


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def _own_server() -> Iterator[str]:
    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    if not (initdb and pg_ctl):
        pytest.skip(f"no PostgreSQL server: set {URL_ENV} or install PostgreSQL "
                    "(apt-get install postgresql) so the test can start one on loopback")
    prefix: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="bb-pg-"))
    if os.geteuid() == 0:  # initdb refuses to run as root
        runuser = shutil.which("runuser")
        try:
            shutil.chown(root, user="postgres")
        except (LookupError, PermissionError):
            runuser = None
        if runuser is None:
            shutil.rmtree(root, ignore_errors=True)
            pytest.skip("running as root without a 'postgres' user and runuser: cannot start "
                        f"PostgreSQL; set {URL_ENV}")
        prefix = [runuser, "-u", "postgres", "--"]
    (root / "pw").write_text(PASSWORD)
    if prefix:
        shutil.chown(root / "pw", user="postgres")
    port = _free_port()
    data = root / "data"
    try:
        subprocess.run([*prefix, initdb, "-D", str(data), "-U", "bb", f"--pwfile={root / 'pw'}",
                        "-A", "scram-sha-256", "--no-sync"], check=True, capture_output=True,
                       timeout=120)
        subprocess.run([*prefix, pg_ctl, "-D", str(data), "-l", str(root / "log"), "-w", "-o",
                        f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off",
                        "start"], check=True, capture_output=True, timeout=120)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"could not start PostgreSQL on loopback ({exc}); set {URL_ENV}")
    try:
        yield f"postgresql://bb:{PASSWORD}@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*prefix, pg_ctl, "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True, timeout=120)
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """A URL of a fresh, empty database on a real server (skips the test when there is none)."""
    pytest.importorskip("psycopg2", reason="PostgreSQL tests need psycopg2 (the postgres extra)")
    import psycopg2
    from sqlalchemy.engine import make_url

    given = os.environ.get(URL_ENV)
    with contextlib.ExitStack() as stack:
        server = given or stack.enter_context(_own_server())
        url = make_url(server)
        name = f"bb_test_{uuid.uuid4().hex[:10]}"
        admin = psycopg2.connect(host=url.host, port=url.port, user=url.username,
                                 password=url.password, dbname=url.database or "postgres")
        admin.autocommit = True
        with admin.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {name}")
        try:
            yield url.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.cursor() as cursor:
                cursor.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            admin.close()
