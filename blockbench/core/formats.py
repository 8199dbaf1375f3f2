"""The JSON formats blockbench writes and reads, their versions, and their upgrades.

Each :class:`Format` names one kind of document (a run record, a search
record, a leaderboard, a replay report), its current version, and one upgrade
function per version step, after asv's ``update_to_N``: a document of an older
version ``N`` is upgraded by the steps ``N -> N+1 -> ... -> current``, in
order, when it is loaded. A document of a newer version is refused (the fix is
a newer blockbench), and so is one of another kind, or without its marker.

To change a format: bump its ``version`` below, write the new layout, and
register the step that turns a document of the previous version into one of
the new version (the step need not set the version key; :meth:`Format.upgrade`
does)::

    @RUN_RECORD.step(1)
    def _run_record_1_to_2(doc: dict[str, Any]) -> dict[str, Any]:
        doc["new_field"] = None  # what a version-1 record meant
        return doc

The store's *database* layout has its own, in-place migrations
(:data:`blockbench.store.schema.MIGRATIONS`); the records inside it are
upgraded here, when read.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from blockbench import __version__
from blockbench.core.errors import UsageError

Document = dict[str, Any]
Step = Callable[[Document], Document]


class FormatError(UsageError):
    """A document that is not of the expected format, or of a version this blockbench cannot read."""


def _json_type(value: Any) -> str:
    names = {list: "list", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


class Format:
    """One kind of JSON document blockbench writes, and how to read every version of it.

    A document is recognised by ``name_key: name`` (leaderboards, replay
    reports) or, for formats without a name, by the presence of ``keys`` (run
    and search records, whose layout predates the name marker).

    Attributes:
        title: what the document is called in messages ("run record").
        version: the version blockbench writes today.
        version_key: the key holding a document's version.
        name: the value of ``name_key`` that marks the kind, or None.
        name_key: the key holding the kind's name.
        keys: keys every document of this kind has, besides the version key.
    """

    def __init__(self, title: str, version: int, *, version_key: str, name: str | None = None,
                 name_key: str = "format", keys: tuple[str, ...] = ()) -> None:
        self.title, self.version, self.version_key = title, version, version_key
        self.name, self.name_key, self.keys = name, name_key, keys
        self._steps: dict[int, Step] = {}

    def __repr__(self) -> str:
        return f"Format({self.title!r}, version={self.version})"

    def step(self, from_version: int) -> Callable[[Step], Step]:
        """Register the upgrade of a document from ``from_version`` to ``from_version + 1``."""
        if not 1 <= from_version < self.version:
            raise ValueError(f"{self.title}: no step from version {from_version} "
                             f"(versions 1..{self.version})")
        if from_version in self._steps:
            raise ValueError(f"{self.title}: the step from version {from_version} is registered twice")

        def register(function: Step) -> Step:
            self._steps[from_version] = function
            return function
        return register

    @property
    def oldest(self) -> int:
        """The oldest version that unbroken steps lead from to the current one."""
        version = self.version
        while version - 1 in self._steps:
            version -= 1
        return version

    def marker(self) -> Document:
        """The keys that mark a document of the current version, to put first in it."""
        head: Document = {self.name_key: self.name} if self.name else {}
        head[self.version_key] = self.version
        return head

    def matches(self, document: Any) -> bool:
        """Whether ``document`` is of this kind (whatever its version)."""
        if not isinstance(document, Mapping):
            return False
        if self.name is not None:
            return document.get(self.name_key) == self.name
        return all(k in document for k in (*self.keys, self.version_key))

    def upgrade(self, document: Any, source: str = "") -> Document:
        """The document in the current version, upgraded step by step if it is older.

        Args:
            document: the parsed JSON.
            source: where it came from (a path, ``path:line``), to start messages with.

        Returns:
            ``document`` itself when it is current, else an upgraded copy.

        Raises:
            FormatError: not of this kind, no valid version, a newer version,
                or a version older than any step reaches.
        """
        where = f"{source}: " if source else ""
        self._check_kind(document, where)
        label = f"{self.title} {self.version_key.replace('_', ' ')}"
        if self.version_key not in document:
            raise FormatError(f"{where}{self.title} has no {self.version_key!r}; expected a version "
                              f"from 1 to {self.version}")
        found = document[self.version_key]
        if isinstance(found, bool) or not isinstance(found, int) or found < 1:
            raise FormatError(f"{where}{label} {found!r} is not valid; expected a version "
                              f"from 1 to {self.version}")
        if found > self.version:
            raise FormatError(f"{where}{label} {found} is not supported by blockbench {__version__}, "
                              f"which reads up to version {self.version}: upgrade blockbench to read it")
        if found < self.oldest:
            raise FormatError(f"{where}{label} {found} is too old for blockbench {__version__}, "
                              f"which upgrades versions {self.oldest} to {self.version}")
        if found == self.version:
            return document if isinstance(document, dict) else dict(document)
        upgraded: Document = copy.deepcopy(dict(document))
        for version in range(found, self.version):
            upgraded = self._steps[version](upgraded)
            upgraded[self.version_key] = version + 1
        return upgraded

    def _check_kind(self, document: Any, where: str) -> None:
        if not isinstance(document, Mapping):
            raise FormatError(f"{where}not a {self.title} (expected a JSON object, "
                              f"found a {_json_type(document)})")
        if self.matches(document):
            return
        other = identify(document)
        if other is not None:
            raise FormatError(f"{where}not a {self.title}: it is a {other.title}")
        if self.name is not None:
            found = (f"{self.name_key!r}: {document[self.name_key]!r}" if self.name_key in document
                     else f"no {self.name_key!r} key")
            raise FormatError(f"{where}not a {self.title} ({found}; expected "
                              f"{self.name_key!r}: {self.name!r})")
        missing = ", ".join(repr(k) for k in (*self.keys, self.version_key) if k not in document)
        raise FormatError(f"{where}not a {self.title} (it has no {missing})")


RUN_RECORD = Format("run record", 3, version_key="schema_version", keys=("spec", "status"))
SEARCH_RECORD = Format("search record", 1, version_key="schema_version", keys=("policy", "pick"))
LEADERBOARD = Format("blockbench leaderboard", 3, version_key="format_version",
                     name="blockbench-leaderboard")
REPLAY_REPORT = Format("blockbench replay report", 1, version_key="format_version",
                       name="blockbench-replay")


@RUN_RECORD.step(1)
def _run_record_1_to_2(doc: Document) -> Document:
    # Version 2 keeps which examples each run predicted right; version 1 did not.
    doc["val_correct"] = doc["test_correct"] = None
    return doc


@RUN_RECORD.step(2)
def _run_record_2_to_3(doc: Document) -> Document:
    # Version 3 records the Keras backend (in the identity) and its version (beside it); every
    # run before was trained on TensorFlow, of a version nobody wrote down.
    spec = doc.get("spec")
    if isinstance(spec, dict):
        spec.setdefault("backend", "tensorflow")
    doc["backend_version"] = None
    return doc


@LEADERBOARD.step(1)
def _leaderboard_1_to_2(doc: Document) -> Document:
    # Version 2 compares methods with the crossed seed x example test; a version-1 comparison
    # kept its noise-band verdict, carried over and labelled as such.
    for table in doc.get("tables", []):
        for c in table.get("comparisons", []):
            p = c.pop("paired", {}) or {}
            c["test"] = {"n_seeds": p.get("n", 0), "n_examples": 0, "diff": p.get("mean_diff"),
                         "ci_low": p.get("diff_ci_low"), "ci_high": p.get("diff_ci_high"),
                         "df": None, "p": p.get("t_p"), "verdict": c.get("verdict", "unknown"),
                         "method": "version-1 noise band",
                         "note": "from a version-1 leaderboard: recompute it for the crossed test"}
            for key in ("se_test", "se_seeds", "band"):
                c.pop(key, None)
            c.setdefault("family", "primary" if c.get("method") == "bopt" else "secondary")
            c.setdefault("p_holm", p.get("t_p_holm") if c["family"] == "primary" else None)
    return doc


@LEADERBOARD.step(2)
def _leaderboard_2_to_3(doc: Document) -> Document:
    # Version 3 gives each table a decision (which block to fine-tune); a version-2 leaderboard
    # made none, and its tables keep the per-seed data needed to make one only in the run records.
    for table in doc.get("tables", []):
        if isinstance(table, dict):
            table.setdefault("decision", None)
    return doc


#: Every format blockbench writes; named formats first, so a marker wins over a guess by keys.
FORMATS: tuple[Format, ...] = (LEADERBOARD, REPLAY_REPORT, RUN_RECORD, SEARCH_RECORD)


def identify(document: Any) -> Format | None:
    """The blockbench format ``document`` is of, or None."""
    return next((f for f in FORMATS if f.matches(document)), None)


def read_json(path: str | os.PathLike[str], what: str) -> Any:
    """Parse the JSON file ``path``; a missing or unparsable file is one line naming ``what``."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{what} {str(path)!r} does not exist") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise FormatError(f"{path}: not a JSON {what} ({exc})") from None
