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

#: CDF 9/7 lifting constants (``SPEC.md`` section 5; CCSDS 122.0-B-2 section 3.3.2).
ALPHA = -1.586134342
BETA = -0.052980119
GAMMA = 0.882911075
DELTA = 0.443506852
K = 1.149604399


def _reflect(index: np.ndarray, n: int) -> np.ndarray:
    """Whole-sample symmetric extension: map any integer index into ``[0, n)``."""
    if n == 1:
        return np.zeros_like(index)
    period = 2 * (n - 1)
    index = np.abs(index) % period
    return np.where(index >= n, period - index, index)


def _neighbours(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Indices into the even / odd half-signals of the symmetric neighbours used by the lifting steps.

    Returns ``(e_next, e_prev, e_next2, o_prev)``: positions of ``x_{2j+2}``, ``x_{2j-2}``,
    ``x_{2j+4}`` in the even half and of ``x_{2j-1}`` in the odd half, for ``j = 0 .. n/2 - 1``.
    """
    j = np.arange(n // 2)
    return (
        _reflect(2 * j + 2, n) // 2,
        _reflect(2 * j - 2, n) // 2,
        _reflect(2 * j + 4, n) // 2,
        (_reflect(2 * j - 1, n) - 1) // 2,
    )


def _check_even(n: int) -> None:
    if n % 2:
        raise ValueError(f"the CCSDS 122 DWT needs even signal lengths, got {n}; pad the image first")


def integer_97m_1d(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One level of the integer 9/7-M transform along the last axis: ``(C, D)`` (low, high)."""
    n = x.shape[-1]
    _check_even(n)
    e_next, e_prev, e_next2, o_prev = _neighbours(n)
    xe = x[..., 0::2]
    xo = x[..., 1::2]
    d = xo - ((9 * (xe + xe[..., e_next]) - (xe[..., e_prev] + xe[..., e_next2]) + 8) >> 4)
    c = xe - ((-d[..., o_prev] - d + 2) >> 2)
    return c, d


def integer_97m_1d_inverse(c: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Exact inverse of :func:`integer_97m_1d`."""
    n = 2 * c.shape[-1]
    e_next, e_prev, e_next2, o_prev = _neighbours(n)
    xe = c + ((-d[..., o_prev] - d + 2) >> 2)
    xo = d + ((9 * (xe + xe[..., e_next]) - (xe[..., e_prev] + xe[..., e_next2]) + 8) >> 4)
    x = np.empty(c.shape[:-1] + (n,), dtype=np.result_type(c, d))
    x[..., 0::2] = xe
    x[..., 1::2] = xo
    return x


def float_97_1d(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One level of the CDF 9/7 transform along the last axis: ``(low, high)``."""
    n = x.shape[-1]
    _check_even(n)
    e_next, _, _, o_prev = _neighbours(n)
    s = x[..., 0::2].astype(np.float64)
    d = x[..., 1::2].astype(np.float64)
    d = d + ALPHA * (s + s[..., e_next])
    s = s + BETA * (d[..., o_prev] + d)
    d = d + GAMMA * (s + s[..., e_next])
    s = s + DELTA * (d[..., o_prev] + d)
    return s * K, d / K


def float_97_1d_inverse(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Inverse of :func:`float_97_1d` (exact up to floating-point rounding)."""
    n = 2 * low.shape[-1]
    e_next, _, _, o_prev = _neighbours(n)
    s = low / K
    d = high * K
    s = s - DELTA * (d[..., o_prev] + d)
    d = d - GAMMA * (s + s[..., e_next])
    s = s - BETA * (d[..., o_prev] + d)
    d = d - ALPHA * (s + s[..., e_next])
    x = np.empty(low.shape[:-1] + (n,), dtype=np.float64)
    x[..., 0::2] = s
    x[..., 1::2] = d
    return x


def _forward(x: np.ndarray, levels: int, step) -> np.ndarray:
    out = x.copy()
    h, w = out.shape[-2:]
    for _ in range(levels):
        sub = out[..., :h, :w]
        lo, hi = step(sub)
        rows = np.concatenate([lo, hi], axis=-1)
        lo, hi = step(np.swapaxes(rows, -1, -2))
        out[..., :h, :w] = np.swapaxes(np.concatenate([lo, hi], axis=-1), -1, -2)
        h, w = h // 2, w // 2
    return out


def _inverse(y: np.ndarray, levels: int, step) -> np.ndarray:
    out = y.copy()
    H, W = out.shape[-2:]
    for level in range(levels - 1, -1, -1):
        h, w = H >> level, W >> level
        sub = np.swapaxes(out[..., :h, :w], -1, -2)
        cols = step(sub[..., : h // 2], sub[..., h // 2 :])
        rows = np.swapaxes(cols, -1, -2)
        out[..., :h, :w] = step(rows[..., : w // 2], rows[..., w // 2 :])
    return out


def _check_shape(shape: tuple[int, ...], levels: int) -> None:
    h, w = shape[-2:]
    m = 1 << levels
    if h % m or w % m:
        raise ValueError(f"a {levels}-level DWT needs rows and cols divisible by {m}, got {h} x {w}")


def forward_integer(x: np.ndarray, levels: int = 3) -> np.ndarray:
    """``levels``-level 2-D integer 9/7-M DWT over the last two axes (CCSDS 122.0-B-2 3.3.3, 3.4).

    ``x`` is an integer array ``(..., H, W)`` with ``H`` and ``W`` divisible by ``2**levels``;
    the result is int64 in Mallat layout.
    """
    _check_shape(x.shape, levels)
    return _forward(np.asarray(x, dtype=np.int64), levels, integer_97m_1d)


def inverse_integer(y: np.ndarray, levels: int = 3) -> np.ndarray:
    """Exact inverse of :func:`forward_integer`."""
    _check_shape(y.shape, levels)
    return _inverse(np.asarray(y, dtype=np.int64), levels, integer_97m_1d_inverse)


def forward_float(x: np.ndarray, levels: int = 3) -> np.ndarray:
    """``levels``-level 2-D CDF 9/7 DWT over the last two axes (CCSDS 122.0-B-2 3.3.2, 3.4), float64."""
    _check_shape(x.shape, levels)
    return _forward(np.asarray(x, dtype=np.float64), levels, float_97_1d)


def inverse_float(y: np.ndarray, levels: int = 3) -> np.ndarray:
    """Inverse of :func:`forward_float` (perfect reconstruction up to floating-point rounding)."""
    _check_shape(y.shape, levels)
    return _inverse(np.asarray(y, dtype=np.float64), levels, float_97_1d_inverse)
