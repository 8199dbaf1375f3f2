"""The four typed registries that plugins fill, and the bundle of all of them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from blockbench.registry import Entry, Registry

if TYPE_CHECKING:
    from blockbench.backbone import BackboneFactory
    from blockbench.dataset import DatasetFactory
    from blockbench.partition import PartitionStrategy
    from blockbench.policy import PolicyFactory

    BackboneRegistry = Registry[BackboneFactory]
    DatasetRegistry = Registry[DatasetFactory]
    PartitionRegistry = Registry[PartitionStrategy]
    PolicyRegistry = Registry[PolicyFactory]
else:
    BackboneRegistry = DatasetRegistry = PartitionRegistry = PolicyRegistry = Registry

KINDS = ("backbone", "dataset", "partition", "policy")


@dataclass
class Components:
    """Everything the loaded plugins registered, plus the errors met while loading.

    Attributes:
        backbones, datasets, partitions, policies: one registry per kind.
        errors: one line per plugin that failed to load or register.
        plugins: names of the plugins that loaded, in load order.
    """

    backbones: BackboneRegistry = field(default_factory=lambda: Registry("backbone"))
    datasets: DatasetRegistry = field(default_factory=lambda: Registry("dataset"))
    partitions: PartitionRegistry = field(default_factory=lambda: Registry("partition"))
    policies: PolicyRegistry = field(default_factory=lambda: Registry("policy"))
    errors: list[str] = field(default_factory=list)
    plugins: list[str] = field(default_factory=list)

    def registry(self, kind: str) -> Registry[Any]:
        """Return the registry for ``kind`` ("backbone" or "backbones", ...)."""
        kind = kind.rstrip("s") if kind != "policies" else "policy"
        registries: dict[str, Registry[Any]] = {
            "backbone": self.backbones,
            "dataset": self.datasets,
            "partition": self.partitions,
            "policy": self.policies,
        }
        return registries[kind]

    def all_entries(self) -> list[tuple[str, Entry[Any]]]:
        """Every (kind, entry) pair, grouped by kind."""
        return [(k, e) for k in KINDS for e in self.registry(k)]
