"""Built-in datasets (being written)."""

from __future__ import annotations
