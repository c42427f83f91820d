"""Numba kernels of :mod:`hsbench.codecs.ccsds122.dwt97` (CCSDS 122.0-B-2 section 3): lifting per line, 2-D levels.

Equations and conventions are documented in :mod:`hsbench.codecs.ccsds122.dwt97`; this
module holds their compiled loops and the lifting constants they use (it imports
nothing from ``dwt97``, so the two modules do not import each other). ``_r`` is the
whole-sample symmetric extension of an index into ``[0, n)``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: CDF 9/7 lifting constants (Daubechies and Sweldens 1998; CCSDS 122.0-B-2 section 3.3.2).
ALPHA = -1.586134342
BETA = -0.052980119
GAMMA = 0.882911075
DELTA = 0.443506852
K = 1.149604399


@njit(cache=True)
def _r(i, n):
    if 0 <= i < n:
        return i
    if n == 1:
        return 0
    period = 2 * (n - 1)
    i = abs(i) % period
    return period - i if i >= n else i


@njit(cache=True)
def int_fwd_line(x, lo, hi):
    """Integer 9/7-M analysis of ``x`` (even length) into ``lo`` (C) and ``hi`` (D)."""
    n = x.shape[0]
    m = n // 2
    for j in range(m):
        a = x[2 * j] + x[_r(2 * j + 2, n)]
        b = x[_r(2 * j - 2, n)] + x[_r(2 * j + 4, n)]
        hi[j] = x[2 * j + 1] - ((9 * a - b + 8) // 16)
    for j in range(m):
        dm = hi[(_r(2 * j - 1, n) - 1) // 2]
        lo[j] = x[2 * j] - ((-dm - hi[j] + 2) // 4)


@njit(cache=True)
def int_inv_line(lo, hi, x):
    """Exact inverse of :func:`int_fwd_line`."""
    m = lo.shape[0]
    n = 2 * m
    for j in range(m):
        dm = hi[(_r(2 * j - 1, n) - 1) // 2]
        x[2 * j] = lo[j] + ((-dm - hi[j] + 2) // 4)
    for j in range(m):
        a = x[2 * j] + x[_r(2 * j + 2, n)]
        b = x[_r(2 * j - 2, n)] + x[_r(2 * j + 4, n)]
        x[2 * j + 1] = hi[j] + ((9 * a - b + 8) // 16)


@njit(cache=True)
def flt_fwd_line(x, lo, hi):
    """CDF 9/7 analysis by lifting (alpha, beta, gamma, delta, then K scaling)."""
    n = x.shape[0]
    m = n // 2
    for j in range(m):
        lo[j] = x[2 * j]
        hi[j] = x[2 * j + 1]
    for j in range(m):
        hi[j] += ALPHA * (lo[j] + lo[_r(2 * j + 2, n) // 2])
    for j in range(m):
        lo[j] += BETA * (hi[(_r(2 * j - 1, n) - 1) // 2] + hi[j])
    for j in range(m):
        hi[j] += GAMMA * (lo[j] + lo[_r(2 * j + 2, n) // 2])
    for j in range(m):
        lo[j] += DELTA * (hi[(_r(2 * j - 1, n) - 1) // 2] + hi[j])
    for j in range(m):
        lo[j] *= K
        hi[j] /= K


@njit(cache=True)
def flt_inv_line(lo, hi, x):
    """Inverse of :func:`flt_fwd_line` (``lo`` and ``hi`` are left unchanged)."""
    m = lo.shape[0]
    n = 2 * m
    s = lo / K
    d = hi * K
    for j in range(m):
        s[j] -= DELTA * (d[(_r(2 * j - 1, n) - 1) // 2] + d[j])
    for j in range(m):
        d[j] -= GAMMA * (s[j] + s[_r(2 * j + 2, n) // 2])
    for j in range(m):
        s[j] -= BETA * (d[(_r(2 * j - 1, n) - 1) // 2] + d[j])
    for j in range(m):
        d[j] -= ALPHA * (s[j] + s[_r(2 * j + 2, n) // 2])
    for j in range(m):
        x[2 * j] = s[j]
        x[2 * j + 1] = d[j]


@njit(cache=True)
def _forward_2d(a, levels, integer):
    nb, rows, cols = a.shape
    size = max(rows, cols)
    line = np.empty(size, a.dtype)
    lo = np.empty(size // 2, a.dtype)
    hi = np.empty(size // 2, a.dtype)
    for b in range(nb):
        h, w = rows, cols
        for _ in range(levels):
            for r in range(h):
                for i in range(w):
                    line[i] = a[b, r, i]
                if integer:
                    int_fwd_line(line[:w], lo[: w // 2], hi[: w // 2])
                else:
                    flt_fwd_line(line[:w], lo[: w // 2], hi[: w // 2])
                for i in range(w // 2):
                    a[b, r, i] = lo[i]
                    a[b, r, w // 2 + i] = hi[i]
            for c in range(w):
                for i in range(h):
                    line[i] = a[b, i, c]
                if integer:
                    int_fwd_line(line[:h], lo[: h // 2], hi[: h // 2])
                else:
                    flt_fwd_line(line[:h], lo[: h // 2], hi[: h // 2])
                for i in range(h // 2):
                    a[b, i, c] = lo[i]
                    a[b, h // 2 + i, c] = hi[i]
            h //= 2
            w //= 2


@njit(cache=True)
def _inverse_2d(a, levels, integer):
    nb, rows, cols = a.shape
    size = max(rows, cols)
    line = np.empty(size, a.dtype)
    lo = np.empty(size // 2, a.dtype)
    hi = np.empty(size // 2, a.dtype)
    for b in range(nb):
        for level in range(levels - 1, -1, -1):
            h, w = rows >> level, cols >> level
            for c in range(w):
                for i in range(h // 2):
                    lo[i] = a[b, i, c]
                    hi[i] = a[b, h // 2 + i, c]
                if integer:
                    int_inv_line(lo[: h // 2], hi[: h // 2], line[:h])
                else:
                    flt_inv_line(lo[: h // 2], hi[: h // 2], line[:h])
                for i in range(h):
                    a[b, i, c] = line[i]
            for r in range(h):
                for i in range(w // 2):
                    lo[i] = a[b, r, i]
                    hi[i] = a[b, r, w // 2 + i]
                if integer:
                    int_inv_line(lo[: w // 2], hi[: w // 2], line[:w])
                else:
                    flt_inv_line(lo[: w // 2], hi[: w // 2], line[:w])
                for i in range(w):
                    a[b, r, i] = line[i]


@njit(cache=True)
def int_forward_2d(a, levels):
    """In-place ``levels``-level 2-D integer 9/7-M DWT of every ``a[b]`` (int64)."""
    _forward_2d(a, levels, True)


@njit(cache=True)
def int_inverse_2d(a, levels):
    """In-place inverse of :func:`int_forward_2d`."""
    _inverse_2d(a, levels, True)


@njit(cache=True)
def flt_forward_2d(a, levels):
    """In-place ``levels``-level 2-D CDF 9/7 DWT of every ``a[b]`` (float64)."""
    _forward_2d(a, levels, False)


@njit(cache=True)
def flt_inverse_2d(a, levels):
    """In-place inverse of :func:`flt_forward_2d`."""
    _inverse_2d(a, levels, False)
