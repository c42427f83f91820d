"""Datasets read from local folders: ``folder:PATH`` and Kodak in the data root."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hsbench.cube import Cube
from hsbench.datasets.base import Dataset, DatasetRef
from hsbench.datasets.readers import PILLOW_SUFFIXES, READERS, envi_header_of, read_image
from hsbench.datasets.selection import check_reader_options
from hsbench.errors import DatasetError


class FolderDataset(Dataset):
    """Every readable image file directly inside a folder, sorted by name."""

    def __init__(
        self, ref: DatasetRef, folder: Path, name: str | None = None, reader_options: dict[str, Any] | None = None
    ) -> None:
        self.ref = ref
        self.reader_options = dict(reader_options or {})
        self.folder = folder
        self.name = name or f"folder:{folder.name}"
        if not folder.is_dir():
            raise DatasetError(f"dataset folder {folder} does not exist or is not a directory")
        self._files = {
            p.stem: p
            for p in sorted(folder.iterdir())
            if p.is_file()
            and p.suffix.lower() in READERS
            and not (p.suffix.lower() != ".hdr" and envi_header_of(p) is not None)  # ENVI data: its .hdr lists it
            and not (p.suffix.lower() == ".lbl" and any(p.with_suffix(s).is_file() for s in (".qub", ".QUB")))
        }
        if not self._files:
            raise DatasetError(
                f"dataset folder {folder} holds no image files ({', '.join(sorted(READERS))})"
            )
        for path in self._files.values():
            check_reader_options(path, self.reader_options)

    def image_ids(self) -> list[str]:
        return list(self._files)

    def load(self, image_id: str) -> Cube:
        try:
            path = self._files[image_id]
        except KeyError:
            raise DatasetError(f"{self.name} has no image {image_id!r}") from None
        return read_image(path, **self.reader_options)

    def image_shape(self, image_id: str) -> tuple[int, int, int]:
        """Shape from the file header for Pillow images (no decoding); other formats are loaded."""
        path = self._files.get(image_id)
        if path is not None and path.suffix.lower() in PILLOW_SUFFIXES:
            from PIL import Image

            with Image.open(path) as im:
                bands = {"L": 1, "I": 1, "I;16": 1, "F": 1, "LA": 1, "P": 3, "RGB": 3, "YCbCr": 3, "CMYK": 3}.get(im.mode)
                if bands is not None:
                    if im.mode == "P" and ("transparency" in im.info):
                        bands = 4
                    return bands, im.height, im.width
        return self.load(image_id).shape

    def info(self) -> dict[str, Any]:
        return {**super().info(), "folder": str(self.folder)}


KODAK_FILES = tuple(f"kodim{i:02d}.png" for i in range(1, 25))


def kodak_folder(data_root: Path) -> Path:
    """Where Kodak is looked up: ``DATA_ROOT/kodak``."""
    return data_root / "kodak"


class KodakDataset(FolderDataset):
    """The 24 Kodak PhotoCD images (768x512 RGB, 8 bit) found in ``DATA_ROOT/kodak``.

    ``split="test"`` is accepted (Kodak is a test set); learned codecs train on ``samples``.
    """

    train_spec = "samples"

    def __init__(self, ref: DatasetRef, data_root: Path, entry: Any = None, split: str | None = None) -> None:
        folder = kodak_folder(data_root)
        missing = [f for f in KODAK_FILES if not (folder / f).is_file()]
        if missing:
            raise DatasetError(
                f"Kodak is not in the data root: {len(missing)} of 24 files missing in {folder} "
                f"(first: {missing[0]}). Put kodim01.png .. kodim24.png at {folder}, or run "
                "`hsbench datasets download kodak`, or point --data-root / HSBENCH_DATA at a folder "
                "that holds kodak/"
            )
        if split not in (None, "test"):
            raise DatasetError(f"kodak has only a test split (all 24 images), not {split!r}")
        super().__init__(ref, folder, name="kodak")
        self._files = {Path(f).stem: folder / f for f in KODAK_FILES}

    def info(self) -> dict[str, Any]:
        from hsbench.datasets.catalog import CATALOG

        return {**super().info(), **CATALOG["kodak"].describe(), "source": "http://r0k.us/graphics/kodak/"}


class FileDataset(FolderDataset):
    """A single image file as a one-image dataset (``file:PATH`` or a bare path)."""

    def __init__(self, ref: DatasetRef, path: Path, reader_options: dict[str, Any] | None = None) -> None:
        if not path.is_file():
            raise DatasetError(f"{path}: no such file")
        self.ref = ref
        self.reader_options = dict(reader_options or {})
        self.folder = path.parent
        self.name = f"file:{path.name}"
        self._files = {path.stem: path}
        check_reader_options(path, self.reader_options)
