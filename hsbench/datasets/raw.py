"""Headerless raw cubes whose geometry and sample type are written in the file name.

Two naming conventions are understood:

* **CCSDS 123 test corpus** (``docs/conventions.md`` section 4):
  ``NAME-TBBE-ZxYxX.raw``, e.g. ``aviris_sc10.uncal-u16be-224x512x680.raw``:
  ``T`` is ``u`` (unsigned) or ``s`` (signed, two's complement), ``BB`` the storage
  bits (8, 16 or 32), ``E`` ``be`` / ``le`` the byte order (8-bit files may omit it),
  then bands x rows x columns. Samples are stored band-sequential (BSQ).
* **GICI** (Group on Interactive Coding of Images, UAB) data sets:
  ``NAME.ZxYxX_T.raw`` or ``NAME.ZxYxX_T_E.raw`` with the GICI sample-type codes
  ``1`` uint8, ``2`` uint16, ``3`` int16, ``4`` int32, ``6`` float32, ``7`` float64
  (``0`` boolean and ``5`` int64 are refused), optional byte order ``E`` 0 = big
  endian (the default) or 1 = little endian; BSQ. The byte-order suffix and its
  default are written as best understood from GICI's tools; check unusual files.

The nominal bit depth of a raw file is its storage size unless the caller says
otherwise (``read_raw(path, bit_depth=12)``): raw files do not record it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hsbench.cube import Cube
from hsbench.errors import DatasetError, HsbenchError

_CCSDS = re.compile(r"^(?P<name>.+)-(?P<sign>[us])(?P<bits>8|16|32)(?P<endian>be|le)?-(?P<z>\d+)x(?P<y>\d+)x(?P<x>\d+)\.raw$",
                    re.IGNORECASE)
_GICI = re.compile(r"^(?P<name>.+)\.(?P<z>\d+)x(?P<y>\d+)x(?P<x>\d+)_(?P<type>\d)(?:_(?P<endian>[01]))?\.raw$",
                   re.IGNORECASE)
_GICI_TYPES = {1: "u1", 2: "u2", 3: "i2", 4: "i4", 6: "f4", 7: "f8"}


@dataclass(frozen=True)
class RawLayout:
    """What a raw file name says: stem, numpy dtype (with byte order) and (bands, rows, cols)."""

    name: str
    dtype: np.dtype
    shape: tuple[int, int, int]
    convention: str

    @property
    def nbytes(self) -> int:
        """Size the file must have."""
        return int(np.prod(self.shape)) * self.dtype.itemsize


def parse_raw_name(name: str) -> RawLayout:
    """Parse a raw file name in the CCSDS or GICI convention (see the module docstring).

    Raises :class:`DatasetError` naming both conventions when ``name`` follows neither.
    """
    base = Path(name).name
    m = _CCSDS.match(base)
    if m:
        bits = int(m["bits"])
        endian = (m["endian"] or "be").lower()
        if bits > 8 and m["endian"] is None:
            raise DatasetError(f"{base}: {bits}-bit raw name needs a byte order, e.g. u{bits}be or u{bits}le")
        kind = "u" if m["sign"].lower() == "u" else "i"
        dtype = np.dtype(f"{'>' if endian == 'be' else '<'}{kind}{bits // 8}")
        shape = (int(m["z"]), int(m["y"]), int(m["x"]))
        layout = RawLayout(m["name"], dtype, shape, "ccsds")
    else:
        m = _GICI.match(base)
        if not m:
            raise DatasetError(
                f"{base}: cannot tell the geometry of this raw file from its name; name it the CCSDS way, "
                "NAME-u16be-BANDSxROWSxCOLS.raw (u/s, 8/16/32, be/le), or the GICI way, "
                "NAME.BANDSxROWSxCOLS_TYPE.raw"
            )
        code = int(m["type"])
        if code not in _GICI_TYPES:
            raise DatasetError(f"{base}: GICI sample type {code} is not supported (use 1, 2, 3, 4, 6 or 7)")
        order = ">" if (m["endian"] or "0") == "0" else "<"
        dtype = np.dtype(order + _GICI_TYPES[code])
        shape = (int(m["z"]), int(m["y"]), int(m["x"]))
        layout = RawLayout(m["name"], dtype, shape, "gici")
    if 0 in layout.shape:
        raise DatasetError(f"{base}: raw name declares an empty cube {layout.shape}")
    return layout


def raw_name(name: str, dtype: np.dtype, shape: tuple[int, int, int], byteorder: str = "be") -> str:
    """The CCSDS-convention file name ``NAME-u16be-ZxYxX.raw`` of a cube."""
    dtype = np.dtype(dtype)
    if dtype.kind not in "ui" or dtype.itemsize not in (1, 2, 4):
        raise HsbenchError(f"raw files in the CCSDS convention hold 8/16/32-bit integers, not {dtype}")
    bits = dtype.itemsize * 8
    z, y, x = shape
    return f"{name}-{'u' if dtype.kind == 'u' else 's'}{bits}{byteorder}-{z}x{y}x{x}.raw"


def read_raw(path: str | Path, bit_depth: int | None = None) -> Cube:
    """Read a raw BSQ cube whose layout is in its file name (:func:`parse_raw_name`).

    ``bit_depth`` declares a nominal depth below the storage size (e.g. 12-bit
    samples in 16-bit words). The file size must match the name exactly.
    """
    path = Path(path)
    layout = parse_raw_name(path.name)
    if not path.is_file():
        raise DatasetError(f"{path}: no such file")
    size = path.stat().st_size
    if size != layout.nbytes:
        raise DatasetError(
            f"{path}: file holds {size} bytes but its name announces {layout.shape} samples of "
            f"{layout.dtype.itemsize} bytes = {layout.nbytes}; the name or the file is wrong"
        )
    data = np.fromfile(path, dtype=layout.dtype).reshape(layout.shape)
    data = data.astype(layout.dtype.newbyteorder("="), copy=False)
    return Cube(np.ascontiguousarray(data), bit_depth=bit_depth, name=layout.name,
                meta={"source": str(path), "raw_convention": layout.convention})


def write_raw(cube: Cube, folder: str | Path, name: str | None = None, byteorder: str = "be") -> Path:
    """Write ``cube`` as ``FOLDER/NAME-u16be-ZxYxX.raw`` (CCSDS convention, BSQ); returns the path.

    Integer cubes only; the storage type is the cube's dtype (big-endian by default,
    as in the CCSDS test corpus).
    """
    if byteorder not in ("be", "le"):
        raise HsbenchError(f"byteorder must be 'be' or 'le', got {byteorder!r}")
    stem = name or cube.name or "cube"
    path = Path(folder) / raw_name(stem, cube.dtype, cube.shape, byteorder)
    path.parent.mkdir(parents=True, exist_ok=True)
    order = ">" if byteorder == "be" else "<"
    cube.data.astype(cube.dtype.newbyteorder(order), copy=False).tofile(path)
    return path
