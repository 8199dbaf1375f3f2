"""Public import path for plugin authors: re-exports :mod:`blockbench.core.errors`."""

from blockbench.core.errors import (
    BlockbenchError,
    PluginError,
    UnknownNameError,
    UsageError,
    suggest,
    unknown_name_message,
)

__all__ = [
    "BlockbenchError",
    "PluginError",
    "UnknownNameError",
    "UsageError",
    "suggest",
    "unknown_name_message",
]
