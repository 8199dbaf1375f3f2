"""Shared fixtures: offline assets, quiet TensorFlow, fresh plugin state."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

REPO = Path(__file__).resolve().parents[1]
ASSETS = Path(os.environ.get("BLOCKBENCH_ASSETS", REPO.parent / "shared" / "assets"))


@pytest.fixture(scope="session")
def assets_dir() -> Path:
    """``../shared/assets``; tests using it skip where it is absent (a user's machine)."""
    if not (ASSETS / "flowers5").is_dir():
        pytest.skip(f"offline assets not found at {ASSETS}")
    return ASSETS


@pytest.fixture
def fresh_plugins(monkeypatch: pytest.MonkeyPatch):
    """Forget loaded plugins before and after a test that changes the plugin environment."""
    from blockbench.plugin import manager as plugins

    plugins.reset()
    yield plugins
    plugins.reset()
