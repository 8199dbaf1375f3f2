"""Built-in backbones (being written)."""

from __future__ import annotations
