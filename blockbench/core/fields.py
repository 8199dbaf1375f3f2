"""The fields of JSON documents: their types declared once, checked where a document is read.

A run record, a search record, a leaderboard or a replay report that does not
match its format (a missing field, a wrong type) must be one line naming the
file, the line and the field, never a traceback from deep inside the code that
uses it. :class:`Fields` declares the fields of a JSON object (derived from a
dataclass by :func:`fields_of`), and :meth:`Fields.check` raises a
:class:`~blockbench.core.formats.FormatError` such as ``run record field
'test_acc' must be a number or null, got 'abc'``; the reader prefixes the file
and line. The format's kind and version are checked before, by
:meth:`~blockbench.core.formats.Format.upgrade`.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections import abc
from collections.abc import Mapping
from typing import Any

from blockbench.core.errors import suggest
from blockbench.core.formats import FormatError

_KINDS: dict[str, tuple[str, str]] = {  # kind -> (one, many), as messages say them
    "string": ("a string", "strings"), "integer": ("a whole number", "whole numbers"),
    "number": ("a number", "numbers"), "boolean": ("true or false", "booleans"),
    "object": ("an object", "objects"), "list": ("a list", "lists"), "any": ("any value", "values"),
}


def _is(value: Any, kind: str) -> bool:
    if kind == "any":
        return True
    if isinstance(value, bool):
        return kind == "boolean"
    classes: dict[str, type | tuple[type, ...]] = {
        "string": str, "integer": int, "number": (int, float), "boolean": bool,
        "object": Mapping, "list": list}
    return isinstance(value, classes[kind])


def _shown(value: Any) -> str:
    """A short form of a bad value, for a message."""
    text = repr(value) if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


class Fields:
    """The fields of a JSON object: their types, which are required, and whether others may be there.

    A type is a kind (``string``, ``integer``, ``number``, ``boolean``,
    ``object``, ``list``, ``any``), optionally followed by ``|null``; a
    :class:`ListOf` or :class:`MapOf`; a nested :class:`Fields`; or a tuple of
    the allowed values. :func:`fields_of` derives the fields of a dataclass.
    Documents are checked where they are read, so a bad one is one line naming
    the field, never a traceback from the code that uses it.

    Args:
        types: field name -> type.
        required: the fields that must be present (the others may be absent).
        extra: whether fields not in ``types`` are allowed (and ignored).
        nullable: whether the object may be null where it is a field of another.
    """

    def __init__(self, types: Mapping[str, Any], required: tuple[str, ...] = (), *,
                 extra: bool = False, nullable: bool = False) -> None:
        self.types, self.required = dict(types), required
        self.extra, self.nullable = extra, nullable

    def check(self, document: Any, title: str, path: str = "") -> None:
        """Raise :class:`FormatError` naming the first field of ``document`` that does not fit.

        Args:
            document: the parsed JSON object.
            title: what the document is ("run record"), to start messages with.
            path: where this object sits in the document (``"spec"``, ``"tables[2]"``).
        """
        if not isinstance(document, Mapping):
            raise FormatError(f"{title} field {path!r} must be an object, got {_shown(document)}"
                              if path else f"not a {title} (expected a JSON object)")
        prefix = f"{path}." if path else ""
        for name in self.required:
            if name not in document:
                raise FormatError(f"{title} field {prefix + name!r} is missing")
        for name, value in document.items():
            if name in self.types:
                check_value(value, self.types[name], title, prefix + str(name))
            elif not self.extra:
                hint = suggest(str(name), self.types)
                did = f"; did you mean {prefix + hint[0]!r}?" if hint else ""
                raise FormatError(f"{title} has an unknown field {prefix + str(name)!r}{did}")


class ListOf:
    """A list whose items are all of one type (see :class:`Fields`)."""

    def __init__(self, items: Any, nullable: bool = False) -> None:
        self.items, self.nullable = items, nullable


class MapOf:
    """An object whose values are all of one type; ``seeds``: keyed by whole numbers (seeds, indices)."""

    def __init__(self, values: Any, seeds: bool = False, nullable: bool = False) -> None:
        self.values, self.seeds, self.nullable = values, seeds, nullable


def fields_of(cls: type, *, extra: bool = False, **overrides: Any) -> Fields:
    """The :class:`Fields` of a dataclass's JSON form (``dataclasses.asdict``), from its annotations.

    Fields without a default are required; ``float`` accepts null (NaN is written as
    null); ``overrides`` give the type of fields whose JSON differs from the annotation.
    """
    hints = typing.get_type_hints(cls)
    types, required = {}, []
    for f in dataclasses.fields(cls):
        types[f.name] = overrides[f.name] if f.name in overrides else _type_of(hints[f.name])
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            required.append(f.name)
    return Fields(types, tuple(required), extra=extra)


def _type_of(hint: Any) -> Any:
    """The JSON type (see :class:`Fields`) of a type annotation."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        found = _type_of(inner[0]) if len(inner) == 1 else "any"
        if isinstance(found, str):
            return found if found.endswith("|null") or found == "any" else f"{found}|null"
        found.nullable = True
        return found
    simple = {str: "string", bool: "boolean", int: "integer", float: "number|null", Any: "any"}
    if hint in simple:
        return simple[hint]
    if dataclasses.is_dataclass(hint):
        return fields_of(hint)  # type: ignore[arg-type]
    if origin in (list, tuple, abc.Sequence):
        return ListOf(_type_of(args[0])) if origin is not tuple and args else "list"
    if origin in (dict, abc.Mapping):
        if not args or args[1] is Any:
            return "object"
        return MapOf(_type_of(args[1]), seeds=args[0] is int)
    return "any"


