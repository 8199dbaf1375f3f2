"""Anytime-regret points: the input format of ``blockbench plot regret``.

A replay report (``blockbench replay --out FILE.json``) says, for each policy
and budget, how far its pick's test accuracy falls short of the best block's.
This module reads such a report and averages it into one curve per policy; it
draws nothing.

Accepted JSON: a replay report (an object marked ``"format": "blockbench-replay"``,
checked and upgraded by :data:`blockbench.core.formats.REPLAY_REPORT`) whose
``"points"`` list is read, or a bare list of points. Each point is
``{"policy": str, "budget": number, "regret": number}``; other keys
(``"table"``, ``"seed"``...) are allowed and ignored. Points sharing a policy
and budget (several tables or seeds) are averaged, with their min and max.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

from blockbench.core.fields import Fields
from blockbench.core.formats import REPLAY_REPORT, FormatError, read_json

#: The fields of one point; other keys ("table", "seed"...) are allowed and ignored.
POINT_FIELDS = Fields({"policy": "string", "budget": "number", "regret": "number"},
                      ("policy", "budget", "regret"), extra=True)


@dataclass(frozen=True)
class RegretPoint:
    """Regret of one policy's pick at one budget (runs or epochs spent)."""

    policy: str
    budget: float
    regret: float


def parse_points(data: Any, source: str = "regret report") -> list[RegretPoint]:
    """Validate and convert the JSON content of a regret report (a replay report or a list).

    Raises:
        FormatError: one line naming the source and the first bad field (``points[3].budget``).
    """
    items = data if isinstance(data, list) else REPLAY_REPORT.upgrade(data, source).get("points")
    if not isinstance(items, list) or not items:
        raise FormatError(f"{source}: expected a non-empty list of points "
                          "(alone, or as a replay report's \"points\") with policy, budget and regret")
    points = []
    for number, item in enumerate(items):
        where = f"points[{number}]"
        try:
            POINT_FIELDS.check(item, "regret report", where)
        except FormatError as exc:
            raise FormatError(f"{source}: {exc}") from None
        point = RegretPoint(item["policy"], float(item["budget"]), float(item["regret"]))
        if not (math.isfinite(point.budget) and math.isfinite(point.regret)):
            raise FormatError(f"{source}: regret report field {where!r} has a non-finite budget "
                              "or regret")
        points.append(point)
    return points


def load_points(path: str | os.PathLike[str]) -> list[RegretPoint]:
    """Read a regret report file (see the module docstring for its format)."""
    return parse_points(read_json(path, "regret report"), str(path))


def regret_curves(points: list[RegretPoint]) -> dict[str, list[tuple[float, float, float, float]]]:
    """Policy -> [(budget, mean regret, min, max)] sorted by budget; policies sorted by name."""
    grouped: dict[str, dict[float, list[float]]] = {}
    for p in points:
        grouped.setdefault(p.policy, {}).setdefault(p.budget, []).append(p.regret)
    return {
        policy: [(b, sum(v) / len(v), min(v), max(v)) for b, v in sorted(by_budget.items())]
        for policy, by_budget in sorted(grouped.items())
    }
