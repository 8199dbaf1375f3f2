"""Hook declarations of the blockbench plugin host. Only declarations live here.

A plugin is a module named by an entry point of group ``blockbench``; it
implements any of these hooks, each decorated with ``@hookimpl``. What all
hooks share:

* **Loading.** Once per process, the first time blockbench needs its plugins
  (the CLI does as it builds its command group, at start-up), it imports every
  entry point's module, third-party ones first, then its own (skipping the
  third-party ones when ``BLOCKBENCH_DISABLE_PLUGIN_AUTOLOAD=1``). A module
  that fails to import, or whose hooks do not match these declarations (a
  misspelt hook or argument name), is not registered at all, so none of its
  hooks run.
* **Order.** Hooks are called plugin by plugin, blockbench's own plugins first,
  so a third-party plugin can never take a built-in name.
* **Failure.** An exception in one plugin's hook never stops the others. It
  becomes one line naming the plugin (``plugin 'DIST.NAME' failed in
  register_backbones: ValueError: ...``), which the CLI prints as one warning
  line on stderr, and what that plugin registered *in that hook* is dropped;
  its other hooks keep what they registered. A module that could not be
  registered is reported the same way (``plugin 'DIST.NAME' (MODULE) failed to
  load: ...``, ``plugin 'DIST.NAME' is invalid: ...``).
"""

from __future__ import annotations

from typing import Any

import pluggy

from blockbench.plugin.registry import (
    BackboneRegistry,
    DatasetRegistry,
    PartitionRegistry,
    PolicyRegistry,
)

hookspec = pluggy.HookspecMarker("blockbench")
hookimpl = pluggy.HookimplMarker("blockbench")


@hookspec
def register_backbones(register: BackboneRegistry) -> None:
    """Add backbone factories.

    Runs once per process, at the first lookup of any component (for the CLI:
    when its command group is built), before ``register_datasets``. It must be
    cheap: instantiate factories, never build a model or import TensorFlow.

    Args:
        register: the backbone registry. Call
            ``register(name, factory, *, description="", aliases=())`` once per
            backbone: ``name`` in lowercase words joined by hyphens
            (``"my-net"``), ``factory`` a
            :class:`~blockbench.components.backbone.BackboneFactory` instance,
            ``description`` one line for ``blockbench list`` (default: the first
            line of the factory's docstring), ``aliases`` other names that find
            it. Lookups ignore case, hyphens and underscores.

    On failure (an exception here, including the
    :class:`~blockbench.core.errors.PluginError` that ``register`` raises for a
    malformed name or one another plugin registered first), every backbone
    this plugin registered in this call is dropped, one warning line names the
    plugin, and the other plugins' backbones load as usual.
    """


@hookspec
def register_datasets(register: DatasetRegistry) -> None:
    """Add dataset factories.

    Runs once per process, at the first lookup of any component (for the CLI:
    when its command group is built), after ``register_backbones``. It must be
    cheap: instantiate factories, never load data or import TensorFlow.

    Args:
        register: the dataset registry. Call
            ``register(name, factory, *, description="", aliases=())`` once per
            dataset, ``factory`` a
            :class:`~blockbench.components.dataset.DatasetFactory` instance;
            names, descriptions and aliases as for ``register_backbones``.

    On failure (an exception here, including a ``PluginError`` from
    ``register`` for a malformed or taken name), every dataset this plugin
    registered in this call is dropped, one warning line names the plugin, and
    the other plugins' datasets load as usual.
    """


@hookspec
def register_partitions(register: PartitionRegistry) -> None:
    """Add partition strategies.

    Runs once per process, at the first lookup of any component (for the CLI:
    when its command group is built), after ``register_datasets``. It must be
    cheap: instantiate strategies, never build a model or import TensorFlow.

    Args:
        register: the partition registry. Call
            ``register(name, strategy, *, description="", aliases=())`` once per
            strategy, ``strategy`` a
            :class:`~blockbench.components.partition.PartitionStrategy`
            instance; names, descriptions and aliases as for ``register_backbones``.

    On failure (an exception here, including a ``PluginError`` from
    ``register`` for a malformed or taken name), every strategy this plugin
    registered in this call is dropped, one warning line names the plugin, and
    the other plugins' strategies load as usual.
    """


@hookspec
def register_policies(register: PolicyRegistry) -> None:
    """Add block-selection policies.

    Runs once per process, at the first lookup of any component (for the CLI:
    when its command group is built), after ``register_partitions``. It must be
    cheap: register the policy classes, never import Optuna or TensorFlow here.

    Args:
        register: the policy registry. Call
            ``register(name, policy_factory, *, description="", aliases=())`` once
            per policy, ``policy_factory`` the
            :class:`~blockbench.components.policy.Policy` subclass itself (or a
            callable taking the options as keywords and returning a Policy),
            since each search makes its own; names, descriptions and aliases as
            for ``register_backbones``.

    On failure (an exception here, including a ``PluginError`` from
    ``register`` for a malformed or taken name), every policy this plugin
    registered in this call is dropped, one warning line names the plugin, and
    the other plugins' policies load as usual.
    """


@hookspec
def register_commands(cli: Any) -> None:
    """Add click commands to the ``blockbench`` command group.

    Runs once per process, when the CLI builds its command group (at start-up,
    before the command line is parsed, so also for ``blockbench --help``), after
    blockbench's own commands are in the group. Keep the module that defines
    the commands free of heavy imports: ``--help`` pays for them.

    Args:
        cli: the ``blockbench`` :class:`click.Group`. Call
            ``cli.add_command(command)`` (or decorate with ``@cli.command()``).

    On failure (an exception here, or a command name that blockbench or another
    plugin already uses), the group is put back as it was before this plugin's
    hook, so every command it added is dropped; one warning line names the
    plugin, and the other plugins' commands load as usual.
    """
