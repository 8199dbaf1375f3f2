"""The tiny engine fixtures as a real plugin, for tests that run ``blockbench`` in a subprocess.

:func:`plugin_env` installs it the way any plugin is installed: a
distribution's ``.dist-info`` with a ``blockbench`` entry point, on a
``PYTHONPATH`` directory, so the child process finds it through
``importlib.metadata`` like a pip-installed plugin.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from blockbench.plugin.hookspecs import hookimpl
from tests import engine_fixtures

REPO = Path(__file__).resolve().parents[1]


class SeededTinyNet(engine_fixtures.TinyNet):
    """TinyNet whose initial weights are the same in every process, as pretrained weights are."""

    def build(self, weights: Any, input_size: int, **options: Any) -> Any:
        import keras

        keras.utils.set_random_seed(4321)
        return super().build(weights, input_size, **options)


@hookimpl
def register_backbones(register) -> None:  # type: ignore[no-untyped-def]
    register("tiny-net", SeededTinyNet(), description="Two conv stages (tests).")


@hookimpl
def register_datasets(register) -> None:  # type: ignore[no-untyped-def]
    register("blobs", engine_fixtures.Blobs(), description="Coloured noise, 3 classes (tests).")


@hookimpl
def register_partitions(register) -> None:  # type: ignore[no-untyped-def]
    register("by-stage", engine_fixtures.ByStage(), description="One block per stage (tests).")


def plugin_env(directory: Path, **extra: str) -> dict[str, str]:
    """Environment for a child ``python -m blockbench`` that sees this plugin."""
    dist = directory / "blockbench_tiny_plugin-0.1.dist-info"
    dist.mkdir(parents=True, exist_ok=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: blockbench-tiny-plugin\n"
                                   "Version: 0.1\n")
    (dist / "entry_points.txt").write_text("[blockbench]\ntiny = tests.tiny_plugin\n")
    env = {k: v for k, v in os.environ.items() if k != "BLOCKBENCH_DISABLE_PLUGIN_AUTOLOAD"}
    paths = [str(directory), str(REPO), *filter(None, [env.get("PYTHONPATH")])]
    env.update(PYTHONPATH=os.pathsep.join(paths), TF_CPP_MIN_LOG_LEVEL="2",
               CUDA_VISIBLE_DEVICES="", COLUMNS="200", **extra)
    return env


def blockbench_cmd(*args: str) -> list[str]:
    """The command line of a child ``blockbench ARGS``."""
    return [sys.executable, "-m", "blockbench", *args]
