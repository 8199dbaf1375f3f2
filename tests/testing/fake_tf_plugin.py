"""A broken plugin: it imports TensorFlow at import time."""

from __future__ import annotations

from typing import Any

import tensorflow  # noqa: F401  (the defect under test)
from cases_backbone import GoodNet

from blockbench.plugin.hookspecs import hookimpl


@hookimpl
def register_backbones(register: Any) -> None:
    register("good-net", GoodNet())
