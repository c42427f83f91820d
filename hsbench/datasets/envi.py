"""ENVI raster files: a text header (``.hdr``) beside a flat binary data file.

The header format is described in the ENVI documentation, "ENVI Header Format"
(NV5 Geospatial, ENVI 5.x): the first line is ``ENVI``, then ``key = value`` lines,
with ``{...}`` values that may span several lines. The fields used here:

``samples`` / ``lines`` / ``bands``   columns, rows, bands
``header offset``                     bytes to skip at the start of the data file
``data type``                         1 u8, 2 i16, 3 i32, 4 f32, 5 f64, 12 u16, 13 u32, 14 i64, 15 u64
``interleave``                        ``bsq`` (band, row, col), ``bil`` (row, band, col), ``bip`` (row, col, band)
``byte order``                        0 little endian, 1 big endian
``wavelength`` / ``wavelength units`` band centres (converted to nanometres)
``data file``                         (optional) the data file name, else the header stem with
                                      no suffix or one of ``.img .dat .raw .bsq .bil .bip .bin``
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from hsbench.cube import Cube
from hsbench.errors import DatasetError

#: ENVI ``data type`` code -> numpy dtype (native order; the byte order is applied separately).
ENVI_DTYPES: dict[int, str] = {
    1: "u1",
    2: "i2",
    3: "i4",
    4: "f4",
    5: "f8",
    12: "u2",
    13: "u4",
    14: "i8",
    15: "u8",
}
_CODE_OF_DTYPE = {np.dtype(v).str[1:]: k for k, v in ENVI_DTYPES.items()}

#: Suffixes tried for the data file beside ``name.hdr``.
DATA_SUFFIXES = ("", ".img", ".dat", ".raw", ".bsq", ".bil", ".bip", ".bin")

_UNIT_TO_NM = {"nanometers": 1.0, "nm": 1.0, "micrometers": 1e3, "um": 1e3, "microns": 1e3, "millimeters": 1e6, "mm": 1e6}


def parse_header(text: str) -> dict[str, str]:
    """Parse the text of an ENVI header into ``{lower-case key: raw value}``.

    Brace values keep their content without the braces, joined over lines.
    """
    lines = text.splitlines()
    if not lines or lines[0].strip() != "ENVI":
        raise DatasetError("not an ENVI header: the first line must be 'ENVI'")
    fields: dict[str, str] = {}
    i = 1
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line.strip() or line.lstrip().startswith(";") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        value = value.strip()
        if value.startswith("{"):
            while "}" not in value and i < len(lines):
                value += " " + lines[i].strip()
                i += 1
            if "}" not in value:
                raise DatasetError(f"ENVI header: unterminated '{{' in the value of {key.strip()!r}")
            value = value[1 : value.rindex("}")].strip()
        fields[key.strip().lower()] = value
    return fields


def _int_field(fields: dict[str, str], key: str, default: int | None = None) -> int:
    if key not in fields:
        if default is None:
            raise DatasetError(f"ENVI header has no {key!r} field")
        return default
    try:
        return int(fields[key])
    except ValueError:
        raise DatasetError(f"ENVI header field {key!r} = {fields[key]!r} is not an integer") from None


def list_field(fields: dict[str, str], key: str) -> list[str]:
    """The comma-separated items of a (brace) field, stripped; empty if absent."""
    return [v.strip() for v in fields.get(key, "").split(",") if v.strip()]


def find_data_file(header: Path, fields: dict[str, str]) -> Path:
    """The data file that belongs to ``header`` (the ``data file`` field, else by name)."""
    if "data file" in fields:
        candidate = header.parent / fields["data file"]
        if candidate.is_file():
            return candidate
    stem = header.with_suffix("")
    for suffix in DATA_SUFFIXES:
        for variant in (suffix, suffix.upper()):
            candidate = Path(str(stem) + variant)
            if candidate.is_file() and candidate != header:
                return candidate
    raise DatasetError(
        f"{header}: no ENVI data file found beside the header (tried {stem.name} with "
        f"{', '.join(s or '(no suffix)' for s in DATA_SUFFIXES)}); put the binary data there"
    )


def wavelengths_nm(fields: dict[str, str], bands: int) -> tuple[float, ...] | None:
    """Band centres in nanometres from ``wavelength`` and ``wavelength units`` (None if absent)."""
    values = list_field(fields, "wavelength")
    if not values:
        return None
    if len(values) != bands:
        raise DatasetError(f"ENVI header lists {len(values)} wavelengths for {bands} bands")
    unit = fields.get("wavelength units", "").strip().lower()
    try:
        wl = [float(v) for v in values]
    except ValueError:
        raise DatasetError("ENVI header: the wavelength list holds a value that is not a number") from None
    if unit in _UNIT_TO_NM:
        scale = _UNIT_TO_NM[unit]
    else:  # unknown or missing unit: values below 100 are micrometres in practice
        scale = 1e3 if max(wl) < 100 else 1.0
    return tuple(w * scale for w in wl)


def read_envi(path: str | Path, bit_depth: int | None = None, **_: Any) -> Cube:
    """Read an ENVI image (given its ``.hdr`` or its data file) as a ``(B, H, W)`` cube.

    BIL data (rows, bands, cols) and BIP data (rows, cols, bands) are reordered to
    BSQ; big-endian data (``byte order = 1``) is converted to native order.
    """
    path = Path(path)
    header = path if path.suffix.lower() == ".hdr" else Path(str(path.with_suffix("")) + ".hdr")
    if not header.is_file():
        header = Path(str(path) + ".hdr")
    if not header.is_file():
        raise DatasetError(f"{path}: no ENVI header (.hdr) beside it")
    fields = parse_header(header.read_text(errors="replace"))
    cols, rows, bands = (_int_field(fields, k) for k in ("samples", "lines", "bands"))
    offset = _int_field(fields, "header offset", 0)
    for key, value in (("samples", cols), ("lines", rows), ("bands", bands)):
        if value < 1:
            raise DatasetError(f"{header}: ENVI header field {key} = {value}; it must be a positive integer")
    if offset < 0:
        raise DatasetError(f"{header}: ENVI header offset = {offset}; it must be 0 or more bytes")
    code = _int_field(fields, "data type")
    if code not in ENVI_DTYPES:
        raise DatasetError(
            f"{header}: ENVI data type {code} is not supported (complex or unknown); "
            f"supported: {', '.join(f'{k}={v}' for k, v in ENVI_DTYPES.items())}"
        )
    order = _int_field(fields, "byte order", 0)
    if order not in (0, 1):
        raise DatasetError(f"{header}: byte order must be 0 (little endian) or 1 (big endian), got {order}")
    dtype = np.dtype(("<" if order == 0 else ">") + ENVI_DTYPES[code])
    interleave = fields.get("interleave", "bsq").strip().lower()
    shapes = {"bsq": (bands, rows, cols), "bil": (rows, bands, cols), "bip": (rows, cols, bands)}
    if interleave not in shapes:
        raise DatasetError(f"{header}: interleave {interleave!r} is not one of bsq, bil, bip")
    data_file = find_data_file(header, fields)
    need = offset + bands * rows * cols * dtype.itemsize
    size = data_file.stat().st_size
    if size < need:
        raise DatasetError(
            f"{data_file}: holds {size} bytes, the header ({bands} bands x {rows} lines x {cols} samples "
            f"of {dtype.name}, offset {offset}) needs {need}; the file is truncated or the header is wrong"
        )
    if size > need:  # e.g. a header declaring fewer bands than the file holds: never read part of a file
        per_band = rows * cols * dtype.itemsize
        extra = size - need
        hint = f" ({extra // per_band} more bands?)" if extra % per_band == 0 else ""
        raise DatasetError(
            f"{data_file}: holds {size} bytes, {extra} more than its header {header.name} describes ({bands} "
            f"bands x {rows} lines x {cols} samples of {dtype.name}, offset {offset} = {need} bytes){hint}; "
            "correct the header's bands / lines / samples / data type so that it describes the whole file"
        )
    raw = np.memmap(data_file, dtype=dtype, mode="r", offset=offset, shape=shapes[interleave])
    if interleave == "bil":
        raw = raw.transpose(1, 0, 2)
    elif interleave == "bip":
        raw = raw.transpose(2, 0, 1)
    data = np.ascontiguousarray(raw).astype(dtype.newbyteorder("="), copy=False)
    data = _narrow_64bit(data, header)
    meta = {"source": str(data_file), "format": "ENVI", "interleave": interleave, "byte_order": order}
    if "band names" in fields:
        meta["band_names"] = list_field(fields, "band names")
    return Cube(
        data,
        bit_depth=bit_depth,
        name=header.stem,
        wavelengths=wavelengths_nm(fields, bands),
        meta=meta,
    )


def _narrow_64bit(data: np.ndarray, where: Path) -> np.ndarray:
    """64-bit integers (ENVI 14 / 15) become 32-bit when every value fits, else an error."""
    if data.dtype.kind in "iu" and data.dtype.itemsize == 8:
        target = np.dtype(np.int32 if data.dtype.kind == "i" else np.uint32)
        info = np.iinfo(target)
        if data.min() < info.min or data.max() > info.max:
            raise DatasetError(f"{where}: 64-bit integer samples exceed the 32-bit range hsbench codes")
        return data.astype(target)
    return data


def write_envi(
    path: str | Path,
    cube: Cube | np.ndarray,
    interleave: str = "bsq",
    byte_order: int = 0,
    wavelengths: tuple[float, ...] | None = None,
) -> Path:
    """Write a ``(B, H, W)`` array as ENVI (``path`` is the data file; ``path.hdr`` is the header).

    Returns the header path. Used for exporting and for the reader's round-trip tests.
    """
    data = cube.data if isinstance(cube, Cube) else np.asarray(cube)
    if wavelengths is None and isinstance(cube, Cube):
        wavelengths = cube.wavelengths
    if data.ndim != 3:
        raise DatasetError(f"write_envi expects a (B, H, W) array, got shape {data.shape}")
    code = _CODE_OF_DTYPE.get(data.dtype.str[1:])
    if code is None:
        raise DatasetError(f"write_envi: dtype {data.dtype} has no ENVI data type")
    order = {"bsq": (0, 1, 2), "bil": (1, 0, 2), "bip": (1, 2, 0)}[interleave]
    dtype = data.dtype.newbyteorder("<" if byte_order == 0 else ">")
    path = Path(path)
    np.ascontiguousarray(data.transpose(order)).astype(dtype).tofile(path)
    bands, rows, cols = data.shape
    lines = [
        "ENVI",
        "description = {written by hsbench}",
        f"samples = {cols}",
        f"lines = {rows}",
        f"bands = {bands}",
        "header offset = 0",
        "file type = ENVI Standard",
        f"data type = {code}",
        f"interleave = {interleave}",
        f"byte order = {byte_order}",
    ]
    if wavelengths is not None:
        lines.append("wavelength units = Nanometers")
        lines.append("wavelength = {" + ",\n ".join(f"{w:.4f}" for w in wavelengths) + "}")
    header = Path(str(path.with_suffix("")) + ".hdr")
    header.write_text("\n".join(lines) + "\n")
    return header

