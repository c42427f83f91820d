"""Run-time selection: bands, crop, tiles and an image limit on top of any dataset.

Options travel as strings in :attr:`DatasetRef.options` (hashable, picklable), so
a worker that receives ``(spec, data root, options, image id)`` reopens the same
selection and loads just its image or tile. The strings:

``bands``       ``"0:100"`` (Python slice: bands 0..99), ``"3,2,1"``, ``"10"``, or a mix
                ``"0:10,20,30:40:2"``; negative indices count from the last band.
``crop``        ``"r0:r1,c0:c1"`` (rows r0..r1-1, cols c0..c1-1) or ``"HxW"`` (centred window).
``tile``        ``"64"`` or ``"64x32"`` (rows x cols): each image is cut into tiles of that size,
                row-major from the top-left corner (the "subdivision strategy" of La Grassa et
                al. 2022, sec. 2.3: 48 for Sentinel-2, 64 for VIRTIS, 128 for HySpecNet-11k).
                Tile ids are ``IMAGE@tROW_COL`` (top-left pixel of the tile).
``tile_edges``  ``"keep"`` (default: partial tiles at the right / bottom edges are kept, smaller,
                so the tiles reassemble the image exactly) or ``"drop"`` (only full tiles).
``max_images``  ``"N"``: N images evenly spaced over the dataset's ordered list
                (``ids[i * n // N]``), so class-sorted sets keep their variety; applied
                before tiling.
``split``       consumed by datasets that define splits (``train`` / ``val`` / ``test``).

Order of application: split, max_images, bands, crop, tile.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hsbench.cube import Cube
from hsbench.datasets.base import Dataset, DatasetRef
from hsbench.errors import DatasetError

#: Options applied by :class:`SelectedDataset`.
SELECTION_OPTIONS = ("max_images", "bands", "crop", "tile", "tile_edges")
#: Options consumed by the dataset itself (splits) or by its file readers (folder / file specs).
DATASET_OPTIONS = ("split",)
READER_OPTIONS = ("key", "layout", "bit_depth", "dtype")
#: Reader options -> the file suffixes whose readers use them (``bit_depth``: every reader).
READER_OPTION_SUFFIXES: dict[str, tuple[str, ...]] = {
    "key": (".mat",),
    "layout": (".mat", ".npy"),
    "dtype": (".mat",),
}

_TILE_ID = re.compile(r"^(?P<base>.+)@t(?P<row>\d+)_(?P<col>\d+)$")


def normalize_options(options: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """Canonical, hashable form of selection options: ``None`` dropped, values as strings, sorted.

    Every value is parsed once here so that a typo fails in the driver, not in a worker.
    """
    known = SELECTION_OPTIONS + DATASET_OPTIONS + READER_OPTIONS
    out: dict[str, str] = {}
    for key, value in options.items():
        if value is None or value == "":
            continue
        if key not in known:
            raise DatasetError(f"unknown dataset option {key!r}; known options: {', '.join(known)}")
        if isinstance(value, (list, tuple)):
            value = ",".join(str(v) for v in value)
        text = str(value).strip()
        if key == "bands":
            parse_bands(text)
        elif key == "crop":
            parse_crop(text)
        elif key == "tile":
            text = "x".join(str(v) for v in parse_tile(text))
        elif key == "tile_edges" and text not in ("keep", "drop"):
            raise DatasetError(f"tile_edges must be 'keep' or 'drop', got {text!r}")
        elif key == "max_images":
            text = str(parse_max_images(text))
        elif key == "bit_depth":
            text = str(_positive_int(text, "bit_depth"))
        elif key == "layout" and text not in ("hwb", "bhw"):
            raise DatasetError(f"layout must be 'hwb' (rows x cols x bands) or 'bhw' (bands x rows x cols), got {text!r}")
        elif key == "dtype":
            text = _integer_dtype(text)
        out[key] = text
    return tuple(sorted(out.items()))


def _integer_dtype(text: str) -> str:
    """The canonical name of an integer numpy dtype (``"int16"``, ``"uint16"`` ...), else a DatasetError."""
    try:
        dtype = np.dtype(text)
    except TypeError:
        dtype = None
    if dtype is None or dtype.kind not in "iu":
        raise DatasetError(f"dtype must be an integer sample type such as uint8, uint16, int16 or int32 "
                           f"(int* are signed, uint* unsigned), got {text!r}")
    return dtype.name


def check_reader_options(path: Path, options: dict[str, Any]) -> None:
    """Refuse reader options the reader of ``path`` would ignore (``key=`` on a PNG ...)."""
    suffix = path.suffix.lower()
    unused = [k for k, suffixes in READER_OPTION_SUFFIXES.items() if k in options and suffix not in suffixes]
    if unused:
        uses = "; ".join(f"{k}: {', '.join(READER_OPTION_SUFFIXES[k])} files" for k in unused)
        raise DatasetError(f"{path}: reader option(s) {', '.join(unused)} do not apply to {suffix or 'this'} files "
                           f"({uses}); drop them or select only such files")


def _positive_int(text: str, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise DatasetError(f"{what} must be a positive integer, got {text!r}") from None
    if value <= 0:
        raise DatasetError(f"{what} must be a positive integer, got {text!r}")
    return value


def parse_max_images(text: str | int) -> int:
    """``"N"`` -> N (a positive integer)."""
    return _positive_int(str(text), "max_images")


def parse_tile(text: str | int) -> tuple[int, int]:
    """``"64"`` -> (64, 64); ``"64x32"`` -> (64, 32) (rows x cols)."""
    parts = str(text).lower().replace("*", "x").split("x")
    if len(parts) == 1:
        parts = parts * 2
    if len(parts) != 2:
        raise DatasetError(f"tile must be N or RxC (e.g. 64 or 64x32), got {text!r}")
    rows, cols = (_positive_int(p.strip(), "tile size") for p in parts)
    return rows, cols


def parse_bands(text: str) -> tuple[tuple[int | None, ...], ...]:
    """Parse a band selection into items: ``(i,)`` for an index, ``(start, stop, step)`` for a slice."""
    items: list[tuple[int | None, ...]] = []
    for part in str(text).replace(" ", "").split(","):
        if not part:
            continue
        try:
            if ":" in part:
                fields = part.split(":")
                if len(fields) > 3:
                    raise ValueError
                numbers = [int(f) if f else None for f in fields] + [None] * (3 - len(fields))
                if numbers[2] == 0:
                    raise ValueError
                items.append(tuple(numbers))
            else:
                items.append((int(part),))
        except ValueError:
            raise DatasetError(
                f"bands must be indices and slices like '0:100', '3,2,1' or '0:10,20'; got {text!r}"
            ) from None
    if not items:
        raise DatasetError(f"bands selection {text!r} is empty")
    return tuple(items)


def resolve_bands(text: str, count: int) -> list[int]:
    """The 0-based band indices that ``text`` selects from a ``count``-band image."""
    indices: list[int] = []
    for item in parse_bands(text):
        if len(item) == 1:
            i = int(item[0])  # type: ignore[arg-type]
            if not -count <= i < count:
                raise DatasetError(f"band {i} does not exist: the image has {count} bands (0..{count - 1})")
            indices.append(i % count)
        else:
            indices.extend(range(count)[slice(*item)])
    if not indices:
        raise DatasetError(f"bands {text!r} selects no band of a {count}-band image")
    return indices


@dataclass(frozen=True)
class Window:
    """A rectangle of pixels: rows ``[row, row + height)``, cols ``[col, col + width)``."""

    row: int
    col: int
    height: int
    width: int


def parse_crop(text: str) -> tuple[str, tuple[int, ...]]:
    """``"r0:r1,c0:c1"`` -> ("box", (r0, r1, c0, c1)); ``"HxW"`` -> ("centre", (H, W))."""
    t = str(text).replace(" ", "").lower()
    m = re.fullmatch(r"(\d+):(\d+),(\d+):(\d+)", t)
    if m:
        r0, r1, c0, c1 = (int(g) for g in m.groups())
        if r1 <= r0 or c1 <= c0:
            raise DatasetError(f"crop {text!r} is empty: need r0 < r1 and c0 < c1")
        return "box", (r0, r1, c0, c1)
    m = re.fullmatch(r"(\d+)x(\d+)", t)
    if m and int(m.group(1)) > 0 and int(m.group(2)) > 0:
        return "centre", (int(m.group(1)), int(m.group(2)))
    raise DatasetError(f"crop must be 'r0:r1,c0:c1' or 'HxW' (centred), got {text!r}")


def crop_window(text: str, rows: int, cols: int) -> Window:
    """The window that crop ``text`` takes from a ``rows x cols`` image (must lie inside it)."""
    kind, values = parse_crop(text)
    if kind == "box":
        r0, r1, c0, c1 = values
    else:
        h, w = values
        r0, c0 = (rows - h) // 2, (cols - w) // 2
        r1, c1 = r0 + h, c0 + w
    if r0 < 0 or c0 < 0 or r1 > rows or c1 > cols:
        raise DatasetError(f"crop {text!r} does not fit in a {rows} x {cols} image")
    return Window(r0, c0, r1 - r0, c1 - c0)


def tile_grid(rows: int, cols: int, tile: tuple[int, int], keep_edges: bool = True) -> list[Window]:
    """Row-major tiles of ``tile`` = (th, tw) pixels covering a ``rows x cols`` image.

    With ``keep_edges`` the last row / column of tiles is cut short at the border, so
    the tiles partition the image exactly; without it only whole tiles are listed.
    """
    th, tw = tile
    windows = []
    for r in range(0, rows, th):
        for c in range(0, cols, tw):
            h, w = min(th, rows - r), min(tw, cols - c)
            if keep_edges or (h == th and w == tw):
                windows.append(Window(r, c, h, w))
    return windows


def tile_id(image_id: str, window: Window) -> str:
    """The id of a tile: ``IMAGE@tROW_COL``."""
    return f"{image_id}@t{window.row}_{window.col}"


def split_tile_id(image_id: str) -> tuple[str, int, int] | None:
    """``"kodim01@t0_64"`` -> ("kodim01", 0, 64); None for an id that names no tile."""
    m = _TILE_ID.match(image_id)
    if not m:
        return None
    return m.group("base"), int(m.group("row")), int(m.group("col"))


def evenly_spaced(ids: list[str], n: int) -> list[str]:
    """``n`` ids evenly spaced over ``ids`` (all of them when ``n >= len(ids)``)."""
    if n >= len(ids):
        return list(ids)
    return [ids[i * len(ids) // n] for i in range(n)]


class SelectedDataset(Dataset):
    """A dataset seen through a selection (image limit, bands, crop, tiles).

    ``load`` of a tile id loads the parent image once (a one-image cache per
    process) and returns just that tile, so a worker handling several tiles of one
    scene reads the scene once.
    """

    def __init__(self, base: Dataset, ref: DatasetRef, options: dict[str, str]) -> None:
        self.base = base
        self.ref = ref
        self.name = base.name
        self.train_spec = base.train_spec
        self.options = dict(options)
        self.bands = options.get("bands")
        self.crop = options.get("crop")
        self.tile = parse_tile(options["tile"]) if "tile" in options else None
        self.keep_edges = options.get("tile_edges", "keep") == "keep"
        self.max_images = int(options["max_images"]) if "max_images" in options else None
        self._ids: list[str] | None = None
        self._cache: OrderedDict[str, Cube] = OrderedDict()

    def _base_ids(self) -> list[str]:
        ids = self.base.image_ids()
        return evenly_spaced(ids, self.max_images) if self.max_images else ids

    def image_ids(self) -> list[str]:
        if self._ids is None:
            base_ids = self._base_ids()
            if self.tile is None:
                self._ids = base_ids
            else:
                ids = []
                for image_id in base_ids:
                    _, rows, cols = self._selected_shape(image_id)
                    ids.extend(tile_id(image_id, w) for w in tile_grid(rows, cols, self.tile, self.keep_edges))
                self._ids = ids
        return list(self._ids)

    def _selected_shape(self, image_id: str) -> tuple[int, int, int]:
        bands, rows, cols = self.base.image_shape(image_id)
        if self.bands:
            bands = len(resolve_bands(self.bands, bands))
        if self.crop:
            w = crop_window(self.crop, rows, cols)
            rows, cols = w.height, w.width
        return bands, rows, cols

    def image_shape(self, image_id: str) -> tuple[int, int, int]:
        parts = split_tile_id(image_id) if self.tile else None
        if parts is None:
            return self._selected_shape(image_id)
        base_id, r, c = parts
        bands, rows, cols = self._selected_shape(base_id)
        return bands, min(self.tile[0], rows - r), min(self.tile[1], cols - c)  # type: ignore[index]

    def _selected_image(self, image_id: str) -> Cube:
        if image_id in self._cache:
            return self._cache[image_id]
        cube = self.base.load(image_id)
        data, meta, wavelengths = cube.data, dict(cube.meta), cube.wavelengths
        if self.bands:
            idx = resolve_bands(self.bands, cube.bands)
            data = data[idx]
            meta["bands"] = idx
            if wavelengths is not None:
                wavelengths = tuple(wavelengths[i] for i in idx)
        if self.crop:
            w = crop_window(self.crop, cube.rows, cube.cols)
            data = data[:, w.row : w.row + w.height, w.col : w.col + w.width]
            meta["crop"] = (w.row, w.col, w.height, w.width)
        if data is not cube.data:
            cube = cube.with_data(np.ascontiguousarray(data), wavelengths=wavelengths, meta=meta)
        self._cache.clear()
        self._cache[image_id] = cube
        return cube

    def load(self, image_id: str) -> Cube:
        parts = split_tile_id(image_id) if self.tile else None
        if parts is None:
            if self.tile is not None:
                raise DatasetError(
                    f"{self.name}: {image_id!r} names no tile; tiled ids look like IMAGE@tROW_COL, e.g. "
                    f"{(self.image_ids() or ['?'])[0]}"
                )
            return self._selected_image(image_id)
        base_id, r, c = parts
        th, tw = self.tile  # type: ignore[misc]
        cube = self._selected_image(base_id)
        if r % th or c % tw or r >= cube.rows or c >= cube.cols:
            raise DatasetError(
                f"{self.name}: tile {image_id!r} is not on the {th}x{tw} grid of a {cube.rows}x{cube.cols} image"
            )
        h, w = min(th, cube.rows - r), min(tw, cube.cols - c)
        if not self.keep_edges and (h, w) != (th, tw):
            raise DatasetError(f"{self.name}: tile {image_id!r} is a partial edge tile and tile_edges=drop")
        data = np.ascontiguousarray(cube.data[:, r : r + h, c : c + w])
        meta = {**cube.meta, "parent": base_id, "tile": (r, c, h, w)}
        return cube.with_data(data, name=image_id, meta=meta)

    def info(self) -> dict[str, Any]:
        info = self.base.info()
        selection = dict(self.options)
        if self.max_images:
            selection["max_images"] = f"{self.max_images} (evenly spaced over the ordered image list)"
        if self.tile:
            selection["tile"] = f"{self.tile[0]}x{self.tile[1]} ({'partial edge tiles kept' if self.keep_edges else 'whole tiles only'})"
        info.update({"images": len(self.image_ids()), "selection": selection, "options": dict(self.ref.options)})
        if self.tile:
            info["parent_images"] = len(self._base_ids())
        return info
