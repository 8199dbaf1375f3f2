"""Recognise an architecture's own units (blocks, cells) from its layer names.

Keras applications name their layers after the unit they belong to
(``block_3_expand``, ``conv2_block1_1_conv``, ``block2a_dwconv``,
``normal_add_1_5``). :data:`FAMILIES` holds one or more regular expressions
per naming family; the first group that matches names the unit. The family
that claims the most trainable parameters wins, and :func:`assign_units`
gives every layer, named or not, a unit such that each unit is one
contiguous run of the topological order. This module imports no TensorFlow.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from blockbench.core.errors import UsageError

#: Naming families: regular expressions whose first non-empty group names a unit.
FAMILIES: dict[str, tuple[str, ...]] = {
    # VGG16 block1..block5; Xception block1..block14 (entry, middle and exit flows).
    "vgg-xception": (r"^(block\d+)_",),
    # MobileNet V1: depthwise-separable block i = conv_pad_i, conv_dw_i*, conv_pw_i*.
    "mobilenet": (r"^conv_(?:dw|pw|pad)_(\d+)(?:_|$)",),
    # MobileNetV2 inverted residuals: expanded_conv_* (block 0), block_1_* .. block_16_*.
    "mobilenet-v2": (r"^(block_\d+)_", r"^(expanded_conv)_(?!\d)"),
    # MobileNetV3: expanded_conv_* (block 0), expanded_conv_1_* ...
    "mobilenet-v3": (r"^(expanded_conv(?:_\d+)?)_",),
    # ResNet(V2) residual blocks and DenseNet conv blocks (conv2_block1_*), DenseNet transitions.
    "resnet-densenet": (r"^(conv\d+_block\d+)_", r"^(pool\d+)_(?:bn|relu|conv|pool)$"),
    # EfficientNet and EfficientNetV2 MBConv blocks: block1a_*, block2b_*.
    "efficientnet": (r"^(block\d+[a-z])_",),
    # RegNet (tf-keras naming): regnetx002_Stage_0_XBlock_0_*.
    "regnet": (r"_(Stage_\d+_XBlock_\d+)_",),
    # NASNet cells: reduction_*_stem_1, adjust_*_3, separable_conv_1_normal_left1_5, *_reduce_4.
    "nasnet": (r"^(?:normal|reduction|adjust|separable_conv)_.*?_((?:stem|reduce)_\d+|\d+)$",),
    # Generic stage naming, e.g. blockbench's demo backbone (stage1_conv).
    "stage-named": (r"^(stage\d+)_",),
}

#: Share of the trainable parameters the built-in families must recognise.
MIN_COVERAGE = 0.5


def unit_keys(names: Sequence[str], patterns: Sequence[str]) -> list[str | None]:
    """The unit each layer name belongs to under ``patterns`` (None where none matches)."""
    compiled = [re.compile(p) for p in patterns]
    keys: list[str | None] = []
    for name in names:
        key = None
        for regex in compiled:
            match = regex.search(name)
            if match:
                key = next((g for g in match.groups() if g), match.group(0))
                break
        keys.append(key)
    return keys


def _weighted_units(keys: Sequence[str | None], sizes: Sequence[int]) -> list[str | None]:
    """Drop units that own no trainable weights: they are not units to train."""
    owning = {k for k, s in zip(keys, sizes, strict=True) if k is not None and s}
    return [k if k in owning else None for k in keys]


def _coverage(keys: Sequence[str | None], sizes: Sequence[int]) -> tuple[int, int]:
    """Parameters in recognised units, then the number of units (finer naming wins ties)."""
    return sum(s for k, s in zip(keys, sizes, strict=True) if k is not None), len(set(keys) - {None})


def recognise(names: Sequence[str], sizes: Sequence[int], model_name: str = "the backbone",
              pattern: str = "") -> list[str | None]:
    """Unit keys of the best-matching family (or of ``pattern``); UsageError when none fits."""
    if pattern:
        keys = _weighted_units(unit_keys(names, [pattern]), sizes)
        if not any(keys):
            raise UsageError(
                f"stage pattern {pattern!r} matches no layer with trainable weights in "
                f"{model_name!r} (its layers include {', '.join(repr(n) for n in names[:3])})"
            )
        return keys
    total = sum(sizes)
    best: list[str | None] = [None] * len(names)
    for patterns in FAMILIES.values():
        keys = _weighted_units(unit_keys(names, patterns), sizes)
        if _coverage(keys, sizes) > _coverage(best, sizes):
            best = keys
    if len(set(best) - {None}) < 2 or _coverage(best, sizes)[0] < MIN_COVERAGE * total:
        sample = ", ".join(repr(n) for n in names[:3])
        raise UsageError(
            f"the stage partition does not recognise the unit naming of {model_name!r} "
            f"(layers {sample}, ...); use partition 'delimiter' or 'uniform', "
            "or give stage a pattern=REGEX whose group names the unit"
        )
    return best


def assign_units(names: Sequence[str], sizes: Sequence[int], pattern: str = "",
                 model_name: str = "the backbone") -> list[str]:
    """Give every layer a unit so that each unit is one contiguous run of the order.

    Units are ordered by their first layer with trainable weights. Keras's
    distance-to-output order can place a few layers of a unit inside its
    neighbour (NASNet places each cell's first ``adjust_relu`` among the
    previous cell's layers), so the assignment is the monotone one that
    misplaces the fewest named layers, misplacing a layer with weights only
    when nothing else works. Unnamed layers (stem, head, merges) cost nothing
    anywhere; ties put them in the unit before them, so the stem joins the
    first unit and the head the last.
    """
    keys = recognise(names, sizes, model_name, pattern)
    first: dict[str, int] = {}
    for position, (key, size) in enumerate(zip(keys, sizes, strict=True)):
        if key is not None and size and key not in first:
            first[key] = position
    units = sorted(first, key=first.__getitem__)
    index = {u: j for j, u in enumerate(units)}
    heavy = len(names) + 1  # one misplaced weight outweighs every misplaced weightless layer

    def cost(position: int, j: int) -> int:
        key = keys[position]
        if key is None or index[key] == j:
            return 0
        return heavy if sizes[position] else 1

    inf = float("inf")
    m = len(units)
    best = [cost(0, 0)] + [inf] * (m - 1)
    starts: list[list[bool]] = [[False] * m]
    for position in range(1, len(names)):
        row, new = [False] * m, [inf] * m
        for j in range(min(m, position + 1)):
            stay, move = best[j], best[j - 1] if j else inf
            row[j] = move <= stay
            new[j] = min(stay, move) + cost(position, j)
        best = new
        starts.append(row)
    assigned, j = [], m - 1
    for position in range(len(names) - 1, -1, -1):
        assigned.append(units[j])
        if starts[position][j]:
            j -= 1
    return assigned[::-1]
