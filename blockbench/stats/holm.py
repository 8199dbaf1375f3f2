"""The Holm step-down adjustment: arithmetic on sorted p-values, without SciPy.

Its own module so that a policy plugin loaded at start-up (racing) can adjust
p-values without loading the statistics stack, which ``blockbench --help`` never does.
"""

from __future__ import annotations

from collections.abc import Sequence


def holm(pvalues: Sequence[float | None]) -> list[float | None]:
    """Holm step-down adjustment; ``None`` entries (tests not run) stay None and do not count.

    With the m p-values sorted ascending, the i-th (1-based) becomes
    ``max over j <= i of min(1, (m - j + 1) * p_(j))``.
    """
    present = [(p, i) for i, p in enumerate(pvalues) if p is not None]
    m = len(present)
    adjusted: list[float | None] = [None] * len(pvalues)
    running = 0.0
    for rank, (p, index) in enumerate(sorted(present)):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[index] = running
    return adjusted
