"""Typed registries of named component factories, one per kind, and the bundle of all four.

Plugins receive a registry through their ``register_*`` hook and call it to add
factories. Names are lowercase and hyphenated (``mobilenet-v2``); lookups
ignore case, hyphens and underscores (``MobileNetV2``, ``mobilenet_v2``) and
also accept declared aliases.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from blockbench.components.backbone import BackboneFactory
from blockbench.components.dataset import DatasetFactory
from blockbench.components.partition import PartitionStrategy
from blockbench.components.policy import PolicyFactory
from blockbench.core.errors import PluginError, UnknownNameError

T = TypeVar("T")

NAME_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def lookup_key(name: str) -> str:
    """Normalise a name or alias for case- and separator-insensitive lookup."""
    return re.sub(r"[-_\s.]", "", name.strip().lower())


@dataclass(frozen=True)
class Entry(Generic[T]):
    """One registered component.

    Attributes:
        name: canonical lowercase hyphenated name.
        factory: what the plugin registered (a factory object, never a built model).
        description: one-line description for ``blockbench list``.
        aliases: other names that resolve to this entry.
        plugin: name of the plugin that registered it.
    """

    name: str
    factory: T
    description: str
    aliases: tuple[str, ...]
    plugin: str


@dataclass
class Registry(Generic[T]):
    """A registry of one kind of component (backbone, dataset, partition, policy).

    Call it (or :meth:`add`) to register: ``register("my-net", MyNet(), description=...)``.
    """

    kind: str
    _entries: dict[str, Entry[T]] = field(default_factory=dict)
    _keys: dict[str, str] = field(default_factory=dict)
    _current_plugin: str = "<unknown>"

    def add(
        self,
        name: str,
        factory: T,
        *,
        description: str = "",
        aliases: Iterable[str] = (),
    ) -> Entry[T]:
        """Register ``factory`` under ``name``; duplicates are an error naming both plugins."""
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise PluginError(
                f"plugin {self._current_plugin!r} registered {self.kind} name {name!r}: "
                "names must be lowercase words joined by hyphens, like 'mobilenet-v2'"
            )
        if not description:
            doc = (getattr(factory, "__doc__", None) or "").strip()
            description = doc.splitlines()[0] if doc else ""
        entry = Entry(name, factory, description, tuple(aliases), self._current_plugin)
        keys = {lookup_key(name)} | {lookup_key(a) for a in entry.aliases}
        for key in sorted(keys):
            if key in self._keys:
                other = self._entries[self._keys[key]]
                raise PluginError(
                    f"duplicate {self.kind} name {name!r}: registered by plugin "
                    f"{other.plugin!r} (as {other.name!r}) and by plugin {entry.plugin!r}"
                )
        self._entries[name] = entry
        for key in keys:
            self._keys[key] = name
        return entry

    __call__ = add

    def get(self, name: str) -> Entry[T]:
        """Return the entry for ``name`` or an alias; unknown names suggest close matches."""
        canonical = self._keys.get(lookup_key(name))
        if canonical is None:
            raise UnknownNameError(self.kind, name, self.names())
        return self._entries[canonical]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and lookup_key(name) in self._keys

    def __iter__(self) -> Iterator[Entry[T]]:
        return iter(sorted(self._entries.values(), key=lambda e: e.name))

    def __len__(self) -> int:
        return len(self._entries)

    def names(self) -> list[str]:
        """Canonical names, sorted."""
        return sorted(self._entries)

    def remove_plugin(self, plugin: str) -> None:
        """Drop everything ``plugin`` registered (used when its hook raised midway)."""
        for name in [n for n, e in self._entries.items() if e.plugin == plugin]:
            del self._entries[name]
        self._keys = {k: n for k, n in self._keys.items() if n in self._entries}


#: The registry each ``register_*`` hook receives.
BackboneRegistry = Registry[BackboneFactory]
DatasetRegistry = Registry[DatasetFactory]
PartitionRegistry = Registry[PartitionStrategy]
PolicyRegistry = Registry[PolicyFactory]

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
