"""Built-in datasets: three TensorFlow Datasets collections and a folder of your own images.

Factories hand over encoded image bytes; the core decodes and resizes them. The TFDS
factory lives in :mod:`blockbench_plugins.tfds_datasets`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from blockbench.components.dataset import DatasetFactory, DatasetSource, Example
from blockbench.core.errors import UsageError
from blockbench.core.options import REQUIRED
from blockbench.plugin.hookspecs import hookimpl
from blockbench_plugins.image_folder import (
    EXTENSIONS_TEXT,
    IMAGE_EXTENSIONS,
    OFFICIAL,
    official_splits,
    read_unique,
    scan,
)
from blockbench_plugins.tfds_datasets import TFDSDataset

__all__ = ["IMAGE_EXTENSIONS", "ImageFolder", "TFDSDataset"]


class ImageFolder(DatasetFactory):
    """Your own images: path=<folder> with one sub-folder of images per class.

    Class names are the sorted sub-folder names; images are found by extension
    (jpg, jpeg, png, bmp, gif, any case) anywhere below a class folder; hidden
    files and folders are ignored. A folder whose top level is ``train/`` and
    ``test/`` (and optionally ``val/``), each holding class folders, carries
    an official split. A symbolic link to a folder is followed unless it leads
    back to a folder already walked (``.``, a parent, another class); each
    image is read once, and byte-identical images are kept once: one copy when
    every copy is in one class, none when copies sit in different classes (see
    :mod:`blockbench_plugins.image_folder`). Unreadable files are skipped;
    undecodable ones are skipped when decoded; all are counted per class and
    reported. The fingerprint digests every kept image's path relative to the
    folder, its size and its content, so a moved folder keeps its identity and
    an edited one does not.

    ``max_per_class=N`` keeps a seeded random sample of at most N images of each
    class (per official split), for quick experiments on a large folder; only
    the sample is read, so duplicates are looked for within it, and the
    fingerprint digests only the kept images.
    """

    option_defaults = {"path": REQUIRED, "max_per_class": None}
    OFFICIAL = OFFICIAL

    def check_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        checked = super().check_options(options)
        checked["path"] = str(self._root(checked["path"]))
        cap = checked["max_per_class"]
        if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or cap < 3):
            raise UsageError(f"image-folder max_per_class {cap!r} is not valid; use a whole "
                             "number of at least 3 (one image per split), or leave it out")
        return checked

    @staticmethod
    def _root(path: Any) -> Path:
        usage = "give path=<folder with one sub-folder of images per class>"
        if path is None or str(path).strip() == "":
            raise UsageError(f"dataset 'image-folder' needs the option path; {usage}")
        root = Path(str(path)).expanduser().absolute()
        if not root.is_dir():
            state = "is not a folder" if root.exists() else "does not exist"
            raise UsageError(f"image-folder path {str(root)!r} {state}; {usage}")
        return root

    def load(self, **options: Any) -> DatasetSource:
        checked = self.check_options(options)
        root = self._root(checked["path"])
        found = scan(root, official_splits(root))
        groups = found.groups
        if checked["max_per_class"] is not None:
            groups = _subsample(groups, int(checked["max_per_class"]))
        class_names = sorted({c for classes in groups.values() for c in classes})
        if len(class_names) < 2:
            listed = f" ({', '.join(class_names)})" if class_names else ""
            raise UsageError(f"image folder {str(root)!r} has {len(class_names)} class "
                             f"folder(s){listed}; at least 2 are needed, one per class")
        for name in class_names:
            count = sum(len(classes.get(name, ())) for classes in groups.values())
            if count == 0:
                raise UsageError(f"class {name!r} in image folder {str(root)!r} has 0 image "
                                 f"files ({EXTENSIONS_TEXT}); add images or remove the folder")
        items = [(split, class_names.index(name), path)
                 for split, classes in groups.items()
                 for name, paths in sorted(classes.items()) for path in paths]
        unique = read_unique(root, items, class_names)
        digest = hashlib.sha256()
        for _, _, rel, data, content in unique.kept:
            digest.update(f"{rel}\0{len(data)}\0{content}\n".encode())
        source = DatasetSource(class_names, [], f"image-folder:sha256:{digest.hexdigest()}",
                               has_official_split=None not in groups,
                               skipped=sum(c["unreadable"] for c in unique.dropped.values()),
                               notes=[*found.notes(), *unique.notes],
                               dropped={k: dict(v) for k, v in unique.dropped.items()})
        source.examples = [Example(data, label, split, rel)
                           for split, label, rel, data, _ in unique.kept]
        return source


@hookimpl
def register_datasets(register) -> None:  # type: ignore[no-untyped-def]
    register("oxford-flowers102",
             TFDSDataset("oxford_flowers102", {"train": "train", "validation": "val", "test": "test"},
                         {"train": 1020, "validation": 1020, "test": 6149}, 102),
             description="Oxford 102 Flowers (TFDS oxford_flowers102): 102 classes, 8,189 images, "
                         "official train/val/test", aliases=("flowers102",))
    register("caltech101", TFDSDataset("caltech101", {"train": "train", "test": "test"},
                                           {"train": 3060, "test": 6084}, 102),
             description="Caltech-101 (TFDS caltech101): 102 labels incl. background, 9,144 images, "
                         "official train (30 a class) / test; --official-split carves val "
                         "out of train")
    register("tf-flowers", TFDSDataset("tf_flowers", {"train": "train"}, {"train": 3670}, 5),
             description="TF Flowers (TFDS tf_flowers): 5 classes, 3,670 images, no official split")
    register("image-folder", ImageFolder(),
             description="Your images: path=<folder> with one sub-folder per class "
                         "(optionally inside train/ val/ test/)")


def _subsample(groups: dict[str | None, dict[str, list[Path]]], cap: int
               ) -> dict[str | None, dict[str, list[Path]]]:
    """At most ``cap`` files per class and split: a seeded sample, kept in path order."""
    import numpy as np

    rng = np.random.default_rng(0)
    kept: dict[str | None, dict[str, list[Path]]] = {}
    for split, classes in groups.items():
        kept[split] = {}
        for name, paths in sorted(classes.items()):
            ordered = sorted(paths)
            if len(ordered) > cap:
                chosen = np.sort(rng.choice(len(ordered), size=cap, replace=False))
                ordered = [ordered[i] for i in chosen]
            kept[split][name] = ordered
    return kept
