"""Explicit linear rescaling of a cube to fewer bits, for codecs that cannot hold its samples.

A codec limited to ``bits``-bit unsigned samples (baseline JPEG: 8, OpenJPEG as used
here: 16) codes wider, signed or float data through the affine map

    q = round((x - lo) * (2**bits - 1) / (hi - lo)),    x^ = lo + q * (hi - lo) / (2**bits - 1)

with ``lo`` / ``hi`` the minimum and maximum of the data, per band or over the
whole cube. ``lo`` and ``hi`` travel in the payload (they are sample values, so
they are stored exactly in the cube's own dtype) and count in the rate. This
replaces the wrap-around cast (``uint16 -> uint8`` modulo 256) that the SSCNet
paper's JPEG baseline used (``docs/conventions.md`` section 7): the map is monotone, so the
order of samples survives, and its own error is at most half a step
``(hi - lo) / (2 * (2**bits - 1))``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hsbench.cube import Cube
from hsbench.errors import CodecParameterError, CorruptStreamError

#: Allowed values of a codec's ``rescale`` parameter: one map per band, or one for the cube.
SCOPES = ("band", "cube")


def check_scope(value: object) -> str:
    """Validate a ``rescale`` parameter value (``"band"`` or ``"cube"``)."""
    if value not in SCOPES:
        raise CodecParameterError(f"rescale must be one of {', '.join(map(repr, SCOPES))}, got {value!r}")
    return str(value)


def needs_rescale(cube: Cube, bits: int, *, exact_depth: bool = False) -> bool:
    """True unless the samples are unsigned integers of at most ``bits`` bits.

    With ``exact_depth`` narrower data is rescaled too (stretched to the full ``bits``-bit range),
    for codecs whose sample precision is fixed (baseline JPEG: always 8 bits).
    """
    depth = int(cube.bit_depth)  # type: ignore[arg-type]
    return cube.is_float or cube.signed or depth > bits or (exact_depth and depth != bits)


def describe(cube: Cube, bits: int, *, exact_depth: bool = False) -> str:
    """The rescaling a ``bits``-bit codec applies to ``cube``, for result rows: ``"16->8"`` or ``"none"``."""
    if not needs_rescale(cube, bits, exact_depth=exact_depth):
        return "none"
    source = f"{cube.dtype}" if cube.is_float else f"{'s' if cube.signed else ''}{cube.bit_depth}"
    return f"{source}->{bits}"


@dataclass(frozen=True)
class LinearRescale:
    """Per-band (or whole-cube) affine map of samples onto ``[0, 2**bits - 1]`` (module docstring)."""

    bits: int
    lows: np.ndarray  # shape (n,), n = bands ("band" scope) or 1 ("cube" scope), in the cube's dtype
    highs: np.ndarray

    @classmethod
    def fit(cls, data: np.ndarray, bits: int, scope: str) -> "LinearRescale":
        """The map from the data's own min / max (per band, or over the cube) to ``bits`` bits."""
        if scope == "band":
            flat = data.reshape(data.shape[0], -1)
            return cls(bits, flat.min(axis=1), flat.max(axis=1))
        return cls(bits, np.array([data.min()], data.dtype), np.array([data.max()], data.dtype))

    @property
    def top(self) -> int:
        """Largest code value, ``2**bits - 1``."""
        return (1 << self.bits) - 1

    def _band_map(self, band: int) -> tuple[float, float]:
        """``(lo, hi)`` of the map that applies to ``band``, as float64."""
        i = band if self.lows.size > 1 else 0
        return float(self.lows[i]), float(self.highs[i])

    def forward(self, data: np.ndarray) -> np.ndarray:
        """``q = round((x - lo) * top / (hi - lo))`` as ``uint8`` / ``uint16``; constant bands map to 0.

        Computed one band at a time, so a large cube needs the output plus one
        float64 band, never a float64 copy of the cube.
        """
        out = np.empty(data.shape, np.uint8 if self.bits <= 8 else np.uint16)
        for b in range(data.shape[0]):
            lo, hi = self._band_map(b)
            span = hi - lo
            scale = self.top / span if span > 0 else 0.0
            codes = np.rint((data[b].astype(np.float64) - lo) * scale)
            np.clip(codes, 0, self.top, out=codes)
            out[b] = codes
        return out

    def inverse(self, codes: np.ndarray, dtype: np.dtype) -> np.ndarray:
        """``x^ = lo + q * (hi - lo) / top``, rounded for integer ``dtype`` and kept within ``[lo, hi]``
        (band by band, like :meth:`forward`)."""
        dtype = np.dtype(dtype)
        out = np.empty(codes.shape, dtype)
        for b in range(codes.shape[0]):
            lo, hi = self._band_map(b)
            values = lo + codes[b].astype(np.float64) * ((hi - lo) / self.top)
            if dtype.kind in "iu":
                values = np.rint(values)
            np.clip(values, lo, hi, out=values)
            out[b] = values.astype(dtype)
        return out

    def to_bytes(self) -> bytes:
        """Lows then highs, each in the cube's dtype (little-endian)."""
        return np.concatenate([self.lows, self.highs]).astype(self.lows.dtype.newbyteorder("<")).tobytes()

    @classmethod
    def from_bytes(cls, payload: memoryview, offset: int, bits: int, count: int, dtype: np.dtype) -> tuple["LinearRescale", int]:
        """Read ``count`` lows and highs of ``dtype`` at ``offset``; returns the map and the next offset."""
        dt = np.dtype(dtype).newbyteorder("<")
        size = 2 * count * dt.itemsize
        if offset + size > len(payload):
            raise CorruptStreamError("payload truncated inside its rescaling table")
        values = np.frombuffer(payload, dtype=dt, count=2 * count, offset=offset).astype(np.dtype(dtype))
        lows, highs = values[:count], values[count:]
        if np.any(highs < lows):
            raise CorruptStreamError("rescaling table is damaged (a high below its low)")
        return cls(bits, lows, highs), offset + size

    def step(self) -> np.ndarray:
        """Quantisation step ``(hi - lo) / top`` of each map (its own error is at most half of it)."""
        return (self.highs.astype(np.float64) - self.lows.astype(np.float64)) / self.top
