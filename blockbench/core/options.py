"""Options of components and ``KEY=VALUE`` flags: one place for their checks and parsing.

Every component kind declares its options the same way: ``option_defaults``
maps each accepted option to its default, or to :data:`REQUIRED` when the user
must give it. :func:`complete_options` rejects unknown and missing options in
one line and fills in the defaults; the host calls it with the component's
registered name before the component's own ``check_options``
(:func:`check_named_options`), so its messages name the component.

Import-light (no numpy, no TensorFlow): the CLI's ``--help`` reaches it.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from typing import Any, Final, Protocol

from blockbench.core.errors import UsageError, suggest


class _Required:
    """The type of :data:`REQUIRED`, a marker compared by identity."""

    def __repr__(self) -> str:
        return "REQUIRED"

    def __reduce__(self) -> str:
        return "REQUIRED"  # copies and pickles as the module attribute: identity survives


#: The value of an option in ``option_defaults`` that has no default: the user must give it.
REQUIRED: Final = _Required()


class ChecksOptions(Protocol):
    """What every component kind has: declared options and a check that completes them."""

    @property
    def option_defaults(self) -> Mapping[str, Any]: ...

    def check_options(self, options: Mapping[str, Any]) -> dict[str, Any]: ...


def required_options(defaults: Mapping[str, Any]) -> list[str]:
    """The options of ``defaults`` declared :data:`REQUIRED`, sorted."""
    return sorted(key for key, value in defaults.items() if value is REQUIRED)


def complete_options(given: Mapping[str, Any], defaults: Mapping[str, Any], kind: str,
                     name: str | None = None) -> dict[str, Any]:
    """Return ``given`` completed with ``defaults``; an unknown or missing option is a one-line error.

    Args:
        given: the user's options.
        defaults: every accepted option and its default (:data:`REQUIRED`: none).
        kind: the component kind, e.g. "dataset" or "policy".
        name: the component's registered name, when known; messages name it.
    """
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        valid = ", ".join(sorted(defaults)) or "none"
        close = suggest(unknown[0], list(defaults))
        hint = f" Did you mean {close[0]!r}?" if close else ""
        which = f"option(s) {', '.join(unknown)} for {kind} {name!r}" if name \
            else f"{kind} option(s) {', '.join(unknown)}"
        raise UsageError(f"unknown {which}; valid: {valid}.{hint}")
    missing = [key for key in required_options(defaults) if key not in given]
    if missing:
        who = f"{kind} {name!r}" if name else f"this {kind}"
        noun = "option" if len(missing) == 1 else "options"
        example = " ".join(f"{key}=VALUE" for key in missing)
        raise UsageError(f"{who} needs the {noun} {', '.join(missing)}; give {example}")
    return {**defaults, **given}


def check_named_options(component: ChecksOptions, given: Mapping[str, Any], kind: str,
                        name: str) -> dict[str, Any]:
    """``component.check_options(given)``, after the declared-options check naming ``name``.

    The host calls this with the component's registered name, so an unknown or
    missing option is reported as e.g. ``unknown option(s) kk for policy 'random'``;
    the component's own ``check_options`` then checks the values.
    """
    complete_options(given, component.option_defaults, kind, name)
    return component.check_options(given)


def parse_assignments(pairs: Iterable[str], flag: str) -> dict[str, Any]:
    """``("alpha=0.25", "k=8")`` -> ``{"alpha": 0.25, "k": 8}``; values are TOML when they parse."""
    parsed: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"{flag} expects KEY=VALUE, got {pair!r}")
        try:
            value = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw
        parsed[key.strip()] = value
    return parsed
