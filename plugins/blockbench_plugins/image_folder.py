"""Finding the files of an image folder: each real folder once, each distinct image once.

:func:`scan` walks an image folder's class folders (and its ``train/``,
``val/``, ``test/`` layout) and follows a symbolic link to a folder only if
the folder it leads to has not been walked and does not contain the image
folder: a link to ``.``, to a parent or to another class folder would
otherwise repeat images under several names, and so across the splits. Such
links are listed in a note. A link to a file is followed like any file.

:func:`read_unique` reads every image once, digests its bytes, and keeps one
copy of byte-identical images: the first (in split, class and path order,
so an official ``train/`` copy wins over a ``test/`` one) when every copy is
in one class; none when copies sit in different classes, since either label
may be the wrong one. Both are counted per class and listed in notes.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from blockbench.core.errors import UsageError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")
EXTENSIONS_TEXT = ", ".join(e.lstrip(".") for e in IMAGE_EXTENSIONS)
OFFICIAL = ("train", "val", "test")
_LISTED = 20

Groups = dict[str | None, dict[str, list[Path]]]
Item = tuple[str | None, int, Path]


@dataclass
class Scan:
    """The files of an image folder.

    Attributes:
        root: the image folder.
        groups: official split (or None) -> class name -> image files, in walk order.
        ignored: visible files without an image extension, and their class
            (``"top level"`` outside any class folder).
        links: folder links not followed, as ``"<link> -> <where it leads>"``.
        unlisted: folders that could not be listed.
    """

    root: Path
    groups: Groups = field(default_factory=dict)
    ignored: list[tuple[str, Path]] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    unlisted: list[Path] = field(default_factory=list)

    def notes(self) -> list[str]:
        """One line per kind of thing the walk left out: non-image files, links, unlistable folders."""
        notes = []
        if self.ignored:
            names = [p.relative_to(self.root).as_posix() for _, p in self.ignored]
            counts = per_class(Counter(owner for owner, _ in self.ignored))
            notes.append(f"ignored {len(names)} file(s) without an image extension ({counts}; "
                         f"images are {EXTENSIONS_TEXT}): {_listing(names)}")
        if self.links:
            notes.append(f"did not follow {len(self.links)} folder link(s) leading back to a folder "
                         f"already walked (a cycle or a repeat): {_listing(self.links)}")
        if self.unlisted:
            names = [p.relative_to(self.root).as_posix() for p in self.unlisted]
            notes.append(f"could not list {len(names)} folder(s): {_listing(names)}")
        return notes


@dataclass
class Unique:
    """The readable, distinct images of an image folder, and what was left out.

    Attributes:
        kept: (split, label, path relative to the folder, bytes, sha256 hex) per image kept.
        dropped: class name -> reason -> files left out.
        notes: one line per kind of file left out, counted per class.
    """

    kept: list[tuple[str | None, int, str, bytes, str]] = field(default_factory=list)
    dropped: dict[str, Counter[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def drop(self, class_name: str, reason: str) -> None:
        self.dropped.setdefault(class_name, Counter())[reason] += 1


def _identity(path: str | Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _contains(outer: str, inner: str) -> bool:
    return inner == outer or inner.startswith(outer.rstrip(os.sep) + os.sep)


class _Walker:
    """Lists image files below folders, entering each real folder at most once."""

    def __init__(self, root: Path) -> None:
        self.root, self.real_root = root, os.path.realpath(root)
        self.seen = {key for key in [_identity(root)] if key is not None}
        self.scan = Scan(root)

    def leads_back(self, path: Path, parent: Path) -> str | None:
        """Where a folder (link) leads, if entering it would walk a folder twice; else None.

        Twice: it is, or contains, the folder it sits in or the image folder
        (a cycle), or it was walked already (a repeat).
        """
        real = os.path.realpath(path)
        if not (_contains(real, os.path.realpath(parent)) or _contains(real, self.real_root)
                or _identity(real) in self.seen):
            return None
        inside = _contains(self.real_root, real)
        target = Path(os.path.relpath(real, self.real_root)).as_posix() if inside else real
        return "the image folder itself" if target == "." else target

    def note_link(self, path: Path, target: str) -> None:
        self.scan.links.append(f"{path.relative_to(self.root).as_posix()} -> {target}")

    def files(self, folder: Path, owner: str) -> list[Path]:
        """Image files below ``folder`` (of class ``owner``): its own files by name, then each
        sub-folder's, by name."""
        try:
            entries = sorted((e for e in os.scandir(folder) if not e.name.startswith(".")),
                             key=lambda e: e.name)
        except OSError:
            self.scan.unlisted.append(folder)
            return []
        images: list[Path] = []
        folders: list[Path] = []
        for entry in entries:
            path = Path(folder, entry.name)
            if entry.is_dir():
                folders.append(path)
            elif path.suffix.lower() in IMAGE_EXTENSIONS:
                images.append(path)
            else:
                self.scan.ignored.append((owner, path))
        for sub in folders:
            target = self.leads_back(sub, folder)
            if target is not None:
                self.note_link(sub, target)
                continue
            key = _identity(sub)
            if key is not None:
                self.seen.add(key)
            images.extend(self.files(sub, owner))
        return images


