"""Numba kernels of :mod:`hsbench.metrics`: SSIM statistics and pixel error sums in one pass each.

The equations are documented in :func:`hsbench.metrics._ssim_cs` (Wang et al. 2004,
eq. 13 with the separable Gaussian window of section III-C); this module only
holds the compiled loop. Per band it filters the five maps ``x, y, x*x, y*y, x*y``
with the 1-D window along rows, then along columns, keeping the 'valid' region
(Wang's ``filter2(..., 'valid')``), and accumulates the SSIM and contrast-structure
maps into their means on the fly: no full-size filtered map is ever stored, only
a ring buffer of ``len(g)`` horizontally filtered rows per map.

Arithmetic is float64 like the scipy ``correlate1d`` implementation it replaces
(the same sums in a different order: values agree to about 1e-13); float32 would
lose about 1e-4 of SSIM on 16-bit data, where ``E[x^2] - E[x]^2`` cancels.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def ssim_cs_means(x, y, g, c1, c2):  # pragma: no cover - compiled; tested through hsbench.metrics
    """Mean SSIM and mean ``cs`` term of each band of ``(B, H, W)`` arrays ``x``, ``y``.

    ``g``: the normalised, symmetric 1-D window (odd length ``n``, ``n <= min(H, W)``);
    ``c1 = (K1 L)^2``, ``c2 = (K2 L)^2``. Population (co)variances
    ``E[xy] - E[x] E[y]`` over the window, as scikit-image with
    ``use_sample_covariance=False``.
    """
    bands, rows, cols = x.shape
    n = g.shape[0]
    half = n // 2
    vr = rows - n + 1
    vc = cols - n + 1
    ring = np.zeros((5, n, vc))
    prod = np.empty((5, cols))
    vert = np.empty((5, vc))
    out_s = np.empty(bands)
    out_cs = np.empty(bands)
    for b in range(bands):
        acc_s = 0.0
        acc_cs = 0.0
        for i in range(rows):
            # horizontal pass of row i into ring slot i % n
            slot = i % n
            for j in range(cols):
                a = x[b, i, j]
                c = y[b, i, j]
                prod[0, j] = a
                prod[1, j] = c
                prod[2, j] = a * a
                prod[3, j] = c * c
                prod[4, j] = a * c
            for k in range(5):
                for j in range(vc):
                    ring[k, slot, j] = 0.0
                for t in range(n):
                    w = g[t]
                    for j in range(vc):
                        ring[k, slot, j] += w * prod[k, j + t]
            if i < n - 1:
                continue
            # vertical pass: output row i - n + 1 from ring rows i - n + 1 .. i (symmetric
            # window: taps t and n - 1 - t share a weight)
            top = i - n + 1
            for k in range(5):
                w = g[half]
                s = (top + half) % n
                for j in range(vc):
                    vert[k, j] = w * ring[k, s, j]
                for t in range(half):
                    w = g[t]
                    s = (top + t) % n
                    s2 = (top + n - 1 - t) % n
                    for j in range(vc):
                        vert[k, j] += w * (ring[k, s, j] + ring[k, s2, j])
            for j in range(vc):
                mx = vert[0, j]
                my = vert[1, j]
                mxx = mx * mx
                myy = my * my
                mxy = mx * my
                cs = (2.0 * (vert[4, j] - mxy) + c2) / ((vert[2, j] - mxx) + (vert[3, j] - myy) + c2)
                acc_cs += cs
                acc_s += (2.0 * mxy + c1) / (mxx + myy + c1) * cs
        out_s[b] = acc_s / (vr * vc)
        out_cs[b] = acc_cs / (vr * vc)
    return out_s, out_cs


@njit(cache=True, nogil=True)
def error_sums(x, y, sse, sae, max_abs, energy, xmin, xmax):  # pragma: no cover - compiled
    """Per band ``b`` of ``(B, H, W)`` arrays, into the length-B outputs: ``sum (x - y)^2``,
    ``sum |x - y|``, ``max |x - y|``, ``sum x^2``, ``min x``, ``max x`` (float64)."""
    bands, rows, cols = x.shape
    for b in range(bands):
        s2 = 0.0
        s1 = 0.0
        m = 0.0
        e = 0.0
        lo = np.inf
        hi = -np.inf
        for i in range(rows):
            for j in range(cols):
                a = np.float64(x[b, i, j])
                d = a - np.float64(y[b, i, j])
                s2 += d * d
                ad = abs(d)
                s1 += ad
                m = max(m, ad)
                e += a * a
                lo = min(lo, a)
                hi = max(hi, a)
        sse[b] = s2
        sae[b] = s1
        max_abs[b] = m
        energy[b] = e
        xmin[b] = lo
        xmax[b] = hi


@njit(cache=True, nogil=True)
def spectral_sums(x, y, dot, xx, yy):  # pragma: no cover - compiled
    """Add ``sum_b x*y``, ``sum_b x^2``, ``sum_b y^2`` of each pixel of ``(B, H, W)`` arrays
    to the ``(H, W)`` accumulators (bands in order, float64)."""
    bands, rows, cols = x.shape
    for b in range(bands):
        for i in range(rows):
            for j in range(cols):
                a = np.float64(x[b, i, j])
                c = np.float64(y[b, i, j])
                dot[i, j] += a * c
                xx[i, j] += a * a
                yy[i, j] += c * c
