"""An input size whose decoded dataset cannot be held is refused before decoding, in one line."""

from __future__ import annotations

import re
from collections.abc import Iterator

import numpy as np
import pytest

from blockbench.components.dataset import DatasetSource, Example
from blockbench.core.errors import UsageError
from blockbench.data import memory
from blockbench.data.prepare import decode_source

GiB = 1 << 30


def test_decoded_bytes_counts_the_uint8_array_and_a_float32_batch() -> None:
    assert memory.decoded_bytes(1000, 100, 128) == 1000 * 100 * 100 * 3 + 128 * 100 * 100 * 3 * 9
    assert memory.decoded_bytes(10, 100, 128) == 10 * 30000 + 10 * 30000 * 9


def test_memory_is_the_physical_memory_or_a_lower_container_limit(tmp_path, monkeypatch) -> None:
    physical = memory.memory_bytes()
    assert physical is not None and physical > 0
    limit = tmp_path / "memory.max"
    monkeypatch.setattr(memory, "_CGROUP_LIMIT", limit)
    limit.write_text("max\n")
    assert memory.memory_bytes() == physical
    limit.write_text(f"{GiB}\n")
    assert memory.memory_bytes() == min(physical, GiB)


def test_too_large_is_one_line_naming_the_need_and_the_memory(monkeypatch) -> None:
    monkeypatch.setattr(memory, "memory_bytes", lambda: 16 * GiB)
    memory.check_decoded_fits(1000, 224, 128, "flowers")  # 150 MiB + 77 MiB: fine
    with pytest.raises(UsageError, match=re.escape(
            "input size 20000 is too large for dataset 'flowers': its 1000 images need 2.3 TiB "
            "of memory decoded (1000 x 20000x20000x3 bytes, plus float32 batches), and this "
            "machine has 16.0 GiB; use a smaller input size")):
        memory.check_decoded_fits(1000, 20000, 128, "flowers")


def _examples(n: int) -> Iterator[Example]:
    for i in range(n):
        yield Example(np.zeros((4, 4, 3), np.uint8), i % 2)


@pytest.mark.parametrize("lazy", [False, True], ids=["list", "iterator"])
def test_decoding_is_refused_before_it_starts(monkeypatch, lazy: bool) -> None:
    def no_decoding(*args: object) -> None:
        raise AssertionError("decoded although the arrays cannot be held")

    monkeypatch.setattr(memory, "memory_bytes", lambda: GiB)
    monkeypatch.setattr("blockbench.data.prepare.decode_images", no_decoding)
    examples = _examples(6) if lazy else list(_examples(6))
    source = DatasetSource(["a", "b"], examples, "fp")
    with pytest.raises(UsageError, match=r"its 6 images need 1\.6 TiB of memory decoded"):
        decode_source(source, 200000, name="tiny")
