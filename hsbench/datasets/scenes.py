"""Catalog datasets read from the data root: single MAT scenes, HySpecNet-11k, EuroSAT MS, raw corpora.

Each class is built as ``Class(ref, data_root, entry, split=None)`` from its
:class:`~hsbench.datasets.catalog.CatalogEntry`, fails with the "put the files
at PATH or run `hsbench datasets download NAME`" message when files are
missing, and describes itself (licence, citation, bit depth, band selection,
split) in ``info()``.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

from hsbench.cube import Cube
from hsbench.datasets.base import Dataset, DatasetRef
from hsbench.datasets.catalog import CatalogEntry
from hsbench.errors import DatasetError


class CatalogDataset(Dataset):
    """Common part: the entry, the folder, the presence check, ``info`` and split parsing."""

    def __init__(self, ref: DatasetRef, data_root: Path, entry: CatalogEntry, split: str | None = None) -> None:
        from hsbench.datasets.download import missing_message

        self.ref = ref
        self.entry = entry
        self.name = entry.name
        self.folder = entry.folder(Path(data_root))
        missing = entry.missing(Path(data_root))
        if missing:
            raise DatasetError(missing_message(entry, Path(data_root), missing))
        if split is not None and split not in entry.splits:
            policy = f"its splits: {', '.join(entry.splits)}" if entry.splits else "it defines no splits"
            raise DatasetError(f"{entry.name} has no split {split!r} ({policy}; {entry.split_policy})")
        self.split = split

    def info(self) -> dict[str, Any]:
        return {**super().info(), **self.entry.describe(), "split": self.split, "location": str(self.folder)}


class MatSceneDataset(CatalogDataset):
    """One scene stored as a MAT-file variable (Indian Pines, Pavia University)."""

    def __init__(self, ref: DatasetRef, data_root: Path, entry: CatalogEntry, split: str | None = None) -> None:
        super().__init__(ref, data_root, entry, split)
        self.image = str(entry.extra.get("image", entry.name))
        self.path = self.folder / entry.files[0].path

    def image_ids(self) -> list[str]:
        return [self.image]

    def image_shape(self, image_id: str) -> tuple[int, int, int]:
        shape = self.entry.extra.get("shape")
        return tuple(shape) if shape else self.load(image_id).shape  # type: ignore[return-value]

    def load(self, image_id: str) -> Cube:
        if image_id != self.image:
            raise DatasetError(f"{self.name} has one image, {self.image!r}; not {image_id!r}")
        from hsbench.datasets.matlab import read_mat

        cube = read_mat(
            self.path,
            key=self.entry.extra.get("key"),
            dtype=self.entry.extra.get("dtype"),
            bit_depth=self.entry.bit_depth,
        )
        return cube.with_data(cube.data, name=self.image, meta={**cube.meta, "dataset": self.name})


#: HySpecNet-11k preprocessing (Fuchs & Demir 2023, sec. 3): 0-based EnMAP bands dropped, clip range.
HYSPECNET_DROPPED_BANDS = tuple(range(126, 141)) + tuple(range(160, 167))
HYSPECNET_KEPT_BANDS = tuple(b for b in range(224) if b not in HYSPECNET_DROPPED_BANDS)
HYSPECNET_CLIP = (0, 10000)


def hyspecnet_preprocess(data: np.ndarray) -> np.ndarray:
    """224 EnMAP bands -> the 202 HySpecNet bands, clipped to [0, 10000], as uint16.

    Drops 0-based bands 126-140 and 160-166 (strong water-vapour absorption), as
    the HySpecNet-11k paper and its reference code do.
    """
    if data.shape[0] != 224:
        raise DatasetError(f"a HySpecNet-11k patch has 224 bands, this one {data.shape[0]}")
    kept = data[list(HYSPECNET_KEPT_BANDS)]
    return np.clip(kept, *HYSPECNET_CLIP).astype(np.uint16)


class HySpecNetDataset(CatalogDataset):
    """HySpecNet-11k patches (``*-SPECTRAL_IMAGE.TIF``), 202 bands, uint16 with nominal 14 bits.

    ``split``: ``train`` / ``val`` / ``test`` (easy split) or ``easy:...`` / ``hard:...``;
    without a split every patch listed by the easy split files.
    """

    def __init__(self, ref: DatasetRef, data_root: Path, entry: CatalogEntry, split: str | None = None) -> None:
        super().__init__(ref, data_root, entry, split)
        self.base = self.folder / "hyspecnet-11k"
        strategy, _, part = (split or "").rpartition(":")
        self.strategy = strategy or "easy"
        parts = [part] if part else ["train", "val", "test"]
        self._paths: dict[str, Path] = {}
        for p in parts:
            csv_path = self.base / "splits" / self.strategy / f"{p}.csv"
            if not csv_path.exists():
                raise DatasetError(f"{csv_path} is missing; run `hsbench datasets download {self.name}`")
            with open(csv_path, newline="") as f:
                for row in csv.reader(f):
                    if not row or not row[0].strip():
                        continue
                    rel = row[0].strip().replace("DATA.npy", "SPECTRAL_IMAGE.TIF")
                    patch = Path(rel).name.removesuffix("-SPECTRAL_IMAGE.TIF")
                    self._paths[patch] = self.base / "patches" / rel

    def image_ids(self) -> list[str]:
        return list(self._paths)

    def image_shape(self, image_id: str) -> tuple[int, int, int]:
        return (len(HYSPECNET_KEPT_BANDS), 128, 128)

    def load(self, image_id: str) -> Cube:
        from hsbench.datasets.readers import read_image

        try:
            path = self._paths[image_id]
        except KeyError:
            raise DatasetError(f"{self.name} ({self.split or 'all'}) has no patch {image_id!r}") from None
        raw = read_image(path)
        data = hyspecnet_preprocess(raw.data)
        wl = raw.wavelengths
        return Cube(
            data,
            bit_depth=14,
            name=image_id,
            wavelengths=tuple(wl[i] for i in HYSPECNET_KEPT_BANDS) if wl else None,
            meta={"source": str(path), "dataset": self.name, "declared_range": HYSPECNET_CLIP, "bands": "202 of 224"},
        )


#: Sentinel-2 band centres (nm, S2A MSI) in EuroSAT's file order (torchgeo's ``all_band_names``).
EUROSAT_BANDS = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B09", "B10", "B11", "B12", "B8A")
EUROSAT_WAVELENGTHS = (442.7, 492.4, 559.8, 664.6, 704.1, 740.5, 782.8, 832.8, 945.1, 1373.5, 1613.7, 2202.4, 864.7)


class EuroSATDataset(CatalogDataset):
    """EuroSAT MS GeoTIFFs (13 bands, 64x64, uint16); splits from torchgeo's lists."""

    train_spec = None

    def __init__(self, ref: DatasetRef, data_root: Path, entry: CatalogEntry, split: str | None = None) -> None:
        super().__init__(ref, data_root, entry, split)
        tif_root = self.folder / str(entry.files[0].unpacked)
        names: list[str] = []
        for p in [split] if split else ["train", "val", "test"]:
            with open(self.folder / f"eurosat-{p}.txt") as f:
                names.extend(line.strip().replace(".jpg", ".tif") for line in f if line.strip())
        self._paths = {Path(n).stem: tif_root / n.split("_")[0] / n for n in names}

    def image_ids(self) -> list[str]:
        return list(self._paths)

    def image_shape(self, image_id: str) -> tuple[int, int, int]:
        return (13, 64, 64)

    def load(self, image_id: str) -> Cube:
        from hsbench.datasets.readers import read_image

        try:
            path = self._paths[image_id]
        except KeyError:
            raise DatasetError(f"{self.name} ({self.split or 'all'}) has no image {image_id!r}") from None
        cube = read_image(path, bit_depth=16)
        wl = EUROSAT_WAVELENGTHS if cube.bands == 13 else None
        return cube.with_data(cube.data, wavelengths=wl, meta={**cube.meta, "band_names": EUROSAT_BANDS, "dataset": self.name})


class RawCorpusDataset(CatalogDataset):
    """Raw BSQ scenes with their geometry in the file name (the CCSDS 123 corpus convention)."""

    @staticmethod
    def _scene_id(path: str) -> str:
        """The scene id: the file name up to its first ``.`` or ``-`` (``aviris_maine_f030828t01p00r05_sc10``)."""
        return Path(path).name.split(".")[0].split("-")[0]

    def image_ids(self) -> list[str]:
        return [self._scene_id(f.path) for f in self.entry.files]

    def load(self, image_id: str) -> Cube:
        from hsbench.datasets.readers import read_image

        for f in self.entry.files:
            if self._scene_id(f.path) == image_id:
                cube = read_image(self.folder / f.path)
                return cube.with_data(cube.data, name=image_id, meta={**cube.meta, "dataset": self.name})
        raise DatasetError(f"{self.name} has no scene {image_id!r}; scenes: {', '.join(self.image_ids())}")
