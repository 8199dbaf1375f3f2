"""TensorFlow Datasets collections, loaded through TFDS's own builders.

``tensorflow_datasets`` is imported only inside :meth:`TFDSDataset.load` and
:meth:`TFDSDataset.describe`. A load
that fails becomes one line saying what to do: no network (download it elsewhere,
or point ``data_dir`` / ``TFDS_DATA_DIR`` at a prepared copy), not prepared where
TFDS looked, or a Python module that TFDS's preparation code imports but that is
not installed (the ``pip install`` to run).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from blockbench.components.dataset import DatasetFactory, DatasetSource, DatasetSummary, Example
from blockbench.core.errors import BlockbenchError, UsageError
from blockbench.core.quiet import is_quiet

__all__ = ["TFDSDataset"]

_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}
#: Distributions whose import name differs from the name ``pip install`` wants.
_PIP_NAMES = {"importlib_resources": "importlib-resources", "PIL": "Pillow", "yaml": "pyyaml",
              "cv2": "opencv-python", "skimage": "scikit-image", "sklearn": "scikit-learn"}
#: Exceptions of these names from these packages mean the network could not be reached.
_NETWORK = {"requests": {"ConnectionError", "Timeout", "SSLError", "ProxyError"},
            "urllib3": {"NewConnectionError", "MaxRetryError", "NameResolutionError"},
            "urllib": {"URLError"}}
_OFFLINE_HINT = ("or point `--dataset-option data_dir=...` (or `TFDS_DATA_DIR`) at a "
                 "prepared copy")


def _import_tfds() -> Any:
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        raise BlockbenchError("TFDS datasets need tensorflow-datasets, a dependency of blockbench "
                              "that is not installed: pip install tensorflow-datasets") from None
    return tfds


def _as_bool(option: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if str(value).strip().lower() in _TRUE | _FALSE:
        return str(value).strip().lower() in _TRUE
    raise UsageError(f"dataset option {option}={value!r} is not valid; use true or false")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@contextlib.contextmanager
def _absl_warnings_quiet() -> Iterator[None]:
    """In quiet mode, no absl warnings such as "Variant folder ... has no dataset_info.json"."""
    absl = logging.getLogger("absl")
    level = absl.level
    if is_quiet():
        absl.setLevel(logging.ERROR)
    try:
        yield
    finally:
        absl.setLevel(level)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and the exceptions it was raised from or while handling."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _is_network(exc: BaseException) -> bool:
    if isinstance(exc, ConnectionError | TimeoutError):
        return True
    return any(cls.__module__.split(".")[0] in _NETWORK
               and cls.__name__ in _NETWORK[cls.__module__.split(".")[0]]
               for cls in type(exc).__mro__)


class TFDSDataset(DatasetFactory):
    """A TensorFlow Datasets collection, all official splits pooled (each example keeps its split).

    Options:
        data_dir: TFDS data directory (default: the environment variable
            ``TFDS_DATA_DIR``, else ``~/tensorflow_datasets``; TFDS itself decides).
        download: download and prepare the data if it is not in ``data_dir``.

    The fingerprint is the TFDS name, config and version (``info.full_name``),
    not the data directory: the same release is the same data anywhere.
    """

    option_defaults = {"data_dir": None, "download": True}
    _REF_FEATURES = ("file_name", "image/file_name")

    def __init__(self, tfds_name: str, splits: Mapping[str, str],
                 published: Mapping[str, int] | None = None, n_classes: int | None = None) -> None:
        """A TFDS collection.

        Args:
            tfds_name: the TFDS name.
            splits: TFDS split names mapped to blockbench's ("validation" -> "val").
            published: examples per TFDS split of the release, for a plan made before the
                data is downloaded (:meth:`describe`); None: a plan needs a prepared copy.
            n_classes: classes of the release (with ``published``).
        """
        self.tfds_name = tfds_name
        self.splits = dict(splits)
        self.published = dict(published) if published else None
        self.n_classes = n_classes

    def describe(self, **options: Any) -> DatasetSummary | None:
        """Counts of the prepared copy when there is one, else of the published release.

        Never downloads: TFDS's builder knows its name, version and classes from its code.
        """
        options = self.check_options(options)
        tfds = _import_tfds()
        with _absl_warnings_quiet():
            try:
                builder = tfds.builder(self.tfds_name, data_dir=options["data_dir"])
            except Exception as exc:
                raise self._failure(tfds, exc, options) from exc
            info = builder.info
            prepared = builder.is_prepared()
        names = info.features["label"].names
        counts = ({k: int(v.num_examples) for k, v in info.splits.items()} if prepared
                  else dict(self.published or {}))
        if not counts:
            return None
        official = len(self.splits) > 1
        examples: dict[str | None, int] = {}
        for tfds_split, count in counts.items():
            if tfds_split in self.splits:
                key = self.splits[tfds_split] if official else None
                examples[key] = examples.get(key, 0) + count
        note = (f"prepared copy in {builder.data_dir}" if prepared
                else f"published sizes of {info.full_name} (not downloaded here)")
        return DatasetSummary(len(names) if names else int(self.n_classes or 0), examples,
                              f"tfds:{info.full_name}", note)

    def check_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        checked = super().check_options(options)
        checked["download"] = _as_bool("download", checked["download"])
        if checked["data_dir"] is not None:
            checked["data_dir"] = str(Path(str(checked["data_dir"])).expanduser())
        return checked

    def load(self, **options: Any) -> DatasetSource:
        options = self.check_options(options)
        tfds = _import_tfds()
        with _absl_warnings_quiet():
            try:
                if options["download"]:
                    self._check_reachable(tfds, options)
                datasets, info = tfds.load(
                    self.tfds_name, split=list(self.splits), data_dir=options["data_dir"],
                    download=options["download"], with_info=True,
                    # keep the JPEG bytes: small until resized
                    decoders={"image": tfds.decode.SkipDecoding()},
                )
            except Exception as exc:
                raise self._failure(tfds, exc, options) from exc
        return DatasetSource(
            class_names=list(info.features["label"].names),
            examples=self._examples(tfds, datasets),
            fingerprint=f"tfds:{info.full_name}",
            has_official_split=len(self.splits) > 1,
        )

    def _check_reachable(self, tfds: Any, options: Mapping[str, Any]) -> None:
        """Fail at once, before TFDS's retries, when a download's host name does not resolve.

        Only when the data is not prepared yet. TFDS retries each URL ten times
        with back-off, printing a warning each time: offline, minutes of noise
        before one useful line. A name that does not resolve will not resolve on
        a retry either; anything else (a slow or refusing server) is left to TFDS.
        A host reached through a proxy is not looked up here: the proxy resolves it.
        """
        import socket
        import urllib.request
        from urllib.parse import urlsplit

        builder = tfds.builder(self.tfds_name, data_dir=options["data_dir"])
        if builder.is_prepared():
            return
        hosts = sorted({urlsplit(url).hostname for url in (builder.url_infos or {})} - {None})
        proxied = bool(urllib.request.getproxies().get("https"))
        for host in hosts:
            if proxied and not urllib.request.proxy_bypass(host):
                continue
            try:
                socket.getaddrinfo(host, 443, type=socket.SOCK_STREAM)
            except OSError as exc:  # socket.gaierror: no DNS, so no network for this download
                raise ConnectionError(f"cannot resolve {host}: {exc}") from exc

    def _failure(self, tfds: Any, exc: Exception, options: Mapping[str, Any]) -> BlockbenchError:
        """The one line that says what went wrong and what to do."""
        name = self.tfds_name
        chain = list(_chain(exc))
        missing = next((e for e in chain if isinstance(e, ImportError)), None)
        if missing is not None:
            module = (missing.name or _first_line(missing)).split(".")[0]
            if module == "tensorflow":
                return BlockbenchError(
                    f"TFDS dataset {name!r} needs TensorFlow, which cannot be imported here "
                    f"({_first_line(missing)}): pip install tensorflow; image folders and the "
                    "demo dataset need none (KERAS_BACKEND=jax)")
            return BlockbenchError(
                f"loading {name} through TFDS needs the Python module {module!r}, which is not "
                f"installed: pip install {_PIP_NAMES.get(module, module)}")
        if any(_is_network(e) for e in chain):
            return BlockbenchError(f"downloading {name} needs network access; {_OFFLINE_HINT}")
        looked = self._prepared_dir(tfds, options)
        if looked is not None and not options["download"]:
            return UsageError(
                f"{name} is not prepared in {looked} and download=false; prepare it there with "
                f"`--dataset-option download=true` (needs network access), {_OFFLINE_HINT}")
        download_error = getattr(tfds.download, "DownloadError", ())
        if options["download"] and any(isinstance(e, download_error) for e in chain):
            return BlockbenchError(f"downloading {name} failed ({_first_line(exc)}); "
                                   f"{_OFFLINE_HINT}")
        where = options["data_dir"] or self._default_data_dir()
        return BlockbenchError(f"could not load TFDS dataset {name!r} from {where} "
                               f"({_first_line(exc)})")

    def _prepared_dir(self, tfds: Any, options: Mapping[str, Any]) -> str | None:
        """Where TFDS looks for the prepared release, if it is not there (else None)."""
        try:
            builder = tfds.builder(self.tfds_name, data_dir=options["data_dir"])
            return None if builder.is_prepared() else str(builder.data_dir)
        except Exception:  # the original error says more than a second failure
            return None

    @staticmethod
    def _default_data_dir() -> str:
        from tensorflow_datasets.core import constants

        # What TFDS uses: TFDS_DATA_DIR as it was when TFDS was imported, else ~/tensorflow_datasets.
        return str(constants.DATA_DIR)

    def _examples(self, tfds: Any, datasets: list[Any]) -> Iterator[Example]:
        official = len(self.splits) > 1
        for tfds_split, dataset in zip(self.splits, datasets, strict=True):
            for i, record in enumerate(tfds.as_numpy(dataset)):
                name = next((record[k] for k in self._REF_FEATURES if k in record), None)
                ref = name.decode(errors="replace") if isinstance(name, bytes) else ""
                yield Example(
                    image=bytes(record["image"]),
                    label=int(record["label"]),
                    split=self.splits[tfds_split] if official else None,
                    ref=f"{self.tfds_name}/{tfds_split}#{i}" + (f" ({ref})" if ref else ""),
                )
