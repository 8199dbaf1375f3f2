"""Typed settings on pydantic, and the one line a bad value becomes.

Settings and hyper-parameters are pydantic models (:class:`StrictModel`):
strict types (a whole number is never silently truncated, a string never
parsed), ranges, the valid values of enumerations, and unknown keys refused.
Each field's ``description`` says what is valid. :func:`validate` turns
pydantic's multi-line :class:`~pydantic.ValidationError` into a one-line
:class:`~blockbench.core.errors.UsageError` that names where the value came
from (a :class:`Source`: a file and its section, a preset, a flag), the bad
value and what would be valid.

Importing pydantic costs tens of milliseconds: only the command and engine
paths import this module (``blockbench --help`` and ``list`` do not).
"""

from __future__ import annotations

import json
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.fields import FieldInfo

from blockbench.core.errors import UsageError, suggest

Model = TypeVar("Model", bound=BaseModel)


class StrictModel(BaseModel):
    """A settings model: strict types, unknown keys refused, each field describing what is valid.

    Attributes:
        noun: what one of its keys is called in messages ("setting", "hyper-parameter").
    """

    model_config = ConfigDict(strict=True, extra="forbid")
    noun: ClassVar[str] = "setting"


def one_of(values: Iterable[str]) -> str:
    """The description of an enumeration: ``one of a, b, c``."""
    return "one of " + ", ".join(values)


@dataclass(frozen=True)
class Source:
    """Where values came from, so that a bad one is named as the user wrote it.

    Attributes:
        name: a file ("bench.toml"), a preset ("preset 'demo'") or what the
            values are ("hyper-parameter"); used for keys that no flag gives.
        flags: for the command line, the flag of each field path: ``{"seeds":
            "--seeds", "split.seed": "--split-seed", "hparams": "--hparam"}``; a
            flag given for a section takes ``KEY=VALUE``.
    """

    name: str
    flags: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def file(cls, path: object) -> Source:
        return cls(str(path))

    def where(self, path: Sequence[str]) -> str:
        """The place of a section or key: ``bench.toml [hparams] epochs`` or ``--hparam``."""
        flag, rest = self._flag(path)
        if flag is not None:
            return f"{flag} {'.'.join(rest)}".strip()
        if not path:
            return self.name
        section = f" [{'.'.join(path[:-1])}]" if len(path) > 1 else ""
        return f"{self.name}{section} {path[-1]}"

    def show(self, path: Sequence[str], value: Any) -> str:
        """A value at its place as written: ``--hparam epochs=2.5``, ``bench.toml seeds = 1.5``."""
        flag, rest = self._flag(path)
        if flag is not None:
            text = value if isinstance(value, str) else toml_value(value)
            return f"{flag} {'.'.join(rest)}={text}" if rest else f"{flag} {text}"
        return f"{self.where(path)} = {toml_value(value)}"

    def section(self, path: Sequence[str]) -> str:
        """A section (``bench.toml [hparams]``, ``--hparam``) or the whole source."""
        flag, _ = self._flag(path)
        if flag is not None:
            return flag
        return f"{self.name} [{'.'.join(path)}]" if path else self.name

    def _flag(self, path: Sequence[str]) -> tuple[str | None, list[str]]:
        for cut in range(len(path), 0, -1):
            flag = self.flags.get(".".join(path[:cut]))
            if flag is not None:
                return flag, list(path[cut:])
        return None, list(path)


def toml_value(value: Any) -> str:
    """``value`` spelled as in a TOML file: ``"two"``, ``true``, ``[0.7, 0.3]``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, (str, dict)):
        return json.dumps(value, default=str)
    return repr(value)


def validate(model: type[Model], values: Mapping[str, Any], source: Source) -> Model:
    """``model.model_validate(values)``; a bad value is a one-line :class:`UsageError`."""
    try:
        return model.model_validate(dict(values))
    except ValidationError as exc:
        raise usage_error(exc, model, source, values) from None


def usage_error(exc: ValidationError, model: type[BaseModel], source: Source,
                values: Mapping[str, Any] | None = None) -> UsageError:
    """The first of pydantic's errors as one line: where, the bad value, and what is valid.

    Args:
        exc: what pydantic raised.
        model: the model validated.
        source: where the values came from.
        values: the values validated; a bad item is shown with its whole list.
    """
    error = exc.errors(include_url=False)[0]
    loc = [str(part) for part in error["loc"]]
    if error["type"] == "extra_forbidden":
        parent = _section(model, loc[:-1])
        known = sorted(parent.model_fields) if parent is not None else []
        noun = getattr(parent, "noun", "setting")
        close = suggest(loc[-1], known)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        return UsageError(f"unknown {noun} {loc[-1]!r} in {source.section(loc[:-1])}.{hint} "
                          f"Valid: {', '.join(known)}.")
    info, path = _field(model, loc)
    valid = info.description if info is not None and info.description else \
        error["msg"][0].lower() + error["msg"][1:]
    value = _lookup(values, path, error["input"])
    return UsageError(f"{source.show(path, value)} is not valid; use {valid}")


def _lookup(values: Mapping[str, Any] | None, path: Sequence[str], default: Any) -> Any:
    node: Any = values
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return default
        node = node[key]
    return node


def _section(model: type[BaseModel], loc: Sequence[str]) -> type[BaseModel] | None:
    """The model of the section ``loc`` names (None: not a section of ``model``)."""
    current: type[BaseModel] | None = model
    for part in loc:
        fields = current.model_fields if current is not None else {}
        current = _model_of(fields[part]) if part in fields else None
    return current


def _field(model: type[BaseModel], loc: Sequence[str]) -> tuple[FieldInfo | None, list[str]]:
    """The field ``loc`` points into and its key path (a dict's key kept, union tags dropped)."""
    current: type[BaseModel] | None = model
    info: FieldInfo | None = None
    path: list[str] = []
    for i, part in enumerate(loc):
        if current is not None and part in current.model_fields:
            info = current.model_fields[part]
            path.append(part)
            current = _model_of(info)
        elif current is None and info is not None and _is_table(info) and i == len(path):
            path.append(part)  # a key of a free-form table, e.g. [policy_options] random
            break
        else:
            break
    return info, path


def _model_of(info: FieldInfo) -> type[BaseModel] | None:
    """The model a field holds (a section), or None for a value or a free-form table."""
    candidates = typing.get_args(info.annotation) or (info.annotation,)
    for candidate in candidates:
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _is_table(info: FieldInfo) -> bool:
    return typing.get_origin(info.annotation) is dict
