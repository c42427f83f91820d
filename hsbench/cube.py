"""The image container: a ``(bands, rows, cols)`` array with its nominal bit depth.

Conventions (``docs/conventions.md`` section 1): an image is a numpy array of shape
``(B, H, W)``; RGB images become ``(3, H, W)``. Integer cubes carry a *nominal*
bit depth that may be smaller than their storage type (12-bit samples in
``uint16``) and every sample must fit in it. Float cubes carry the value range
that defines their peak (``value_range``), taken from the data when not given.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from hsbench.errors import InvalidCubeError

#: Bytes of samples :meth:`Cube.sha256` reads at a time (whole bands; a large cube is never copied whole).
HASH_CHUNK_BYTES = 64 << 20

#: Storage types a cube may have.
SUPPORTED_DTYPES = tuple(
    np.dtype(t) for t in ("uint8", "uint16", "uint32", "int8", "int16", "int32", "float32", "float64")
)


def integer_range(bit_depth: int, signed: bool) -> tuple[int, int]:
    """Smallest and largest sample of a ``bit_depth``-bit integer image.

    Unsigned: ``[0, 2**D - 1]``; signed (two's complement): ``[-2**(D-1), 2**(D-1) - 1]``.
    """
    if signed:
        return -(1 << (bit_depth - 1)), (1 << (bit_depth - 1)) - 1
    return 0, (1 << bit_depth) - 1


@dataclass(frozen=True, eq=False)
class Cube:
    """An image cube ``data[band, row, col]`` with the metadata codecs and metrics need.

    Parameters
    ----------
    data
        3-D array ``(bands, rows, cols)`` of one of :data:`SUPPORTED_DTYPES`.
    bit_depth
        Nominal bits per sample. Defaults to the storage size of the dtype. For
        integer data every sample must lie in the range it implies.
    name
        Identifier used in rows and plots (e.g. ``"kodim01"``).
    wavelengths
        Optional centre wavelength of each band, in nanometres.
    value_range
        For float data: the ``(low, high)`` range that defines the peak signal
        (e.g. ``(0, 1)`` for reflectance). Defaults to the data's min / max.
        Integer cubes derive it from ``bit_depth`` and signedness.
    meta
        Free-form provenance (source file, crop, band selection ...).
    """

    data: np.ndarray
    bit_depth: int | None = None
    name: str = ""
    wavelengths: tuple[float, ...] | None = None
    value_range: tuple[float, float] | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        data = self.data
        what = f"cube {self.name!r}" if self.name else "cube"
        if not isinstance(data, np.ndarray):
            raise InvalidCubeError(f"{what}: data must be a numpy array, got {type(data).__name__}")
        if data.ndim != 3:
            hint = (
                " For a single-band image use array[np.newaxis]; for an (H, W, C) colour image use "
                "Cube.from_hwc(array)."
                if data.ndim == 2
                else ""
            )
            raise InvalidCubeError(
                f"{what}: expected a 3-D array (bands, rows, cols), got {data.ndim}-D shape {data.shape}.{hint}"
            )
        if 0 in data.shape:
            raise InvalidCubeError(f"{what}: empty array of shape {data.shape}")
        if data.dtype not in SUPPORTED_DTYPES:
            raise InvalidCubeError(
                f"{what}: unsupported dtype {data.dtype}; use one of "
                + ", ".join(str(t) for t in SUPPORTED_DTYPES)
            )
        storage_bits = data.dtype.itemsize * 8
        bit_depth = storage_bits if self.bit_depth is None else int(self.bit_depth)
        object.__setattr__(self, "bit_depth", bit_depth)
        if self.is_float:
            if bit_depth != storage_bits:
                raise InvalidCubeError(
                    f"{what}: float data of dtype {data.dtype} has {storage_bits} bits, not {bit_depth}"
                )
            finite = np.isfinite(data)
            if not finite.all():
                bad = np.argwhere(~finite)[0]
                raise InvalidCubeError(
                    f"{what}: {int((~finite).sum())} NaN / Inf samples, first at (band, row, col) = "
                    f"{tuple(int(i) for i in bad)}; fill or mask them before coding"
                )
            if self.value_range is None:
                object.__setattr__(self, "value_range", (float(data.min()), float(data.max())))
            else:
                lo, hi = (float(v) for v in self.value_range)
                if not hi > lo:
                    raise InvalidCubeError(f"{what}: value_range {self.value_range} must have high > low")
                object.__setattr__(self, "value_range", (lo, hi))
        else:
            if not 1 <= bit_depth <= storage_bits:
                raise InvalidCubeError(
                    f"{what}: bit depth {bit_depth} does not fit dtype {data.dtype} (1..{storage_bits})"
                )
            lo, hi = integer_range(bit_depth, self.signed)
            dmin, dmax = int(data.min()), int(data.max())
            if dmin < lo or dmax > hi:
                raise InvalidCubeError(
                    f"{what}: values span [{dmin}, {dmax}], outside the {bit_depth}-bit "
                    f"{'signed' if self.signed else 'unsigned'} range [{lo}, {hi}]; declare a larger "
                    "bit_depth or rescale the data"
                )
            object.__setattr__(self, "value_range", (float(lo), float(hi)))
        if self.wavelengths is not None:
            wl = tuple(float(w) for w in self.wavelengths)
            if len(wl) != data.shape[0]:
                raise InvalidCubeError(
                    f"{what}: {len(wl)} wavelengths for {data.shape[0]} bands"
                )
            object.__setattr__(self, "wavelengths", wl)

    # -- construction -------------------------------------------------------------
    @classmethod
    def from_hwc(cls, array: np.ndarray, **kwargs: Any) -> "Cube":
        """Build a cube from an ``(H, W)`` or ``(H, W, C)`` image as image libraries return it."""
        array = np.asarray(array)
        if array.ndim == 2:
            array = array[np.newaxis]
        elif array.ndim == 3:
            array = np.moveaxis(array, -1, 0)
        else:
            raise InvalidCubeError(f"expected an (H, W) or (H, W, C) image, got shape {array.shape}")
        return cls(np.ascontiguousarray(array), **kwargs)

    def with_data(self, data: np.ndarray, **changes: Any) -> "Cube":
        """A copy with other data (same bit depth, name and metadata unless changed)."""
        return replace(self, data=data, **changes)

    # -- properties ---------------------------------------------------------------
    @property
    def bands(self) -> int:
        return int(self.data.shape[0])

    @property
    def rows(self) -> int:
        return int(self.data.shape[1])

    @property
    def cols(self) -> int:
        return int(self.data.shape[2])

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.bands, self.rows, self.cols)

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def signed(self) -> bool:
        return self.data.dtype.kind == "i"

    @property
    def is_float(self) -> bool:
        return self.data.dtype.kind == "f"

    @property
    def num_samples(self) -> int:
        return int(self.data.size)

    @property
    def peak(self) -> float:
        """Peak signal for PSNR: ``2**bit_depth - 1`` for integers, ``high - low`` for floats."""
        if self.is_float:
            lo, hi = self.value_range  # type: ignore[misc]
            return float(hi - lo)
        return float((1 << int(self.bit_depth)) - 1)  # type: ignore[arg-type]

    @property
    def nominal_bytes(self) -> float:
        """Size of the raw image at its nominal bit depth: ``B * H * W * D / 8``."""
        return self.num_samples * int(self.bit_depth) / 8.0  # type: ignore[arg-type]

    def sha256(self) -> str:
        """Hash of the samples, shape, dtype and bit depth (identifies the image in rows)."""
        h = hashlib.sha256()
        h.update(f"{self.shape}|{self.dtype.str}|{self.bit_depth}|".encode())
        # C-order bytes, fed a few bands at a time: a large (memory-mapped) cube is never copied whole
        step = max(1, HASH_CHUNK_BYTES // max(1, self.data[0].nbytes))
        for b0 in range(0, self.bands, step):
            h.update(np.ascontiguousarray(self.data[b0 : b0 + step]).data)
        return h.hexdigest()

    def describe(self) -> dict[str, Any]:
        """The columns a result row takes from its image."""
        return {
            "image": self.name,
            "bands": self.bands,
            "rows": self.rows,
            "cols": self.cols,
            "dtype": str(self.dtype),
            "bit_depth": self.bit_depth,
            "signed": self.signed,
        }

    def __repr__(self) -> str:
        return (
            f"Cube(name={self.name!r}, shape={self.shape}, dtype={self.dtype}, "
            f"bit_depth={self.bit_depth})"
        )
