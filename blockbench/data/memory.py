"""Whether a dataset decoded at an input size fits in this machine's memory.

Decoding allocates one uint8 array of N x S x S x 3 bytes for the whole
dataset (:func:`~blockbench.data.prepare.decode_images`), and resizes in
float32 batches of up to B images (B x S x S x 3 x 4 bytes) beside it; the
engine then trains from that array, casting a batch at a time to float32. An
input size whose array cannot be held is refused before decoding starts,
instead of ending in a ``MemoryError`` or the kernel killing the process.
"""

from __future__ import annotations

import os
from pathlib import Path

from blockbench.core.errors import UsageError

#: The cgroup (v2) limit of a container, when one applies.
_CGROUP_LIMIT = Path("/sys/fs/cgroup/memory.max")


def decoded_bytes(n_images: int, input_size: int, float_batch: int) -> int:
    """Bytes decoding ``n_images`` at ``input_size`` needs: the uint8 array and a resize batch.

    Resizing a batch holds its float32 result and the rounded copy beside the uint8 output.
    """
    pixels = int(input_size) ** 2 * 3
    return n_images * pixels + min(n_images, float_batch) * pixels * (4 + 4 + 1)


def memory_bytes() -> int | None:
    """This machine's physical memory, or its container's limit when lower (None: unknown)."""
    try:
        total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None
    try:
        limit = _CGROUP_LIMIT.read_text().strip()
    except OSError:
        return total
    return min(total, int(limit)) if limit.isdigit() else total


def check_decoded_fits(n_images: int, input_size: int, float_batch: int, name: str) -> None:
    """Refuse, in one line naming both amounts, a decoded dataset larger than the memory."""
    need, have = decoded_bytes(n_images, input_size, float_batch), memory_bytes()
    if have is None or need <= have:
        return
    raise UsageError(
        f"input size {input_size} is too large for dataset {name!r}: its {n_images} images "
        f"need {format_bytes(need)} of memory decoded ({n_images} x {input_size}x{input_size}x3 "
        f"bytes, plus float32 batches), and this machine has {format_bytes(have)}; use a smaller "
        "input size")


def format_bytes(n: int) -> str:
    """``n`` bytes in binary units, e.g. ``23.5 GiB``."""
    units = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")
    value, unit = float(n), 0
    while value >= 1024 and unit < len(units) - 1:
        value, unit = value / 1024, unit + 1
    return f"{value:.1f} {units[unit]}"
