"""Record files: run and search records as JSON lines, read back with every line checked.

``runs.jsonl`` and ``searches.jsonl`` are what a results directory exports
(lossless, sorted keys); :func:`read_jsonl` reads them back, naming
``path:line`` for a line that is not a valid record; :func:`records_frame`
turns records into a pandas DataFrame.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from blockbench.core.errors import UsageError
from blockbench.core.files import describe_os_error, write_atomic
from blockbench.core.formats import RUN_RECORD, SEARCH_RECORD, FormatError
from blockbench.core.records import RunRecord, SearchRecord

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)


def jsonl_text(records: Iterable[RunRecord | SearchRecord]) -> str:
    """Records as JSON lines (sorted keys), the layout of ``runs.jsonl`` and ``searches.jsonl``."""
    return "".join(json.dumps(record.to_dict(), sort_keys=True) + "\n" for record in records)


def write_jsonl(
    records: Iterable[RunRecord | SearchRecord], path: str | os.PathLike[str], append: bool = True
) -> None:
    """Append records as JSON lines (fsynced), or replace the file with them atomically."""
    path = Path(path)
    if not append:
        write_atomic(path, jsonl_text(records), "records file")
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record.to_dict(), sort_keys=True) + "\n")
            handle.flush()
            os.fsync(handle.fileno())


def read_jsonl(path: str | os.PathLike[str], kind: type[Any] = RunRecord,
               on_bad: Callable[[str], None] | None = None) -> Iterator[Any]:
    """Read records of ``kind`` from a JSON-lines file, checking each against its format.

    A last line that is not JSON (a write cut short: a crash, or an older
    blockbench that appended) is skipped with a warning; any other bad line is
    a :class:`FormatError` naming ``path:line`` and what is wrong.

    Args:
        path: the file.
        kind: :class:`RunRecord` or :class:`SearchRecord`.
        on_bad: given, every bad line is skipped and its message passed to it
            instead (for a file about to be rewritten from the store).
    """
    path = Path(path)
    try:
        lines = path.read_bytes().split(b"\n")
    except FileNotFoundError:
        raise UsageError(f"records file {str(path)!r} does not exist") from None
    except IsADirectoryError:
        raise UsageError(f"records file {str(path)!r} is a directory, not a file") from None
    except OSError as exc:
        raise UsageError(f"cannot read {str(path)!r}: {describe_os_error(exc)}") from None
    last = max((i for i, line in enumerate(lines, 1) if line.strip()), default=0)
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            data = json.loads(raw.decode("utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "not UTF-8 text"
            message = f"{path}:{number}: not a JSON {kind_title(kind)} ({reason})"
            if on_bad is not None:
                on_bad(message)
            elif number == last:
                log.warning("%s:%d: skipped a cut-short last line (an interrupted write); "
                            "the %d line(s) before it are read", path, number, number - 1)
            else:
                raise FormatError(message) from None
            continue
        try:
            record = kind.from_dict(data)
        except FormatError as exc:
            if on_bad is None:
                raise FormatError(f"{path}:{number}: {exc}") from None
            on_bad(f"{path}:{number}: {exc}")
            continue
        yield record


def kind_title(kind: type[Any]) -> str:
    """What a record class is called in messages ("run record")."""
    return SEARCH_RECORD.title if kind is SearchRecord else RUN_RECORD.title


def merge_runs(records: Iterable[RunRecord]) -> list[RunRecord]:
    """One record per run hash: a successful one wins over a failure, a later one over an earlier."""
    runs: dict[str, RunRecord] = {}
    for record in records:
        if record.ok or record.run_hash not in runs or not runs[record.run_hash].ok:
            runs[record.run_hash] = record
    return list(runs.values())


def records_frame(records: Iterable[RunRecord]) -> pd.DataFrame:
    """One row per record (see :meth:`RunRecord.to_row`)."""
    import pandas as pd

    return pd.DataFrame([r.to_row() for r in records])


#: File names inside a results directory (``compare --out DIR``).
RUNS_FILE = "runs.jsonl"
RUNS_CSV = "runs.csv"
SEARCHES_FILE = "searches.jsonl"
