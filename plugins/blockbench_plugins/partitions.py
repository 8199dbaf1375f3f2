"""Built-in partition strategies: ``delimiter`` (the reference), ``stage`` and ``uniform``.

All three walk the layers in the topological order Keras stores
(:func:`blockbench.components.partition.layer_order`) and cut only between layers, so
every block is a contiguous run of that order. A run of layers without
trainable weights never forms a block of its own: it joins the block before
it (it is the tail of that unit: an activation, a pooling, a residual ``Add``),
or the block after it when nothing precedes it (input rescaling, padding).
See ``docs/partitions.md``.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from blockbench.components.partition import (
    PartitionError,
    PartitionStrategy,
    layer_order,
    trainable_count,
)
from blockbench.core.errors import UsageError, suggest
from blockbench.plugin.hookspecs import hookimpl
from blockbench_plugins.stages import assign_units

if TYPE_CHECKING:
    import keras

#: Friendly delimiter names and the Keras layer classes each one stands for.
DELIMITER_GROUPS: dict[str, tuple[str, ...]] = {
    "activation": ("Activation", "ReLU", "LeakyReLU", "PReLU", "ELU", "Softmax"),
    "batchnorm": ("BatchNormalization", "SyncBatchNormalization"),
    "maxpool": ("MaxPooling1D", "MaxPooling2D", "MaxPooling3D"),
    "avgpool": ("AveragePooling1D", "AveragePooling2D", "AveragePooling3D"),
}
DELIMITER_GROUPS["pool"] = DELIMITER_GROUPS["maxpool"] + DELIMITER_GROUPS["avgpool"]
_DELIMITER_ALIASES = {"act": "activation", "bn": "batchnorm", "maxpooling": "maxpool",
                      "avgpooling": "avgpool", "pooling": "pool"}
_TOKEN_RE = re.compile(r"^[a-z_][a-z0-9_]*$")


def merge_weightless(segments: Iterable[Sequence[Any]]) -> list[list[Any]]:
    """Join every segment of layers without trainable weights to a neighbour.

    A block without weights would train only the head, repeating BL1. A
    weightless segment follows a cut, so it is the tail of the unit just closed
    (a ReLU after a BatchNorm cut, a pooling, an ``Add``): it joins the segment
    before it. A leading one (input rescaling, padding) joins the first segment
    with weights. With no weights at all there is nothing to fine-tune: an error.
    """
    blocks: list[list[Any]] = []
    pending: list[Any] = []
    for segment in segments:
        if any(trainable_count(layer) for layer in segment):
            blocks.append(pending + list(segment))
            pending = []
        elif blocks:
            blocks[-1].extend(segment)
        else:
            pending.extend(segment)
    if not blocks:
        raise PartitionError("the backbone has no trainable weights, so it has no blocks to train")
    return blocks


def names_of(blocks: Iterable[Sequence[Any]]) -> list[list[str]]:
    return [[layer.name for layer in block] for block in blocks]


def _delimiter_tokens(value: Any) -> list[str]:
    items = re.split(r"[,\s]+", value) if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not all(isinstance(i, str) for i in items):
        raise UsageError(f"delimiters must be a comma-separated list of layer types, got {value!r}")
    stripped = [t.strip().lower() for t in items if t.strip()]
    tokens = sorted({_DELIMITER_ALIASES.get(t, t) for t in stripped})
    bad = [t for t in tokens if not _TOKEN_RE.match(t)]
    if bad or not tokens:
        raise UsageError(
            f"delimiters {value!r} must name at least one layer type: "
            f"{', '.join(sorted(DELIMITER_GROUPS))} or a Keras layer class such as MaxPooling2D"
        )
    return tokens


class Delimiter(PartitionStrategy):
    """Cut after every delimiter layer (the reference method); default max pooling, activations, batch norm.

    Walks the layers in Keras's topological order and ends a block after each
    layer whose class is a delimiter. The default is the reference study's set,
    ``activation,batchnorm,maxpool``: MaxPooling, Activation/ReLU and
    BatchNormalization layers. With batch norm among them, a block is one
    weighted layer with its normalisation and activation (MobileNet: 27 blocks,
    one per convolution); VGG16 has no BatchNormalization or Activation layers
    (its ReLU lives inside Conv2D), so it is cut at its 5 poolings only. Runs
    without trainable weights join the block before them (see
    :func:`merge_weightless`).

    Options:
        delimiters: friendly names (activation, batchnorm, maxpool, avgpool,
            pool) or Keras layer class names (case-insensitive), as a list or a
            comma-separated string.
    """

    option_defaults: ClassVar[Mapping[str, Any]] = {
        "delimiters": ["activation", "batchnorm", "maxpool"],
    }

    def check_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        checked = super().check_options(options)
        checked["delimiters"] = _delimiter_tokens(checked["delimiters"])
        return checked

    def split(self, model: keras.Model, **options: Any) -> list[list[str]]:
        classes = self._classes(model, options["delimiters"])
        segments: list[list[Any]] = [[]]
        for layer in layer_order(model):
            segments[-1].append(layer)
            if type(layer).__name__.lower() in classes:
                segments.append([])
        return names_of(merge_weightless(s for s in segments if s))

    @staticmethod
    def _classes(model: keras.Model, tokens: Sequence[str]) -> set[str]:
        """Lower-cased class names the tokens stand for; unknown tokens are a UsageError."""
        in_model = {type(layer).__name__.lower() for layer in model.layers}
        classes: set[str] = set()
        for token in tokens:
            if token in DELIMITER_GROUPS:
                classes |= {c.lower() for c in DELIMITER_GROUPS[token]}
            elif token in in_model or token in _keras_layer_classes():
                classes.add(token)
            else:
                close = suggest(token, [*DELIMITER_GROUPS, *_keras_layer_classes().values()])
                hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
                raise UsageError(
                    f"unknown delimiter {token!r}.{hint} Use {', '.join(sorted(DELIMITER_GROUPS))} "
                    "or a Keras layer class name"
                )
        return classes


def _keras_layer_classes() -> dict[str, str]:
    """Keras layer class names by their lower-case form (imports Keras: split time only)."""
    import keras

    return {n.lower(): n for n in dir(keras.layers) if n[:1].isupper()}


class Stage(PartitionStrategy):
    """One block per unit of the architecture's own structure (residual, inverted-residual, dense block, cell).

    Units are recognised by layer-name patterns per family (see
    :mod:`blockbench_plugins.stages`), or by the user's ``pattern``: a regular
    expression whose first matching group names the unit. Layers outside any
    unit (stem, head convolution, merges) join the unit before them, the stem
    the first unit. An architecture with no known naming is a UsageError.

    Options:
        pattern: optional regular expression overriding the built-in families,
            e.g. ``^conv(\\d)_block`` for ResNet50V2's four stages.
    """

    option_defaults: ClassVar[Mapping[str, Any]] = {"pattern": ""}

    def check_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        checked = super().check_options(options)
        pattern = checked["pattern"]
        if not isinstance(pattern, str):
            raise UsageError(f"stage pattern must be a regular expression, got {pattern!r}")
        try:
            re.compile(pattern)
        except re.error as exc:
            raise UsageError(f"stage pattern {pattern!r} is not a valid regular expression: {exc}") from None
        return checked

    def split(self, model: keras.Model, **options: Any) -> list[list[str]]:
        layers = layer_order(model)
        units = assign_units([layer.name for layer in layers],
                             [trainable_count(layer) for layer in layers],
                             options["pattern"], model.name)
        segments: list[list[Any]] = []
        for i, layer in enumerate(layers):
            if i == 0 or units[i] != units[i - 1]:
                segments.append([])
            segments[-1].append(layer)
        return names_of(merge_weightless(segments))


class Uniform(PartitionStrategy):
    """k contiguous blocks (default 8) with trainable parameter counts as equal as the layers allow.

    Each layer with trainable weights starts an atom that runs to the next one
    (leading weightless layers join the first atom); the atoms are grouped into
    ``k`` runs minimising the sum of squared block sizes, which is the most
    even split (dynamic programming, exact and deterministic: ties cut early).

    Options:
        k: number of blocks, at most the number of layers with trainable weights.
    """

    option_defaults: ClassVar[Mapping[str, Any]] = {"k": 8}

    def check_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        checked = super().check_options(options)
        k = checked["k"]
        if isinstance(k, str) and k.strip().isdigit():
            k = int(k)
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise UsageError(f"uniform k must be a positive whole number of blocks, got {k!r}")
        checked["k"] = k
        return checked

    def split(self, model: keras.Model, **options: Any) -> list[list[str]]:
        atoms = merge_weightless([layer] for layer in layer_order(model))
        k = options["k"]
        if k > len(atoms):
            raise UsageError(
                f"uniform k={k} exceeds the {len(atoms)} layers with trainable weights in "
                f"{model.name!r}; use k <= {len(atoms)}"
            )
        bounds = even_split([sum(trainable_count(layer) for layer in a) for a in atoms], k)
        return [[layer.name for atom in atoms[a:b] for layer in atom]
                for a, b in itertools.pairwise(bounds)]


def even_split(sizes: Sequence[int], k: int) -> list[int]:
    """Boundaries ``[0, c1, ..., n]`` of ``k`` non-empty runs minimising the sum of squared run sums."""
    import numpy as np

    n = len(sizes)
    prefix = np.concatenate([[0.0], np.cumsum(np.asarray(sizes, dtype=np.float64))])
    best = np.full(n + 1, np.inf)
    best[0] = 0.0
    cut = np.zeros((k + 1, n + 1), dtype=np.int64)
    for j in range(1, k + 1):
        new = np.full(n + 1, np.inf)
        for i in range(j, n - (k - j) + 1):
            starts = np.arange(j - 1, i)
            costs = best[starts] + (prefix[i] - prefix[starts]) ** 2
            at = int(np.argmin(costs))
            new[i], cut[j, i] = costs[at], starts[at]
        best = new
    bounds = [n]
    for j in range(k, 0, -1):
        bounds.append(int(cut[j, bounds[-1]]))
    return bounds[::-1]


@hookimpl
def register_partitions(register) -> None:  # type: ignore[no-untyped-def]
    for name, strategy in (("delimiter", Delimiter), ("stage", Stage), ("uniform", Uniform)):
        register(name, strategy(), description=(strategy.__doc__ or "").splitlines()[0])
