"""MATLAB ``.mat`` files: v4 / v5 / v7 through scipy, v7.3 (HDF5) through h5py.

Hyperspectral scenes are conventionally saved from MATLAB as ``rows x cols x bands``
arrays (Indian Pines, Pavia, Salinas ...). MATLAB stores arrays column-major, so
scipy returns them as ``(H, W, B)`` while an HDF5 (v7.3) file exposes the reversed
shape ``(B, W, H)``; both become ``(B, H, W)`` here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from hsbench.cube import Cube
from hsbench.errors import DatasetError

_NUMERIC_KINDS = "biuf"


def is_mat73(path: Path) -> bool:
    """True for a v7.3 MAT-file (an HDF5 file, usually with a 512-byte MATLAB user block)."""
    import h5py

    return bool(h5py.is_hdf5(str(path)))


def choose_variable(shapes: dict[str, tuple[int, ...]], key: str | None, path: Path) -> str:
    """Pick the image variable: ``key`` when given, else the largest 3-D (else 2-D) numeric array."""
    if key is not None:
        if key not in shapes:
            raise DatasetError(
                f"{path}: no numeric variable {key!r}; variables: {', '.join(sorted(shapes)) or '(none)'}"
            )
        return key
    for ndim in (3, 2):
        candidates = {k: s for k, s in shapes.items() if len(s) == ndim}
        if candidates:
            return max(candidates, key=lambda k: (int(np.prod(candidates[k])), k))
    raise DatasetError(
        f"{path}: no 2-D or 3-D numeric variable to read as an image (variables: "
        f"{', '.join(f'{k} {s}' for k, s in shapes.items()) or 'none'}); pass key=NAME"
    )


def _to_bhw(array: np.ndarray, layout: str, path: Path) -> np.ndarray:
    if array.ndim == 2:
        return array[np.newaxis]
    if layout == "hwb":
        return np.moveaxis(array, -1, 0)
    if layout == "bhw":
        return array
    raise DatasetError(f"{path}: layout must be 'hwb' (MATLAB rows x cols x bands) or 'bhw', got {layout!r}")


def _read_v5(path: Path, key: str | None) -> tuple[str, np.ndarray]:
    import scipy.io

    try:
        contents = scipy.io.whosmat(str(path))
    except Exception as exc:
        raise DatasetError(f"{path}: not a readable MAT-file ({exc})") from exc
    shapes = {name: tuple(shape) for name, shape, cls in contents if cls not in ("struct", "cell", "char", "sparse", "function_handle", "object")}
    name = choose_variable(shapes, key, path)
    try:
        array = scipy.io.loadmat(str(path), variable_names=[name])[name]
    except Exception as exc:
        raise DatasetError(f"{path}: cannot read variable {name!r} ({exc})") from exc
    return name, np.asarray(array)


def _read_v73(path: Path, key: str | None) -> tuple[str, np.ndarray]:
    import h5py

    with h5py.File(path, "r") as f:
        shapes: dict[str, tuple[int, ...]] = {}

        def visit(name: str, obj: Any) -> None:
            if isinstance(obj, h5py.Dataset) and obj.dtype.kind in _NUMERIC_KINDS and not name.startswith("#"):
                shapes[name] = tuple(obj.shape)

        f.visititems(visit)
        name = choose_variable(shapes, key, path)
        stored = f[name][()]
    # HDF5 holds MATLAB's column-major array with its dimensions reversed.
    return name, np.asarray(stored).transpose(tuple(range(stored.ndim))[::-1])


def integral_cast(array: np.ndarray, dtype: str | np.dtype, where: str) -> np.ndarray:
    """Cast to an integer ``dtype`` when that loses nothing (integral values in range), else fail."""
    target = np.dtype(dtype)
    if array.dtype == target:
        return array
    info = np.iinfo(target)
    if array.dtype.kind == "f" and not np.array_equal(array, np.round(array)):
        raise DatasetError(f"{where}: values are not integers, cannot store them as {target}")
    if array.min() < info.min or array.max() > info.max:
        raise DatasetError(f"{where}: values span [{array.min()}, {array.max()}], outside {target}")
    return array.astype(target)


def read_mat(
    path: str | Path,
    key: str | None = None,
    layout: str = "hwb",
    dtype: str | None = None,
    bit_depth: int | None = None,
    value_range: tuple[float, float] | None = None,
    **_: Any,
) -> Cube:
    """Read one array variable of a MAT-file as a ``(B, H, W)`` cube.

    ``key`` names the variable (default: the largest 3-D numeric array). ``layout``
    is the variable's axis order, ``hwb`` (MATLAB's usual rows x cols x bands) or ``bhw``.
    ``dtype`` casts integral data stored as double to an integer type, losslessly or not at all.
    """
    path = Path(path)
    name, array = (_read_v73 if is_mat73(path) else _read_v5)(path, key)
    if array.dtype.kind not in _NUMERIC_KINDS or np.iscomplexobj(array):
        raise DatasetError(f"{path}: variable {name!r} has dtype {array.dtype}, not a real numeric array")
    if array.dtype == bool:
        array = array.astype(np.uint8)
    data = _to_bhw(array, layout, path)
    if dtype is not None:
        data = integral_cast(data, dtype, f"{path}:{name}")
    elif data.dtype.kind in "iu" and data.dtype.itemsize == 8:
        data = integral_cast(data, np.int32 if data.dtype.kind == "i" else np.uint32, f"{path}:{name}")
    return Cube(
        np.ascontiguousarray(data),
        bit_depth=bit_depth,
        name=path.stem,
        value_range=value_range if data.dtype.kind == "f" else None,
        meta={"source": str(path), "format": "MAT", "variable": name},
    )


def write_mat73(path: str | Path, arrays: dict[str, np.ndarray]) -> Path:
    """Write arrays as a MATLAB v7.3 MAT-file (HDF5 with the 512-byte MATLAB user block).

    Arrays are given in MATLAB's logical shape (e.g. ``(H, W, B)``) and stored with
    reversed dimensions, as MATLAB does. Used by the round-trip tests.
    """
    import h5py

    path = Path(path)
    with h5py.File(path, "w", userblock_size=512) as f:
        for name, array in arrays.items():
            array = np.asarray(array)
            ds = f.create_dataset(name, data=array.transpose(tuple(range(array.ndim))[::-1]))
            cls = {"float64": "double", "float32": "single"}.get(array.dtype.name, array.dtype.name)
            ds.attrs["MATLAB_class"] = np.bytes_(cls)
    header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created by: hsbench HDF5 schema 1.00 ."
    with open(path, "r+b") as f:
        f.write(header.ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02" + b"IM")
    return path
