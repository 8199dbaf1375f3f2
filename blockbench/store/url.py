"""Storage URLs: which database holds the run records, and keeping its password secret.

One URL names the store: ``sqlite:///path/blockbench.db`` (embedded, the
default, inside the results directory) or ``postgresql://user:pw@host/db``
for teams and clusters. A bare file path means SQLite. Every URL shown to a
person goes through :func:`mask_url`, and any text that may quote one goes
through :func:`mask_secrets`, so a password never reaches output, logs,
records or leaderboards.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from blockbench.core.errors import UsageError

#: Environment variable read when ``--storage`` is not given (keeps a password out of ``ps``).
STORAGE_ENV = "BLOCKBENCH_STORAGE"
#: File name of the default SQLite store inside a results directory.
DEFAULT_DB = "blockbench.db"

_SCHEMES = {"sqlite": "sqlite", "postgresql": "postgresql", "postgres": "postgresql"}
# user:password@ in any URL-like text; the password stops at the last '@' before the host.
_CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^\s]*)@")


def default_storage(results_dir: str | os.PathLike[str]) -> str:
    """The SQLite store of a results directory."""
    return sqlite_url(Path(results_dir) / DEFAULT_DB)


def sqlite_url(path: str | os.PathLike[str]) -> str:
    return f"sqlite:///{Path(path).expanduser().resolve()}"


def normalize_url(storage: str | os.PathLike[str]) -> str:
    """Validate ``storage`` and return it as a SQLAlchemy URL.

    Raises:
        UsageError: the URL's scheme is not SQLite or PostgreSQL, or it names no database.
    """
    text = str(storage).strip()
    if "://" not in text:
        if not text:
            raise UsageError("empty storage URL; use sqlite:///PATH.db or postgresql://USER@HOST/DB")
        return sqlite_url(text)
    scheme, rest = text.split("://", 1)
    backend, _, driver = scheme.lower().partition("+")
    if backend not in _SCHEMES:
        raise UsageError(f"storage URL scheme {scheme!r} is not supported; use sqlite:///PATH.db "
                         "or postgresql://USER:PASSWORD@HOST[:PORT]/DATABASE")
    backend = _SCHEMES[backend]
    if backend == "sqlite":
        path = rest[1:] if rest.startswith("/") else rest
        if not path or path == ":memory:":
            raise UsageError(f"storage URL {text!r} names no file; use sqlite:///PATH.db "
                             "(an in-memory database cannot be shared or resumed)")
        return sqlite_url(path)
    from sqlalchemy.engine import make_url

    url = make_url(f"{backend}+{driver or _postgres_driver()}://{rest}")
    if not url.database:
        raise UsageError(f"storage URL {mask_url(text)!r} names no database; "
                         "use postgresql://USER:PASSWORD@HOST[:PORT]/DATABASE")
    return url.render_as_string(hide_password=False)


def _postgres_driver() -> str:
    """psycopg2 (the ``postgres`` extra) if installed, else psycopg 3 if installed."""
    import importlib.util

    if importlib.util.find_spec("psycopg2") is None and importlib.util.find_spec("psycopg"):
        return "psycopg"
    return "psycopg2"


def driver_of(url: str) -> str | None:
    """The DBAPI module a URL names (``postgresql+psycopg2://`` -> ``psycopg2``)."""
    scheme = url.split("://", 1)[0]
    return scheme.split("+", 1)[1] if "+" in scheme else None


def backend_of(url: str) -> str:
    """``"sqlite"`` or ``"postgresql"``."""
    return _SCHEMES[url.split("://", 1)[0].split("+", 1)[0].lower()]


def sqlite_path(url: str) -> Path:
    """The file of a ``sqlite:///`` URL."""
    return Path(url.split("://", 1)[1][1:])


def mask_url(url: str) -> str:
    """``url`` with its password replaced by ``***``."""
    return mask_secrets(url)


def mask_secrets(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Hide URL passwords in ``text``, and any of ``secrets`` that occurs literally."""
    masked = _CREDENTIALS.sub(lambda m: f"{m['scheme']}{m['user']}:***@", text)
    for secret in secrets:
        if secret:
            masked = masked.replace(secret, "***")
    return masked


def password_of(url: str) -> str | None:
    """The (decoded) password of ``url``, to scrub it from error messages that quote it."""
    if "://" not in url or backend_of(url) == "sqlite":
        return None
    from sqlalchemy.engine import make_url

    password = make_url(url).password
    return str(password) if password else None


def scrub(value: Any, secrets: tuple[str, ...] = ()) -> Any:
    """A copy of a JSON-like value with every string passed through :func:`mask_secrets`."""
    if isinstance(value, str):
        return mask_secrets(value, secrets)
    if isinstance(value, Mapping):
        return {k: scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub(v, secrets) for v in value]
    return value
