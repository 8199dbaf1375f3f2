"""Compare settings: presets, a TOML config file and command-line flags, merged in that order.

:class:`Settings` is one typed model for all three: each source is checked
on its own (:meth:`Settings.update`), so a bad value is reported where it was
written (``bench.toml [hparams] epochs = "two"``, ``--budget 0``), then merged
over the earlier ones, a section key by key.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, Field, field_validator, model_validator

from blockbench.components.policy import Budget
from blockbench.core.errors import UsageError, suggest
from blockbench.core.task import SplitConfig, Task
from blockbench.core.task_settings import WHOLE, HParams, SplitSettings
from blockbench.core.validation import Source, StrictModel, validate
from blockbench.search.compare import PolicyRequest

#: Names of earlier releases that still work.
OLD_KEYS = {"partition_params": "partition_options"}

#: The flag of each setting, for messages about values given on the command line.
FLAGS = {
    "backbone": "--backbone", "dataset": "--dataset", "partition": "--partition",
    "policy": "--policy", "seeds": "--seeds", "seed_start": "--seed-start", "epochs": "--epochs",
    "input_size": "--input-size", "weights": "--weights", "preprocessing": "--preprocessing",
    "out": "--out", "budget": "--budget", "hparams": "--hparam",
    "backbone_options": "--backbone-option", "dataset_options": "--dataset-option",
    "partition_options": "--partition-option", "policy_options": "--policy-option",
    "split.seed": "--split-seed", "split.kind": "--official-split",
}
COMMAND_LINE = Source("the command line", FLAGS)

Names = Annotated[list[str], Field(description="a name or a list of names")]
Options = Annotated[dict[str, Any], Field(description="a table of KEY = VALUE options")]
Positive = Annotated[int, Field(ge=1)] | None


#: The most seeds one compare runs, and the largest seed a 32-bit generator takes.
MAX_SEEDS, MAX_SEED = 10_000, 2**32 - 1


class Settings(StrictModel):
    """Everything a compare needs, after merging preset, config file and flags.

    Each field is a top-level key of the config file (``-`` may be written for
    ``_``); ``hparams``, ``split`` and the ``*_options`` are its sections.
    """

    backbone: Names = []
    dataset: Names = []
    partition: str = Field(default="delimiter", description="a partition strategy name")
    policy: Names = ["exhaustive"]
    # Seeds feed 32-bit random generators: bounded so that every seed of the range is one.
    seeds: int = Field(default=3, ge=1, le=MAX_SEEDS,
                       description=f"a whole number from 1 to {MAX_SEEDS:,}")
    seed_start: int = Field(default=0, ge=0, le=MAX_SEED - MAX_SEEDS,
                            description=f"a whole number from 0 to {MAX_SEED - MAX_SEEDS:,}")
    epochs: Positive = Field(default=None, description=WHOLE)
    input_size: Positive = Field(default=None, description="a whole number of pixels, at least 1")
    weights: str = Field(default="imagenet",
                         description="imagenet, none or the path of a weights file")
    preprocessing: str | None = Field(default=None, description="a preprocessing mode name")
    out: str = Field(default="blockbench-results", description="the path of a results directory")
    budget: Positive = Field(default=None, description="a whole number of runs, at least 1")
    hparams: HParams = Field(default_factory=HParams,
                             description="a table of hyper-parameters, [hparams]")
    backbone_options: Options = {}
    dataset_options: Options = {}
    partition_options: Options = {}
    policy_options: dict[str, dict[str, Any]] = Field(
        default={}, description="one table of options per policy, [policy_options.NAME]")
    split: SplitSettings = Field(default_factory=SplitSettings,
                                 description="a table of kind, fractions and seed, [split]")

    @model_validator(mode="before")
    @classmethod
    def _current_names(cls, values: Any) -> Any:
        if not isinstance(values, Mapping):
            return values
        renamed = {}
        for key, value in values.items():
            key = str(key).replace("-", "_")
            renamed[OLD_KEYS.get(key, key)] = value
        return renamed

    @field_validator("backbone", "dataset", "policy", mode="before")
    @classmethod
    def _one_name(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    def update(self, values: Mapping[str, Any], source: Source) -> None:
        """Check ``values`` (from a preset, a file or flags), then apply them over these.

        Unset values (None, empty) are skipped; a section is merged key by key.
        A bad value is a one-line :class:`UsageError` naming it in ``source``.
        """
        present = {k: list(v) if isinstance(v, tuple) else v  # a repeated flag gives a tuple
                   for k, v in values.items() if v is not None and v not in ([], (), {})}
        given = validate(Settings, present, source)
        for key in given.model_fields_set:
            new, old = getattr(given, key), getattr(self, key)
            if isinstance(new, BaseModel):
                new = validate(type(new), {**old.model_dump(exclude_unset=True),
                                           **new.model_dump(exclude_unset=True)}, source)
            elif isinstance(new, dict):
                new = {**old, **new}
            setattr(self, key, new)

    def policy_requests(self) -> list[PolicyRequest]:
        """The policies to run, each with its options and the budget; options of no policy run
        are an error (they would be ignored)."""
        unused = sorted(set(self.policy_options) - set(self.policy))
        if unused:
            close = suggest(unused[0], self.policy)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise UsageError(f"policy options given for {', '.join(map(repr, unused))}, which this "
                             f"compare does not run.{hint} Its policies: {', '.join(self.policy)}.")
        return [PolicyRequest(name, self.policy_options.get(name, {}), Budget(runs=self.budget))
                for name in self.policy]

    def seed_list(self) -> list[int]:
        return list(range(self.seed_start, self.seed_start + self.seeds))

    def tasks(self) -> list[Task]:
        """One task per (backbone, dataset)."""
        if not self.backbone:
            raise UsageError("no backbone given; use --backbone NAME (see 'blockbench list backbones')")
        if not self.dataset:
            raise UsageError("no dataset given; use --dataset NAME (see 'blockbench list datasets')")
        hparams = self.hparams.model_dump(exclude_unset=True)
        if self.epochs is not None:
            hparams["epochs"] = self.epochs
        split: SplitConfig = self.split.config()
        tasks = []
        for backbone in self.backbone:
            for dataset in self.dataset:
                name, options = dataset, dict(self.dataset_options)
                if "path" not in options and _folder(dataset):
                    name, options["path"] = "image-folder", dataset  # a folder of class folders
                tasks.append(Task(
                    backbone=backbone, dataset=name, split=split, partition=self.partition,
                    weights=self.weights, input_size=self.input_size,
                    preprocessing=self.preprocessing, backbone_options=self.backbone_options,
                    dataset_options=options, partition_params=self.partition_options,
                    hparams=hparams,
                ))
        return tasks


def _folder(dataset: str) -> bool:
    """Whether ``dataset`` names a folder; one written as a path must exist (no dataset name has
    a slash or starts with ``~``, so it would only be reported as an unknown dataset)."""
    path = Path(dataset).expanduser()
    if path.is_dir():
        return True
    if "/" in dataset or os.sep in dataset or dataset.startswith("~"):
        state = "is not a folder" if path.exists() else "does not exist"
        raise UsageError(f"dataset folder {dataset!r} {state}; give a folder with one sub-folder "
                         "of images per class, or a dataset name (see 'blockbench list datasets')")
    return False


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a config file; syntax errors are reported with the file and line."""
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise UsageError(f"config file {str(path)!r} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"config file {str(path)!r} is not valid TOML: {exc}") from None
