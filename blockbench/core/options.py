"""Options of components and ``KEY=VALUE`` flags: one place for their checks and parsing.

Import-light (no numpy, no TensorFlow): the CLI's ``--help`` reaches it.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from typing import Any

from blockbench.core.errors import UsageError, suggest


def complete_options(given: Mapping[str, Any], defaults: Mapping[str, Any], what: str) -> dict[str, Any]:
    """Return ``given`` completed with ``defaults``; unknown keys are a one-line error.

    Args:
        given: the user's options.
        defaults: every accepted option and its default.
        what: how the message names them, e.g. "dataset option" or "option for policy 'random'".
    """
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        valid = ", ".join(sorted(defaults)) or "none"
        close = suggest(unknown[0], list(defaults))
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise UsageError(f"unknown {what}(s) {', '.join(unknown)}; valid: {valid}.{hint}")
    return {**defaults, **given}


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
