"""Datasets: named specs that open as :class:`~hsbench.datasets.base.Dataset` objects.

Specs understood by :func:`open_dataset`:

``samples``          scikit-image's bundled photographs (embedded, offline)
``samples-train``    other bundled photographs: training images for learned codecs on ``samples``
``synthetic-hsi``    deterministic synthetic hyperspectral scenes (embedded)
``kodak``            the Kodak set in ``DATA_ROOT/kodak``
``folder:PATH``      every PNG / JPEG / TIFF image in a folder
"""

from __future__ import annotations

import functools
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


def _kodak(ref: DatasetRef, root: Path) -> Dataset:
    from hsbench.datasets.local import KodakDataset

    return KodakDataset(ref, root)


#: Embedded datasets: name -> (factory, description).
EMBEDDED: dict[str, tuple[Callable[[DatasetRef, Path], Dataset], str]] = {
    "samples": (_samples, "scikit-image's bundled RGB photographs, 8 bit (offline)"),
    "samples-train": (_samples_train, "other scikit-image photographs, 8 bit: training set of learned codecs on samples"),
    "synthetic-hsi": (_synthetic, "synthetic hyperspectral scenes from real reflectance spectra (offline)"),
}

#: Named datasets looked up in the data root: name -> (factory, description).
LOCAL: dict[str, tuple[Callable[[DatasetRef, Path], Dataset], str]] = {
    "kodak": (_kodak, "Kodak PhotoCD, 24 RGB images 768x512, 8 bit"),
}


@functools.lru_cache(maxsize=16)
def _open_cached(spec: str, root: str, options: tuple[tuple[str, Any], ...]) -> Dataset:
    ref = DatasetRef(spec, root, options)
    data_root = Path(root)
    if spec.startswith("folder:"):
        from hsbench.datasets.local import FolderDataset

        folder = Path(spec[len("folder:") :]).expanduser()
        dataset: Dataset = FolderDataset(ref, folder.resolve(), name=f"folder:{folder.name}")
    elif spec in EMBEDDED:
        dataset = EMBEDDED[spec][0](ref, data_root)
    elif spec in LOCAL:
        dataset = LOCAL[spec][0](ref, data_root)
    else:
        known = ", ".join(sorted(EMBEDDED) + sorted(LOCAL))
        raise DatasetError(f"unknown dataset {spec!r}; known: {known}, or folder:PATH (`hsbench datasets` lists them)")
    if options:
        raise DatasetError(f"dataset options {dict(options)} are not supported yet")
    return dataset


def open_dataset(spec: str, data_root: str | os.PathLike[str] | None = None, **options: Any) -> Dataset:
    """Open the dataset named by ``spec`` (see the module docstring) under ``data_root``.

    Opened datasets are cached per process, so workers reopen each one once.
    """
    root = str(resolve_data_root(data_root))
    return _open_cached(spec, root, tuple(sorted(options.items())))


def list_datasets(data_root: str | os.PathLike[str] | None = None) -> list[DatasetInfo]:
    """Every named dataset, and whether it is usable here."""
    root = resolve_data_root(data_root)
    infos = [DatasetInfo(name, "embedded", desc, True) for name, (_, desc) in EMBEDDED.items()]
    for name, (_, desc) in LOCAL.items():
        try:
            open_dataset(name, root)
            present, where = True, str(root / name)
        except DatasetError:
            present, where = False, str(root / name)
        infos.append(DatasetInfo(name, "local", desc, present, where))
    return infos
