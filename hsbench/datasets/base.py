"""What a dataset is to the runner: named images that load as cubes.

A :class:`Dataset` lists image ids and loads one image at a time, so a worker
process (or a Dask worker) that receives ``(dataset spec, data root, image id)``
can reopen the dataset and read just that image. :func:`open_dataset` turns a
spec string (``"kodak"``, ``"folder:PATH"``, ``"samples"`` ...) into a dataset.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from hsbench.cube import Cube

DEFAULT_DATA_ROOT = "datasets"
DATA_ROOT_ENV = "HSBENCH_DATA"


def resolve_data_root(data_root: str | os.PathLike[str] | None = None) -> Path:
    """The data root: the argument, else ``$HSBENCH_DATA``, else ``./datasets``."""
    if data_root is None:
        data_root = os.environ.get(DATA_ROOT_ENV) or DEFAULT_DATA_ROOT
    return Path(data_root).expanduser().resolve()


@dataclass(frozen=True)
class DatasetRef:
    """Everything a worker needs to reopen a dataset: spec, data root and selection options.

    Jobs carry this instead of arrays, so they stay small and picklable.
    """

    spec: str
    data_root: str
    options: tuple[tuple[str, Any], ...] = ()

    def open(self) -> "Dataset":
        from hsbench.datasets import open_dataset

        return open_dataset(self.spec, self.data_root, **dict(self.options))


class Dataset(ABC):
    """A named, ordered collection of images.

    ``name`` is what rows and plots show; ``ref`` reopens the same dataset in
    another process. ``train_spec`` names the dataset a learned codec may train
    on when none is given (never the images this dataset evaluates), or None.
    """

    name: str
    ref: DatasetRef
    train_spec: str | None = None

    @abstractmethod
    def image_ids(self) -> list[str]:
        """Ids of the images, in a stable order."""

    @abstractmethod
    def load(self, image_id: str) -> Cube:
        """Read one image as a validated :class:`Cube` (named ``image_id``)."""

    def image_shape(self, image_id: str) -> tuple[int, int, int]:
        """``(bands, rows, cols)`` of one image (selection and tiling use it to list tiles).

        The default loads the image; datasets that know their shapes answer without reading pixels.
        """
        return self.load(image_id).shape

    def info(self) -> dict[str, Any]:
        """Provenance for the run manifest (source, licence, citation ... where known)."""
        return {"name": self.name, "spec": self.ref.spec, "images": len(self.image_ids())}

    def __iter__(self) -> Iterator[Cube]:
        for image_id in self.image_ids():
            yield self.load(image_id)

    def __len__(self) -> int:
        return len(self.image_ids())


@dataclass
class DatasetInfo:
    """One line of ``hsbench datasets``."""

    name: str
    kind: str  # "embedded", "catalog", "local"
    description: str
    present: bool
    location: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
