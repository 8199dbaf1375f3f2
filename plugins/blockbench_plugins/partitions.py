"""Built-in partitions (being written)."""

from __future__ import annotations
