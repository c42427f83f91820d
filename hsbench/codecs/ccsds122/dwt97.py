"""The two discrete wavelet transforms of CCSDS 122.0-B-2, section 3.

* :func:`forward_integer` / :func:`inverse_integer`: the reversible integer 9/7-M
  transform (CCSDS 122.0-B-2 section 3.3.3). One level of the 1-D transform of
  ``x_0 .. x_{2N-1}`` is, with whole-sample symmetric extension at both ends::

      D_j = x_{2j+1} - floor( (9 (x_{2j} + x_{2j+2}) - (x_{2j-2} + x_{2j+4}) + 8) / 16 )
      C_j = x_{2j}   - floor( (-D_{j-1} - D_j + 2) / 4 )

  The standard's boundary equations (``D_0``, ``D_{N-2}``, ``D_{N-1}``, ``C_0``)
  are exactly these with ``x_{-k} = x_k`` and ``x_{2N-1+k} = x_{2N-1-k}``.
* :func:`forward_float` / :func:`inverse_float`: the CDF 9/7 transform
  (section 3.3.2) by lifting (Daubechies and Sweldens 1998), with the same
  symmetric extension and the CCSDS normalisation (DC gain of the low-pass and
  Nyquist gain of the high-pass filter both ``sqrt(2)``)::

      d_j += alpha (s_j + s_{j+1});  s_j += beta (d_{j-1} + d_j)
      d_j += gamma (s_j + s_{j+1});  s_j += delta (d_{j-1} + d_j)
      low = K s;  high = d / K

A 2-D level transforms rows then columns and leaves the Mallat layout
``[[LL, HL], [LH, HH]]`` in the top-left corner; the next level repeats on LL.
Every signal length a level sees must be even (CCSDS 122 images are padded to
multiples of 8 before a 3-level transform).
"""

from __future__ import annotations

import numpy as np

from hsbench.codecs.ccsds122 import dwt97_kernels
from hsbench.codecs.ccsds122.dwt97_kernels import ALPHA, BETA, DELTA, GAMMA, K

__all__ = ["ALPHA", "BETA", "DELTA", "GAMMA", "K"]  # re-exported: the constants live beside their loops


def _check_even(n: int) -> None:
    if n % 2 or n == 0:
        raise ValueError(f"the CCSDS 122 DWT needs even signal lengths, got {n}; pad the image first")


def integer_97m_1d(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One level of the integer 9/7-M transform of a 1-D signal: ``(C, D)`` (low, high)."""
    x = np.ascontiguousarray(x, dtype=np.int64)
    _check_even(x.size)
    c = np.empty(x.size // 2, np.int64)
    d = np.empty(x.size // 2, np.int64)
    dwt97_kernels.int_fwd_line(x, c, d)
    return c, d


def integer_97m_1d_inverse(c: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Exact inverse of :func:`integer_97m_1d`."""
    x = np.empty(2 * len(c), np.int64)
    dwt97_kernels.int_inv_line(np.asarray(c, np.int64), np.asarray(d, np.int64), x)
    return x


def float_97_1d(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One level of the CDF 9/7 transform of a 1-D signal: ``(low, high)``."""
    x = np.ascontiguousarray(x, dtype=np.float64)
    _check_even(x.size)
    lo = np.empty(x.size // 2)
    hi = np.empty(x.size // 2)
    dwt97_kernels.flt_fwd_line(x, lo, hi)
    return lo, hi


def float_97_1d_inverse(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Inverse of :func:`float_97_1d` (exact up to floating-point rounding)."""
    x = np.empty(2 * len(low))
    dwt97_kernels.flt_inv_line(np.asarray(low, np.float64), np.asarray(high, np.float64), x)
    return x


def _check_shape(shape: tuple[int, ...], levels: int) -> None:
    h, w = shape[-2:]
    m = 1 << levels
    if h % m or w % m:
        raise ValueError(f"a {levels}-level DWT needs rows and cols divisible by {m}, got {h} x {w}")


def _as3d(x: np.ndarray, dtype) -> tuple[np.ndarray, tuple[int, ...]]:
    a = np.array(x, dtype=dtype, order="C", copy=True)
    return a.reshape((-1,) + a.shape[-2:]), a.shape


def forward_integer(x: np.ndarray, levels: int = 3) -> np.ndarray:
    """``levels``-level 2-D integer 9/7-M DWT over the last two axes (CCSDS 122.0-B-2 3.3.3, 3.4).

    ``x`` is an integer array ``(..., H, W)`` with ``H`` and ``W`` divisible by ``2**levels``;
    the result is int64 in Mallat layout.
    """
    _check_shape(x.shape, levels)
    a, shape = _as3d(x, np.int64)
    dwt97_kernels.int_forward_2d(a, levels)
    return a.reshape(shape)


def inverse_integer(y: np.ndarray, levels: int = 3) -> np.ndarray:
    """Exact inverse of :func:`forward_integer`."""
    _check_shape(y.shape, levels)
    a, shape = _as3d(y, np.int64)
    dwt97_kernels.int_inverse_2d(a, levels)
    return a.reshape(shape)


def forward_float(x: np.ndarray, levels: int = 3) -> np.ndarray:
    """``levels``-level 2-D CDF 9/7 DWT over the last two axes (CCSDS 122.0-B-2 3.3.2, 3.4), float64."""
    _check_shape(x.shape, levels)
    a, shape = _as3d(x, np.float64)
    dwt97_kernels.flt_forward_2d(a, levels)
    return a.reshape(shape)


def inverse_float(y: np.ndarray, levels: int = 3) -> np.ndarray:
    """Inverse of :func:`forward_float` (perfect reconstruction up to floating-point rounding)."""
    _check_shape(y.shape, levels)
    a, shape = _as3d(y, np.float64)
    dwt97_kernels.flt_inverse_2d(a, levels)
    return a.reshape(shape)
