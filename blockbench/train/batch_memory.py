"""Whether one training batch fits in memory, checked before the first run starts.

Training keeps every layer's output of a batch for the backward pass: at a
large input size that alone outgrows the machine, and the kernel kills the
process mid-run, which no failed-run record can catch. The estimate counts the
decoded images twice (the array and the tensor the engine feeds from) plus one
batch's float32 activations through the whole backbone (BL2, the largest run).
Only host memory is checked; on a GPU the activations live in device memory,
which the framework reports itself.
"""

from __future__ import annotations

import math
from typing import Any

from blockbench.core.errors import UsageError
from blockbench.data.memory import format_bytes, memory_bytes


def activation_bytes(model: Any, batch_size: int) -> int:
    """Bytes of one batch's float32 layer outputs through ``model`` (what backprop keeps)."""
    per_image = 0
    for layer in model.layers:
        outputs = layer.output if isinstance(layer.output, (list, tuple)) else [layer.output]
        for output in outputs:
            shape = tuple(output.shape[1:])
            if all(isinstance(d, int) for d in shape):
                per_image += math.prod(shape)
    return int(batch_size) * per_image * 4


def check_training_fits(model: Any, images_bytes: int, batch_size: int, input_size: int,
                        backbone: str, on_gpu: bool) -> None:
    """Refuse, in one line naming the memory needed, a batch that cannot fit in host memory."""
    have = memory_bytes()
    if have is None or on_gpu:
        return
    activations = activation_bytes(model, batch_size)
    need = 2 * images_bytes + activations
    if need <= have:
        return
    parts = f"{format_bytes(activations)} of activations for a batch of {batch_size}"
    if images_bytes:
        parts += f", {format_bytes(2 * images_bytes)} of images"
    raise UsageError(
        f"input size {input_size} is too large for backbone {backbone!r} on this machine: "
        f"training needs about {format_bytes(need)} ({parts}) and it has {format_bytes(have)}; "
        "use a smaller input size or batch_size")
