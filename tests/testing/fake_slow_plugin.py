"""A broken plugin: registering it takes longer than the probe's limit."""

from __future__ import annotations

import time
from typing import Any

from cases_backbone import GoodNet

from blockbench.plugin.hookspecs import hookimpl
from blockbench.testing.probe import MAX_REGISTER_SECONDS


@hookimpl
def register_backbones(register: Any) -> None:
    time.sleep(MAX_REGISTER_SECONDS + 0.2)  # stands in for building a model at registration
    register("good-net", GoodNet())
