"""Named starting points for ``compare`` (kept import-light: ``--help`` reads them)."""

from __future__ import annotations

from typing import Any

#: Built-in presets; ``demo`` is what a bare ``blockbench compare`` runs.
PRESETS: dict[str, dict[str, Any]] = {
    "demo": {
        "backbone": ["demo-cnn"],
        "dataset": ["demo"],
        "weights": "imagenet",
        "partition": "delimiter",
        "policy": ["exhaustive"],
        "seeds": 2,
    },
}
