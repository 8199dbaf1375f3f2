"""Anytime-regret points: the input format of ``blockbench plot regret``.

A replay report (a later feature) says, for each policy and budget, how far
its pick's test accuracy falls short of the best block's. This module reads
such a report and averages it into one curve per policy; it draws nothing.

Accepted JSON: a list of points, or an object with a ``"points"`` list. Each
point is ``{"policy": str, "budget": number, "regret": number}``; other keys
(``"table"``, ``"seed"``...) are allowed and ignored. Points sharing a policy
and budget (several tables or seeds) are averaged, with their min and max.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from blockbench.core.errors import BlockbenchError, UsageError


@dataclass(frozen=True)
class RegretPoint:
    """Regret of one policy's pick at one budget (runs or epochs spent)."""

    policy: str
    budget: float
    regret: float


def parse_points(data: Any, source: str = "regret report") -> list[RegretPoint]:
    """Validate and convert the JSON content of a regret report."""
    items = data.get("points") if isinstance(data, dict) else data
    if not isinstance(items, list) or not items:
        raise BlockbenchError(f"{source}: expected a non-empty list of points "
                              '(or {"points": [...]}) with policy, budget and regret')
    points = []
    for number, item in enumerate(items):
        try:
            point = RegretPoint(str(item["policy"]), float(item["budget"]), float(item["regret"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise BlockbenchError(f"{source}: point {number} ({item!r}) needs policy, numeric budget "
                                  f"and numeric regret ({type(exc).__name__}: {exc})") from None
        if not (math.isfinite(point.budget) and math.isfinite(point.regret)):
            raise BlockbenchError(f"{source}: point {number} has a non-finite budget or regret")
        points.append(point)
    return points


def load_points(path: str | os.PathLike[str]) -> list[RegretPoint]:
    """Read a regret report file (see the module docstring for its format)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"regret report {str(path)!r} does not exist") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BlockbenchError(f"{path}: not JSON ({exc})") from None
    return parse_points(data, str(path))


def regret_curves(points: list[RegretPoint]) -> dict[str, list[tuple[float, float, float, float]]]:
    """Policy -> [(budget, mean regret, min, max)] sorted by budget; policies sorted by name."""
    grouped: dict[str, dict[float, list[float]]] = {}
    for p in points:
        grouped.setdefault(p.policy, {}).setdefault(p.budget, []).append(p.regret)
    return {
        policy: [(b, sum(v) / len(v), min(v), max(v)) for b, v in sorted(by_budget.items())]
        for policy, by_budget in sorted(grouped.items())
    }