def expected(spec: Any) -> str:
    """What a type (see :class:`Fields`) accepts, in words: ``a number or null``."""
    if isinstance(spec, (Fields, ListOf, MapOf)):
        if isinstance(spec, Fields):
            words = "an object"
        elif isinstance(spec, ListOf):
            words = f"a list of {_many(spec.items)}"
        else:
            words = f"an object of {_many(spec.values)}" + (" keyed by number" if spec.seeds else "")
        return f"{words} or null" if spec.nullable else words
    if isinstance(spec, tuple):
        return "one of " + ", ".join(repr(v) for v in spec)
    base, _, null = str(spec).partition("|")
    return f"{_KINDS[base][0]} or null" if null else _KINDS[base][0]


def _many(spec: Any) -> str:
    if isinstance(spec, str) and "|" not in spec:
        return _KINDS[spec][1]
    return "objects" if isinstance(spec, Fields) else "values"


def check_value(value: Any, spec: Any, title: str, path: str) -> None:
    """Raise :class:`FormatError` if ``value`` (at ``path``) is not of type ``spec`` (see :class:`Fields`)."""
    def bad() -> FormatError:
        return FormatError(f"{title} field {path!r} must be {expected(spec)}, got {_shown(value)}")

    if isinstance(spec, tuple):
        if value not in spec or isinstance(value, bool) != any(isinstance(v, bool) for v in spec):
            raise bad()
        return
    if isinstance(spec, (Fields, ListOf, MapOf)):
        if value is None and spec.nullable:
            return
        if not _is(value, "list" if isinstance(spec, ListOf) else "object"):
            raise bad()
        if isinstance(spec, Fields):
            spec.check(value, title, path)
        elif isinstance(spec, ListOf):
            for index, item in enumerate(value):
                check_value(item, spec.items, title, f"{path}[{index}]")
        else:
            for key, item in value.items():
                if spec.seeds and not (isinstance(key, str) and key.lstrip("-").isdigit()):
                    raise FormatError(f"{title} field {path!r} must be keyed by whole numbers, "
                                      f"got the key {_shown(key)}")
                check_value(item, spec.values, title, f"{path}.{key}")
        return
    base, _, null = str(spec).partition("|")
    if value is None:
        if not null and base != "any":
            raise bad()
        return
    if not _is(value, base):
        raise bad()
