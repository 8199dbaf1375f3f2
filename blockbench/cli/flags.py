"""The component-option flags every command spells the same way.

``--backbone-option``, ``--dataset-option``, ``--partition-option`` take
``KEY=VALUE`` and ``--policy-option`` takes ``POLICY.KEY=VALUE``; each is
repeatable. Spellings of older releases (``blocks --param``/``--option``,
``compare --partition-param``) still work but stay out of ``--help``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import click

from blockbench.core.errors import UsageError
from blockbench.core.options import parse_assignments


class _OldSpellingsHidden(click.Option):
    """An option whose first spelling is the one ``--help`` shows; the others are old names."""

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        spellings, self.opts = self.opts, self.opts[:1]
        try:
            return super().get_help_record(ctx)
        finally:
            self.opts = spellings


def component_option(kind: str, example: str, *old: str) -> Callable[[Any], Any]:
    """``--KIND-option KEY=VALUE`` (repeatable) into the parameter ``KIND_options``.

    Args:
        kind: "backbone", "dataset" or "partition".
        example: a sample assignment for the help text, e.g. "alpha=0.25".
        old: earlier spellings that keep working, hidden from ``--help``.
    """
    return click.option(f"--{kind}-option", *old, f"{kind}_options", cls=_OldSpellingsHidden,
                        multiple=True, metavar="KEY=VALUE",
                        help=f"{kind.capitalize()} option, repeatable, e.g. {example}.")


def policy_options(pairs: Iterable[str], owner: str = "POLICY") -> dict[str, dict[str, Any]]:
    """``("random.k=5",)`` -> ``{"random": {"k": 5}}``; ``owner`` names the prefix in errors."""
    options: dict[str, dict[str, Any]] = {}
    for key, value in parse_assignments(pairs, "--policy-option").items():
        name, _, option = key.partition(".")
        if not option:
            raise UsageError(f"--policy-option expects {owner}.KEY=VALUE, got {key!r}")
        options.setdefault(name, {})[option] = value
    return options