def _visible_dirs(walker: _Walker, base: Path) -> list[Path]:
    """Sub-folders of ``base`` (hidden ones and links leading back excluded); files are ignored."""
    out = []
    for path in sorted(p for p in base.iterdir() if not p.name.startswith(".")):
        if not path.is_dir():
            walker.scan.ignored.append(("top level", path))
        elif (target := walker.leads_back(path, base)) is not None:
            walker.note_link(path, target)
        else:
            out.append(path)
    return out


def official_splits(root: Path) -> list[str | None]:
    """The official splits an image folder's top level holds, or ``[None]``."""
    names = {p.name for p in root.iterdir() if not p.name.startswith(".") and p.is_dir()}
    if not {"train", "test"} <= names:
        return [None]
    extra = sorted(names - set(OFFICIAL))
    if extra:
        raise UsageError(f"image folder {str(root)!r} has train/ and test/ (an official "
                         f"split) but also {', '.join(extra)}; use only train, val, test")
    return [s for s in OFFICIAL if s in names]


def scan(root: Path, splits: list[str | None]) -> Scan:
    """The image files of every class folder (of every official split), each real folder once."""
    bases = [root / s if s else root for s in splits]
    walker = _Walker(root)
    classes = {base: _visible_dirs(walker, base) for base in bases}
    # Class folders are walked from the top: a link to one from inside another is a repeat.
    walker.seen |= {k for k in map(_identity, [*bases, *(c for cs in classes.values() for c in cs)])
                    if k is not None}
    for split, base in zip(splits, bases, strict=True):
        walker.scan.groups[split] = {c.name: walker.files(c, c.name) for c in classes[base]}
    return walker.scan


def _listing(items: list[str]) -> str:
    more = f" and {len(items) - _LISTED} more" if len(items) > _LISTED else ""
    return ", ".join(items[:_LISTED]) + more


def per_class(counts: Counter[str]) -> str:
    """``"roses 4, tulips 1"``: counts by class, in class order."""
    return ", ".join(f"{name} {n}" for name, n in sorted(counts.items()))


def read_unique(root: Path, items: list[Item], class_names: list[str]) -> Unique:
    """Read each image once; leave out unreadable files and byte-identical copies (see module)."""
    out = Unique()
    read: list[tuple[str | None, int, str, bytes, str]] = []
    unreadable: list[str] = []
    unreadable_counts: Counter[str] = Counter()
    for split, label, path in items:
        rel = path.relative_to(root).as_posix()
        try:
            data = path.read_bytes()
        except OSError:
            unreadable.append(rel)
            unreadable_counts[class_names[label]] += 1
            out.drop(class_names[label], "unreadable")
            continue
        read.append((split, label, rel, data, hashlib.sha256(data).hexdigest()))
    copies: dict[str, list[int]] = {}
    for i, entry in enumerate(read):
        copies.setdefault(entry[4], []).append(i)
    left_out: set[int] = set()
    repeats: list[str] = []
    conflicts: list[str] = []
    repeat_counts: Counter[str] = Counter()
    conflict_counts: Counter[str] = Counter()
    for group in (g for g in copies.values() if len(g) > 1):
        labels = {read[i][1] for i in group}
        if len(labels) == 1:
            name = class_names[read[group[0]][1]]
            for i in group[1:]:
                left_out.add(i)
                repeats.append(f"{read[i][2]} (= {read[group[0]][2]})")
                repeat_counts[name] += 1
                out.drop(name, "duplicates of a file in the same class")
            continue
        conflicts.append(" = ".join(read[i][2] for i in group))
        for i in group:
            left_out.add(i)
            name = class_names[read[i][1]]
            others = ", ".join(repr(class_names[c]) for c in sorted(labels - {read[i][1]}))
            conflict_counts[name] += 1
            out.drop(name, f"duplicates of images in class {others}")
    out.kept = [entry for i, entry in enumerate(read) if i not in left_out]
    if unreadable:
        out.notes.append(f"skipped {len(unreadable)} unreadable file(s) "
                         f"({per_class(unreadable_counts)}): "
                         f"{_listing(unreadable)}")
    if repeats:
        out.notes.append(f"left out {len(repeats)} byte-identical duplicate(s) of an image in the "
                         f"same class, one copy kept ({per_class(repeat_counts)}): "
                         f"{_listing(repeats)}")
    if conflicts:
        out.notes.append(f"left out {sum(conflict_counts.values())} image(s) whose identical copies "
                         f"are labelled with different classes, every copy, as either label may be "
                         f"wrong ({per_class(conflict_counts)}): {_listing(conflicts)}")
    return out
