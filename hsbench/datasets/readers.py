"""File readers: turn files on disk into validated cubes.

:func:`read_image` dispatches on the file suffix. PNG / JPEG / BMP go through
Pillow, TIFF / GeoTIFF through tifffile (multi-page and multi-band files become
bands), ENVI ``.hdr`` + data (:mod:`hsbench.datasets.envi`), MATLAB ``.mat``
(:mod:`hsbench.datasets.matlab`), plain ``.npy`` and PDS3 qubes
(:mod:`hsbench.datasets.pds3`). Options (``key=``, ``layout=``, ``bit_depth=`` ...)
go to the reader; readers ignore options that do not concern them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np

from hsbench.cube import Cube
from hsbench.errors import DatasetError, HsbenchError


def _pillow(path: Path, bit_depth: int | None = None, **_: Any) -> Cube:
    """PNG / JPEG / BMP / PPM via Pillow; palette and CMYK images become RGB(A)."""
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
    return Cube.from_hwc(array, bit_depth=bit_depth, name=path.stem, meta={"source": str(path)})


def _tiff(path: Path, bit_depth: int | None = None, **_: Any) -> Cube:
    """TIFF / GeoTIFF via tifffile: multi-page files and multi-sample pages become bands.

    The band axis is found from the series' axes codes (tifffile: ``Y`` / ``X``
    spatial, ``S`` samples, ``I`` / ``Q`` / ``C`` / ``Z`` pages or planes): every
    non-spatial axis is flattened into bands, outer axis first, so a planar
    GeoTIFF (``SYX``), a pixel-interleaved one (``YXS``) and a stack of pages
    (``IYX``) all read as ``(B, H, W)``.
    """
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            stacks = [(s.axes, np.asarray(s.asarray())) for s in tif.series]
    except Exception as exc:
        raise DatasetError(f"{path}: cannot be read as TIFF ({exc})") from exc
    if not stacks:
        raise DatasetError(f"{path}: the TIFF holds no image (no pages); the file is truncated or corrupt")
    planes = []
    for axes, array in stacks:
        if "Y" not in axes or "X" not in axes or len(axes) != array.ndim:
            raise DatasetError(f"{path}: TIFF series with axes {axes!r} and shape {array.shape} has no Y / X plane")
        others = [i for i, a in enumerate(axes) if a not in "YX"]
        array = np.transpose(array, others + [axes.index("Y"), axes.index("X")])
        planes.append(array.reshape((-1,) + array.shape[-2:]))
    # Pages written one by one form one series each; same-sized ones are further bands
    # (other sizes, such as thumbnails, are left out).
    planes = [p for p in planes if p.shape[1:] == planes[0].shape[1:] and p.dtype == planes[0].dtype]
    array = np.concatenate(planes) if len(planes) > 1 else planes[0]
    axes = stacks[0][0]
    return Cube(np.ascontiguousarray(array), bit_depth=bit_depth, name=path.stem, meta={"source": str(path), "format": "TIFF", "tiff_axes": axes})


def _npy(path: Path, layout: str = "bhw", bit_depth: int | None = None, **_: Any) -> Cube:
    """A plain ``.npy`` array (no pickles): ``(B, H, W)`` by default, ``layout="hwb"`` for ``(H, W, B)``."""
    try:
        # memory-mapped copy-on-write: a large scene is paged in as codecs and metrics read it, and the
        # array stays writable like an in-memory one (a write changes a private page, never the file)
        array = np.load(path, mmap_mode="c", allow_pickle=False)
    except Exception as exc:
        raise DatasetError(f"{path}: not a readable .npy array ({exc})") from exc
    size, need = path.stat().st_size, array.offset + array.nbytes
    if size != need:  # np.load ignores bytes beyond the shape its header declares
        raise DatasetError(
            f"{path}: holds {size} bytes, but its .npy header declares shape {array.shape} of {array.dtype} "
            f"= {need} bytes with the header; the header declares fewer samples (bands) than the file holds. "
            "Save the whole array again with numpy.save"
        )
    if array.ndim == 2:
        array = array[np.newaxis]
    elif array.ndim == 3 and layout == "hwb":
        array = np.moveaxis(array, -1, 0)
    elif array.ndim != 3 or layout not in ("bhw", "hwb"):
        raise DatasetError(f"{path}: expected a 2-D or 3-D array with layout bhw / hwb, got shape {array.shape}, layout {layout!r}")
    if array.dtype == bool:
        array = array.astype(np.uint8)
    return Cube(np.ascontiguousarray(array), bit_depth=bit_depth, name=path.stem, meta={"source": str(path), "format": "NPY"})


def _envi(path: Path, **options: Any) -> Cube:
    from hsbench.datasets.envi import read_envi

    return read_envi(path, **options)


def _mat(path: Path, **options: Any) -> Cube:
    from hsbench.datasets.matlab import read_mat

    return read_mat(path, **options)


def _raw(path: Path, bit_depth: int | None = None, **_: Any) -> Cube:
    from hsbench.datasets.raw import read_raw

    return read_raw(path, bit_depth=bit_depth)


def _pds3(path: Path, **options: Any) -> Cube:
    from hsbench.datasets.pds3 import read_pds3_qube

    return read_pds3_qube(path, **options)


#: suffixes read through Pillow
PILLOW_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".pgm")

#: suffix -> reader(path, **options) -> Cube
READERS: dict[str, Callable[..., Cube]] = {
    **{suffix: _pillow for suffix in PILLOW_SUFFIXES},
    ".tif": _tiff,
    ".tiff": _tiff,
    ".npy": _npy,
    ".hdr": _envi,
    ".mat": _mat,
    ".qub": _pds3,
    ".lbl": _pds3,
    ".raw": _raw,
}


def envi_header_of(path: Path) -> Path | None:
    """The ENVI header that describes data file ``path`` (``x.hdr`` or ``x.img.hdr``), if any."""
    for header in (path.with_suffix(".hdr"), Path(str(path) + ".hdr")):
        if header != path and header.is_file():
            return header
    return None


def read_image(path: str | Path, **options: Any) -> Cube:
    """Read one image file as a :class:`Cube`, choosing the reader by suffix."""
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"{path}: no such file")
    reader = READERS.get(path.suffix.lower())
    if path.suffix.lower() != ".hdr" and envi_header_of(path) is not None:
        reader = _envi  # an ENVI data file (.img, .dat, .raw ...) named directly
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
    except (OSError, ValueError, OverflowError, EOFError, MemoryError) as exc:  # numpy / libraries on bad content
        raise DatasetError(f"{path}: cannot be read ({type(exc).__name__}: {exc})") from exc
