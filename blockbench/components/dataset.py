"""The dataset contract: a registered factory that yields labelled images."""

from __future__ import annotations

import abc
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from blockbench.core.options import REQUIRED as REQUIRED  # re-exported: plugins declare with it
from blockbench.core.options import complete_options

if TYPE_CHECKING:
    import numpy as np

#: Split names used everywhere in blockbench.
SPLITS = ("train", "val", "test")


@dataclass
class Example:
    """One labelled image.

    Attributes:
        image: encoded image bytes (JPEG, PNG, ...) or a decoded uint8 HxWx3 array.
        label: class index into the source's ``class_names``.
        split: the dataset's official split ("train", "val" or "test") or None.
        ref: where it came from (a file path or record id), for error reports.
    """

    image: bytes | np.ndarray
    label: int
    split: str | None = None
    ref: str = ""


@dataclass
class DatasetSource:
    """What a dataset factory returns: classes, examples and an identity.

    Attributes:
        class_names: names of the classes, indexed by label.
        examples: the labelled images (a list or a one-shot iterable).
        fingerprint: identifies the content (e.g. TFDS name and version, or a
            digest of file names and sizes); it enters every run's hash.
        has_official_split: whether examples carry their official split.
        skipped: images the factory could not read (reported, never fatal).
        notes: human-readable remarks to report (e.g. skipped file names),
            each one line, best written ``"<what, with counts>: <examples>"``
            so the part before ``": "`` makes a summary.
        dropped: files the factory left out, by class name and reason, e.g.
            ``{"roses": {"unreadable": 2}}``: they explain a class that ends up
            with no image ("roses: 2 files, all unreadable").
    """

    class_names: list[str]
    examples: Iterable[Example]
    fingerprint: str
    has_official_split: bool = False
    skipped: int = 0
    notes: list[str] = field(default_factory=list)
    dropped: dict[str, dict[str, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class DatasetSummary:
    """What a dataset is, told without reading its images: enough to plan a study.

    Attributes:
        n_classes: number of classes.
        examples: number of examples by official split ("train", "val",
            "test"), or ``{None: n}`` for a dataset without one.
        fingerprint: the fingerprint :meth:`DatasetFactory.load` would give,
            or None when it cannot be known without the data.
        note: where the numbers come from, e.g. "prepared copy in ~/tensorflow_datasets"
            or "published sizes; not downloaded yet".
    """

    n_classes: int
    examples: Mapping[str | None, int]
    fingerprint: str | None = None
    note: str = ""


class DatasetFactory(abc.ABC):
    """Provides one dataset.

    Lifecycle:
        1. Instantiated and registered at plugin load; cheap, no TensorFlow import.
        2. :meth:`check_options` validates the user's options (e.g. ``path``)
           and returns them completed with defaults; the host calls it before
           TensorFlow is imported, so a bad or missing option fails at once.
        3. :meth:`load` receives the options as :meth:`check_options` returned
           them and returns a :class:`DatasetSource`. The core decodes and
           resizes the images to the backbone's input size, skips and counts
           unreadable ones, and makes the split; a factory never resizes.

    ``compare --dry-run`` plans a study without training: it calls
    :meth:`describe` and, when that returns None, :meth:`load` (without
    decoding) to count the examples. A factory whose data may not be
    available yet (a download) describes itself, so a plan needs no network.

    Attributes:
        option_defaults: accepted options and their defaults;
            :data:`~blockbench.core.options.REQUIRED` marks one the user must give.
    """

    option_defaults: ClassVar[Mapping[str, Any]] = {}

    def check_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """Validate options and return them completed with defaults."""
        return complete_options(options, self.option_defaults, "dataset")

    @abc.abstractmethod
    def load(self, **options: Any) -> DatasetSource:
        """Return the dataset's examples."""

    def describe(self, **options: Any) -> DatasetSummary | None:
        """Class and example counts without reading the images, or None to let a plan load them.

        Receives the options as :meth:`check_options` returned them. Never downloads.
        """
        return None
