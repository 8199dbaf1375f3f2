"""Compare settings: presets, a TOML config file and command-line flags, merged in that order."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from blockbench.core.errors import UsageError, suggest
from blockbench.core.task import SplitConfig, Task

KEYS = {
    "backbone", "dataset", "partition", "policy", "seeds", "seed_start", "epochs", "input_size",
    "weights", "preprocessing", "out", "budget", "hparams", "backbone_options",
    "dataset_options", "partition_options", "policy_options", "split",
}
#: Names of earlier releases that still work.
OLD_KEYS = {"partition_params": "partition_options"}


@dataclass
class Settings:
    """Everything a compare needs, after merging preset, config file and flags."""

    backbone: list[str] = field(default_factory=list)
    dataset: list[str] = field(default_factory=list)
    partition: str = "delimiter"
    policy: list[str] = field(default_factory=lambda: ["exhaustive"])
    seeds: int = 3
    seed_start: int = 0
    epochs: int | None = None
    input_size: int | None = None
    weights: str = "imagenet"
    preprocessing: str | None = None
    out: str = "blockbench-results"
    budget: int | None = None
    hparams: dict[str, Any] = field(default_factory=dict)
    backbone_options: dict[str, Any] = field(default_factory=dict)
    dataset_options: dict[str, Any] = field(default_factory=dict)
    partition_options: dict[str, Any] = field(default_factory=dict)
    policy_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    split: dict[str, Any] = field(default_factory=dict)

    def update(self, values: Mapping[str, Any], source: str) -> None:
        """Apply ``values`` (from a preset, a file or flags); unknown keys are an error."""
        for key, value in values.items():
            key = key.replace("-", "_")
            key = OLD_KEYS.get(key, key)
            if key not in KEYS:
                hint = suggest(key, sorted(KEYS))
                did = f" Did you mean {hint[0]!r}?" if hint else ""
                raise UsageError(f"unknown setting {key!r} in {source}.{did}")
            if value is None or value == [] or value == ():
                continue
            if key in ("backbone", "dataset", "policy") and isinstance(value, str):
                value = [value]
            if isinstance(getattr(self, key), dict):
                merged = dict(getattr(self, key))
                merged.update(value)
                value = merged
            setattr(self, key, list(value) if isinstance(value, tuple) else value)

    def seed_list(self) -> list[int]:
        if int(self.seeds) < 1:
            raise UsageError(f"--seeds must be at least 1, got {self.seeds}")
        return list(range(int(self.seed_start), int(self.seed_start) + int(self.seeds)))

    def split_config(self) -> SplitConfig:
        try:
            return SplitConfig(**self.split)
        except TypeError as exc:
            raise UsageError(f"invalid [split] settings {self.split}: {exc}") from None

    def tasks(self) -> list[Task]:
        """One task per (backbone, dataset)."""
        if not self.backbone:
            raise UsageError("no backbone given; use --backbone NAME (see 'blockbench list backbones')")
        if not self.dataset:
            raise UsageError("no dataset given; use --dataset NAME (see 'blockbench list datasets')")
        hparams = dict(self.hparams)
        if self.epochs is not None:
            hparams["epochs"] = int(self.epochs)
        split = self.split_config()
        tasks = []
        for backbone in self.backbone:
            for dataset in self.dataset:
                name, options = dataset, dict(self.dataset_options)
                if Path(dataset).is_dir() and "path" not in options:
                    name, options["path"] = "image-folder", dataset  # a folder of class folders
                tasks.append(Task(
                    backbone=backbone, dataset=name, split=split, partition=self.partition,
                    weights=self.weights, input_size=self.input_size,
                    preprocessing=self.preprocessing, backbone_options=self.backbone_options,
                    dataset_options=options, partition_params=self.partition_options,
                    hparams=hparams,
                ))
        return tasks


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a config file; syntax errors are reported with the file and line."""
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise UsageError(f"config file {str(path)!r} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"config file {str(path)!r} is not valid TOML: {exc}") from None
