"""Errors that reach the user as one clear line instead of a traceback."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class BlockbenchError(Exception):
    """An error caused by input or environment that the user can fix.

    The command-line interface prints its message as one line (no traceback
    unless ``--debug``), so the message must name the bad value and what would
    be valid.
    """

    exit_code = 1


class UsageError(BlockbenchError):
    """Bad input on the command line or in a config file."""

    exit_code = 2


class UnknownNameError(UsageError):
    """A name that no registry knows, with "did you mean" suggestions."""

    def __init__(self, kind: str, name: str, known: Iterable[str]) -> None:
        known = sorted(set(known))
        self.kind, self.name, self.known = kind, name, known
        super().__init__(unknown_name_message(kind, name, known))


class PluginError(BlockbenchError):
    """A plugin failed to load or to register its components."""


def suggest(name: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """Return the candidates closest to ``name``, best first."""
    pool = list(dict.fromkeys(candidates))
    lowered = {c.lower(): c for c in pool}
    hits = difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=0.5)
    # Substring matches catch abbreviations that difflib scores low ("v2" -> "mobilenet-v2").
    extra = [c for c in pool if name.lower() in c.lower() and c.lower() not in hits]
    return [lowered[h] for h in hits] + extra[: max(0, n - len(hits))]


def unknown_name_message(kind: str, name: str, known: Iterable[str]) -> str:
    """Format "unknown <kind> 'x'; did you mean ...? Known: ..." on one line."""
    known = sorted(set(known))
    close = suggest(name, known)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    listing = ", ".join(known) if len(known) <= 20 else ", ".join(known[:20]) + ", ..."
    plural = kind[:-1] + "ies" if kind.endswith("y") else kind + "s"
    return f"unknown {kind} {name!r}.{hint} Known {plural}: {listing or '(none)'}."
