"""File readers: turn files on disk into validated cubes.

:func:`read_image` dispatches on the file suffix. PNG / JPEG / BMP go through
Pillow, TIFF through tifffile (multi-page and multi-band files become bands).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np

from hsbench.cube import Cube
from hsbench.errors import DatasetError, HsbenchError


def _pillow(path: Path, **_: Any) -> Cube:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.load()
            mode = im.mode
            if mode in ("P", "PA", "CMYK", "YCbCr", "LAB", "HSV", "1"):
                im = im.convert("RGBA" if "A" in mode or "transparency" in im.info else "RGB")
            elif mode == "LA":
                im = im.convert("L")
            array = np.asarray(im)
    except UnidentifiedImageError as exc:
        raise DatasetError(f"{path}: not an image Pillow can read ({exc})") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise DatasetError(f"{path}: cannot be decoded, the file is truncated or corrupt ({exc})") from exc
    if array.dtype == np.int32:  # Pillow's 16-bit greyscale mode "I"
        array = array.astype(np.uint16) if array.min() >= 0 and array.max() < 65536 else array
    if array.dtype == bool:
        array = array.astype(np.uint8)
    return Cube.from_hwc(array, name=path.stem, meta={"source": str(path)})


def _tiff(path: Path, **_: Any) -> Cube:
    import tifffile

    try:
        array = tifffile.imread(path)
    except Exception as exc:
        raise DatasetError(f"{path}: cannot be read as TIFF ({exc})") from exc
    array = np.asarray(array)
    if array.ndim == 2:
        array = array[np.newaxis]
    elif array.ndim == 3:
        # tifffile returns (pages, H, W) for multi-page files and (H, W, samples) for
        # interleaved RGB / multi-sample pages; the shorter axis is the band axis.
        if array.shape[-1] < array.shape[0] and array.shape[-1] <= 16:
            array = np.moveaxis(array, -1, 0)
    else:
        raise DatasetError(f"{path}: TIFF holds a {array.ndim}-D array {array.shape}; expected 2-D or 3-D")
    return Cube(np.ascontiguousarray(array), name=path.stem, meta={"source": str(path)})


#: suffix -> reader(path, **options) -> Cube
READERS: dict[str, Callable[..., Cube]] = {
    ".png": _pillow,
    ".jpg": _pillow,
    ".jpeg": _pillow,
    ".bmp": _pillow,
    ".ppm": _pillow,
    ".pgm": _pillow,
    ".tif": _tiff,
    ".tiff": _tiff,
}


def read_image(path: str | Path, **options: Any) -> Cube:
    """Read one image file as a :class:`Cube`, choosing the reader by suffix."""
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"{path}: no such file")
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise DatasetError(
            f"{path}: unknown image format {path.suffix!r}; readable suffixes: {', '.join(sorted(READERS))}"
        )
    try:
        return reader(path, **options)
    except HsbenchError as exc:
        if str(path) in str(exc):
            raise
        raise DatasetError(f"{path}: {exc}") from exc
