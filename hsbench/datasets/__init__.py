"""Datasets: named specs that open as :class:`~hsbench.datasets.base.Dataset` objects.

Specs understood by :func:`open_dataset`:

``samples``          scikit-image's bundled photographs (embedded, offline)
``samples-train``    other bundled photographs: training images for learned codecs on ``samples``
``synthetic-hsi``    deterministic synthetic hyperspectral scenes (embedded)
``synthetic-hsi-train``  more scenes of the same generator, for training learned codecs
catalog names        ``kodak``, ``indian-pines``, ``pavia-university``, ``hyspecnet-11k``,
                     ``eurosat-ms``, ``ccsds123-corpus`` in ``DATA_ROOT/NAME``
                     (:mod:`hsbench.datasets.catalog`; ``hsbench datasets download NAME``)
``folder:PATH``      every readable image in a folder (PNG, JPEG, TIFF, ENVI, MAT, NPY, PDS3 ...)
``file:PATH``        one image file (a bare path to an existing file works too)

Options (strings or ints; see :mod:`hsbench.datasets.selection`): ``split``,
``max_images``, ``bands``, ``crop``, ``tile``, ``tile_edges``, and for folder /
file specs the reader options ``key`` (MAT variable), ``layout``, ``bit_depth``,
``dtype`` (MAT integral data stored as double: its integer type and signedness).
"""

from __future__ import annotations

import functools
import importlib
import os
from pathlib import Path
from typing import Any, Callable

from hsbench.datasets.base import (
    DATA_ROOT_ENV,
    Dataset,
    DatasetInfo,
    DatasetRef,
    resolve_data_root,
)
from hsbench.errors import DatasetError

__all__ = [
    "DATA_ROOT_ENV",
    "Dataset",
    "DatasetInfo",
    "DatasetRef",
    "EMBEDDED",
    "list_datasets",
    "open_dataset",
    "resolve_data_root",
]


def _samples(ref: DatasetRef, root: Path) -> Dataset:
    from hsbench.datasets.embedded import SamplesDataset

    return SamplesDataset(ref)


def _samples_train(ref: DatasetRef, root: Path) -> Dataset:
    from hsbench.datasets.embedded import SamplesTrainDataset

    return SamplesTrainDataset(ref)


def _synthetic(ref: DatasetRef, root: Path) -> Dataset:
    from hsbench.datasets.synthetic import SyntheticHSIDataset

    return SyntheticHSIDataset(ref)


def _synthetic_train(ref: DatasetRef, root: Path) -> Dataset:
    from hsbench.datasets.synthetic import SyntheticHSIDataset

    return SyntheticHSIDataset(ref, split="train")


#: Embedded datasets: name -> (factory, description).
EMBEDDED: dict[str, tuple[Callable[[DatasetRef, Path], Dataset], str]] = {
    "samples": (_samples, "scikit-image's bundled RGB photographs, 8 bit (offline)"),
    "samples-train": (_samples_train, "other scikit-image photographs, 8 bit: training set of learned codecs on samples"),
    "synthetic-hsi": (_synthetic, "synthetic hyperspectral scenes from real reflectance spectra (offline)"),
    "synthetic-hsi-train": (_synthetic_train, "more synthetic-hsi scenes (other seeds) to train learned codecs on"),
}


def _open_catalog(name: str, ref: DatasetRef, root: Path, split: str | None) -> Dataset:
    from hsbench.datasets.catalog import CATALOG

    entry = CATALOG[name]
    module, _, cls_name = entry.dataset_class.partition(":")
    cls = getattr(importlib.import_module(module), cls_name)
    return cls(ref, root, entry, split=split)


def _catalog_names() -> list[str]:
    from hsbench.datasets.catalog import CATALOG

    return list(CATALOG)


def _open_base(spec: str, ref: DatasetRef, data_root: Path, options: dict[str, str]) -> Dataset:
    from hsbench.datasets.selection import READER_OPTIONS

    split = options.get("split")
    reader_options: dict[str, Any] = {k: options[k] for k in READER_OPTIONS if k in options}
    if "bit_depth" in reader_options:
        reader_options["bit_depth"] = int(reader_options["bit_depth"])
    is_path = spec.startswith(("folder:", "file:")) or (
        spec not in EMBEDDED and spec not in _catalog_names() and Path(spec).expanduser().is_file()
    )
    if reader_options and not is_path:
        raise DatasetError(
            f"reader options {sorted(reader_options)} apply to folder:PATH / file:PATH specs, not to {spec!r}"
        )
    if is_path:
        if split is not None:
            raise DatasetError(f"{spec}: a folder or file defines no splits; drop split={split!r}")
        from hsbench.datasets.local import FileDataset, FolderDataset

        if spec.startswith("folder:"):
            folder = Path(spec[len("folder:") :]).expanduser()
            return FolderDataset(ref, folder.resolve(), name=f"folder:{folder.name}", reader_options=reader_options)
        path = Path(spec[len("file:") :] if spec.startswith("file:") else spec).expanduser()
        return FileDataset(ref, path.resolve(), reader_options=reader_options)
    if spec in EMBEDDED:
        if split is not None:
            raise DatasetError(f"{spec} defines no splits; drop split={split!r}")
        return EMBEDDED[spec][0](ref, data_root)
    if spec in _catalog_names():
        return _open_catalog(spec, ref, data_root, split)
    known = ", ".join(sorted(EMBEDDED) + _catalog_names())
    raise DatasetError(
        f"unknown dataset {spec!r}; known: {known}, or folder:PATH / file:PATH (`hsbench datasets` lists them)"
    )


@functools.lru_cache(maxsize=16)
def _open_cached(spec: str, root: str, options: tuple[tuple[str, str], ...]) -> Dataset:
    from hsbench.datasets.selection import DATASET_OPTIONS, READER_OPTIONS, SelectedDataset

    opts = dict(options)
    base_keys = DATASET_OPTIONS + READER_OPTIONS
    base_options = tuple((k, v) for k, v in options if k in base_keys)
    base = _open_base(spec, DatasetRef(spec, root, base_options), Path(root), opts)
    selection = {k: v for k, v in opts.items() if k not in base_keys}
    if not selection:
        return base
    return SelectedDataset(base, DatasetRef(spec, root, options), selection)


def open_dataset(spec: str, data_root: str | os.PathLike[str] | None = None, **options: Any) -> Dataset:
    """Open the dataset named by ``spec`` (see the module docstring) under ``data_root``.

    ``options`` select a split, images, bands, a crop or tiles; they are normalised to
    strings (:func:`hsbench.datasets.selection.normalize_options`) and kept in
    ``dataset.ref.options``. Opened datasets are cached per process, so workers
    reopen each one once.
    """
    from hsbench.datasets.selection import normalize_options

    root = str(resolve_data_root(data_root))
    return _open_cached(spec, root, normalize_options(options))


def list_datasets(data_root: str | os.PathLike[str] | None = None) -> list[DatasetInfo]:
    """Every named dataset, and whether its files are in the data root (embedded ones always are)."""
    from hsbench.datasets.catalog import CATALOG

    root = resolve_data_root(data_root)
    infos = [DatasetInfo(name, "embedded", desc, True) for name, (_, desc) in EMBEDDED.items()]
    for name, entry in CATALOG.items():
        missing = entry.missing(root)
        infos.append(
            DatasetInfo(
                name,
                "catalog",
                entry.description,
                not missing,
                str(entry.folder(root)),
                {"missing": len(missing), "files": len(entry.files)},
            )
        )
    return infos
