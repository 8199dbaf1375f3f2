"""A training batch that cannot fit in host memory is refused before the first run."""

from __future__ import annotations

import pytest

from blockbench.core.errors import UsageError
from blockbench.train import batch_memory


class _Tensor:
    def __init__(self, *shape: int | None) -> None:
        self.shape = shape


class _Layer:
    def __init__(self, *shape: int | None) -> None:
        self.output = _Tensor(None, *shape)


class _Model:
    layers = [_Layer(64, 64, 3), _Layer(32, 32, 16), _Layer(16, 16, 32)]


def test_activation_bytes_count_every_layer_output_of_a_batch() -> None:
    per_image = 64 * 64 * 3 + 32 * 32 * 16 + 16 * 16 * 32
    assert batch_memory.activation_bytes(_Model(), 24) == 24 * per_image * 4


def test_a_batch_larger_than_memory_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batch_memory, "memory_bytes", lambda: 1 << 20)
    with pytest.raises(UsageError, match=r"input size 64 is too large for backbone 'net'.*MiB") as info:
        batch_memory.check_training_fits(_Model(), 1000, 24, 64, "net", on_gpu=False)
    assert "\n" not in str(info.value)


def test_fits_or_unknown_or_on_a_gpu_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batch_memory, "memory_bytes", lambda: 1 << 40)
    batch_memory.check_training_fits(_Model(), 1000, 24, 64, "net", on_gpu=False)
    monkeypatch.setattr(batch_memory, "memory_bytes", lambda: None)
    batch_memory.check_training_fits(_Model(), 1000, 24, 64, "net", on_gpu=False)
    monkeypatch.setattr(batch_memory, "memory_bytes", lambda: 1)
    batch_memory.check_training_fits(_Model(), 1000, 24, 64, "net", on_gpu=True)


@pytest.mark.tf
def test_real_backbones_at_their_default_size_fit_a_24_gib_machine() -> None:
    """The estimate must not refuse the reference protocol on the smallest supported machine."""
    from blockbench.components.backbone import Weights
    from blockbench.plugin.manager import get_components
    from blockbench.train.engine import build_backbone

    factory = get_components().backbones.get("mobilenet-v2").factory
    model = build_backbone(factory, Weights.parse("none"), 224, factory.check_options({}))
    assert batch_memory.activation_bytes(model, 24) < 4 << 30
