"""The plugin manager: loads third-party entry points, then the built-in plugins.

Built-in plugins (the ``blockbench_plugins`` package, shipped in the wheel)
register through the same ``blockbench`` entry-point group as third-party
plugins; this module never imports a plugin module by name. Set
``BLOCKBENCH_DISABLE_PLUGIN_AUTOLOAD=1`` to load only the built-ins.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from importlib import metadata
from typing import Any

import pluggy

from blockbench.core.errors import PluginError
from blockbench.plugin import hookspecs
from blockbench.plugin.registry import KINDS, Components

GROUP = "blockbench"
OWN_DISTRIBUTION = "blockbench"
DISABLE_ENV = "BLOCKBENCH_DISABLE_PLUGIN_AUTOLOAD"

_HOOK_FOR_KIND = {
    "backbone": "register_backbones",
    "dataset": "register_datasets",
    "partition": "register_partitions",
    "policy": "register_policies",
}


def _is_builtin(ep: metadata.EntryPoint) -> bool:
    dist = getattr(ep, "dist", None)
    return dist is not None and dist.name.lower() == OWN_DISTRIBUTION


def _plugin_name(ep: metadata.EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return f"{dist.name if dist else '?'}.{ep.name}"


def build_manager(errors: list[str]) -> pluggy.PluginManager:
    """Create the manager, load entry points (third-party first, then built-ins), validate."""
    pm = pluggy.PluginManager("blockbench")
    pm.add_hookspecs(hookspecs)
    autoload = os.environ.get(DISABLE_ENV, "").strip().lower() not in {"1", "true", "yes"}
    eps = list(metadata.entry_points(group=GROUP))
    third_party = [ep for ep in eps if not _is_builtin(ep)] if autoload else []
    builtins = sorted((ep for ep in eps if _is_builtin(ep)), key=lambda ep: ep.name)
    for ep in [*third_party, *builtins]:
        name = _plugin_name(ep)
        if pm.get_plugin(name) is not None:
            continue  # the same distribution visible twice on sys.path
        try:
            pm.register(ep.load(), name=name)
        except Exception as exc:
            errors.append(f"plugin {name!r} ({ep.value}) failed to load: {_describe(exc)}")
    while True:  # check_pending reports one invalid plugin at a time
        try:
            pm.check_pending()
            break
        except pluggy.PluginValidationError as exc:
            errors.append(f"plugin {pm.get_name(exc.plugin)!r} is invalid: {_describe(exc)}")
            pm.unregister(exc.plugin)
    return pm


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".strip().splitlines()[0]


def _call_each(pm: pluggy.PluginManager, hook_name: str, call: Callable[[str, Any], None],
               errors: list[str]) -> None:
    """Call one hook plugin by plugin, built-ins first, so a failure is attributed and isolated."""
    impls = getattr(pm.hook, hook_name).get_hookimpls()
    impls.sort(key=lambda impl: not impl.plugin_name.startswith(OWN_DISTRIBUTION + "."))
    for impl in impls:
        try:
            call(impl.plugin_name, impl.function)
        except Exception as exc:
            errors.append(f"plugin {impl.plugin_name!r} failed in {hook_name}: {_describe(exc)}")


def collect(pm: pluggy.PluginManager, errors: list[str]) -> Components:
    """Fill the four registries from every loaded plugin."""
    components = Components(errors=errors)
    components.plugins = [name for name, _ in pm.list_name_plugin()]
    for kind in KINDS:
        registry = components.registry(kind)

        def call(plugin: str, function: Callable[..., None], registry: Any = registry) -> None:
            registry._current_plugin = plugin
            try:
                function(register=registry)
            except Exception:
                registry.remove_plugin(plugin)
                raise
            finally:
                registry._current_plugin = "<unknown>"

        _call_each(pm, _HOOK_FOR_KIND[kind], call, errors)
    return components


@functools.cache
def _load() -> tuple[pluggy.PluginManager, Components]:
    errors: list[str] = []
    pm = build_manager(errors)
    return pm, collect(pm, errors)


def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager (built once)."""
    return _load()[0]


def get_components() -> Components:
    """The process-wide registries (filled once)."""
    return _load()[1]


def register_commands(cli: Any) -> list[str]:
    """Let plugins add click commands; returns the errors met.

    A plugin may not replace a command that blockbench or another plugin
    added: the clash is reported naming both, and everything that plugin
    added is dropped, as for a duplicate component name.
    """
    errors: list[str] = []
    owners = dict.fromkeys(cli.commands, OWN_DISTRIBUTION)

    def call(plugin: str, function: Callable[..., None]) -> None:
        before = dict(cli.commands)
        try:
            function(cli=cli)
            clashes = sorted(n for n, cmd in cli.commands.items()
                             if n in before and cmd is not before[n])
            if clashes:
                raise PluginError(f"duplicate command name {clashes[0]!r}: registered by "
                                  f"{owners[clashes[0]]!r} and by plugin {plugin!r}")
        except Exception:
            cli.commands.clear()
            cli.commands.update(before)
            raise
        owners.update({n: plugin for n in cli.commands if n not in before})

    _call_each(get_plugin_manager(), "register_commands", call, errors)
    return errors


def reset() -> None:
    """Forget the loaded plugins (tests use this after changing the environment)."""
    _load.cache_clear()
