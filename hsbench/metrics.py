"""Quality, rate and speed metrics of a coded image (``docs/conventions.md`` section 1).

Every distortion metric compares an original ``x`` with its reconstruction ``y``,
both ``(bands, rows, cols)`` arrays (a 2-D array counts as one band), and computes
in float64 whatever the storage type. Functions marked *per band* evaluate each
band on its own and average the band values with equal weight.

Peaks. :func:`psnr` and :func:`ssim` take the peak explicitly; for a cube it is
:attr:`hsbench.cube.Cube.peak`: ``2**bit_depth - 1`` for integer data, the declared
value range ``high - low`` for float data. :func:`psnr_dr` uses the dynamic range
``max - min`` of each original band instead.

Undefined values. A metric that is not defined for an input (MS-SSIM on an image
too small for its five scales, SAM on a single band, SSIM on an image smaller than
its window) is NaN, never a number computed some other way. The array functions
then issue a :class:`MetricUndefinedWarning` saying why; :func:`evaluate` puts the
reason into its ``*_note`` columns instead.

:func:`evaluate` is what the runner calls on every job: it walks the cube in
chunks of bands (:data:`CHUNK_SAMPLES` samples at a time), so it holds a few
float64 chunks and some per-pixel sums, never full float64 copies of the cube.
The loops are compiled (:mod:`hsbench.metrics_kernels`, numba, float64): one pass
per chunk for the error and spectral sums, one per scale for the SSIM / MS-SSIM
statistics, the SSIM of scale 1 shared with MS-SSIM. On this project's 2-core
machine the whole suite costs 0.29x the JPEG 2000 encode + decode time on Kodak
and 0.07x on the 224-band Indian Pines cube (``benchmarks/metric_speed.py``).

References
----------
.. [1] Z. Wang, A. C. Bovik, H. R. Sheikh, E. P. Simoncelli, "Image quality
   assessment: from error visibility to structural similarity", IEEE Trans.
   Image Process. 13(4):600-612, 2004. DOI:10.1109/TIP.2003.819861
.. [2] Z. Wang, E. P. Simoncelli, A. C. Bovik, "Multiscale structural similarity
   for image quality assessment", Proc. 37th Asilomar Conf. Signals, Systems and
   Computers, 2003, pp. 1398-1402. DOI:10.1109/ACSSC.2003.1292216
.. [3] F. A. Kruse et al., "The spectral image processing system (SIPS) -
   interactive visualization and analysis of imaging spectrometer data", Remote
   Sens. Environ. 44(2-3):145-163, 1993 (spectral angle mapper).
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Iterator, Literal, Sequence

import numpy as np

from hsbench.cube import Cube
from hsbench.errors import InvalidCubeError

__all__ = [
    "CHUNK_SAMPLES",
    "MS_SSIM_WEIGHTS",
    "MetricUndefinedWarning",
    "bpp",
    "bpppc",
    "compression_ratio",
    "evaluate",
    "mae",
    "max_abs_error",
    "ms_ssim",
    "ms_ssim_bands",
    "ms_ssim_db",
    "ms_ssim_window",
    "mse",
    "psnr",
    "psnr_bands",
    "psnr_dr",
    "rate_columns",
    "sam",
    "snr",
    "ssim",
    "ssim_bands",
    "throughput_mbps",
    "timing_columns",
]

#: Scale weights of MS-SSIM, finest scale first (Wang, Simoncelli, Bovik 2003 [2], section 3.1).
MS_SSIM_WEIGHTS: tuple[float, ...] = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)

#: SSIM constants K1, K2 (Wang et al. 2004 [1], eq. 7 and 9).
SSIM_K: tuple[float, float] = (0.01, 0.03)

#: Float64 samples per band chunk that :func:`evaluate` and the array functions
#: convert at a time (4 MiB per float64 array; MS-SSIM holds about 4 such arrays).
CHUNK_SAMPLES: int = 1 << 19


class MetricUndefinedWarning(UserWarning):
    """A metric is not defined for the given input and was returned as NaN."""


# -- input handling -------------------------------------------------------------------


def _as_bands(a: Any, what: str) -> np.ndarray:
    """View ``a`` as a ``(B, H, W)`` array (2-D input becomes one band)."""
    a = np.asarray(a)
    if a.ndim == 2:
        a = a[np.newaxis]
    if a.ndim != 3:
        raise InvalidCubeError(
            f"{what}: expected a (bands, rows, cols) or (rows, cols) array, got shape {a.shape}"
        )
    if a.size == 0:
        raise InvalidCubeError(f"{what}: empty array of shape {a.shape}")
    if not (np.issubdtype(a.dtype, np.number) or a.dtype == bool) or np.iscomplexobj(a):
        raise InvalidCubeError(f"{what}: expected real numbers, got dtype {a.dtype}")
    return a


def _pair(x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validate an (original, reconstruction) pair: same shape, 2-D or 3-D, real."""
    x = _as_bands(x, "original")
    y = _as_bands(y, "reconstruction")
    if x.shape != y.shape:
        raise InvalidCubeError(
            f"reconstruction shape {y.shape} does not match the original {x.shape}; a decoder must "
            "return the geometry (bands, rows, cols) of its input"
        )
    return x, y


def _check_peak(peak: float, what: str = "peak") -> float:
    peak = float(peak)
    if not (math.isfinite(peak) and peak > 0):
        raise ValueError(
            f"{what} must be a positive finite number, got {peak}; use 2**bit_depth - 1 for integer "
            "data or high - low of the declared value range for float data (Cube.peak)"
        )
    return peak


def _chunks(x: np.ndarray, y: np.ndarray) -> Iterator[tuple[slice, np.ndarray, np.ndarray]]:
    """Yield ``(band slice, x chunk, y chunk)`` in float64, about CHUNK_SAMPLES samples each."""
    bands, rows, cols = x.shape
    step = max(1, CHUNK_SAMPLES // (rows * cols))
    for b0 in range(0, bands, step):
        sl = slice(b0, min(bands, b0 + step))
        yield sl, np.ascontiguousarray(x[sl], dtype=np.float64), np.ascontiguousarray(y[sl], dtype=np.float64)


def _warn_nan(reason: str) -> float:
    warnings.warn(reason, MetricUndefinedWarning, stacklevel=3)
    return math.nan


# -- pixel error statistics ------------------------------------------------------------


class _ErrorSums:
    """Per-band sums of one pass over a pair: squared / absolute error, peak error,
    signal energy and the original's min / max."""

    def __init__(self, bands: int, pixels: int) -> None:
        self.pixels = pixels
        self.sse = np.empty(bands)
        self.sae = np.empty(bands)
        self.max_abs = np.empty(bands)
        self.energy = np.empty(bands)
        self.xmin = np.empty(bands)
        self.xmax = np.empty(bands)

    def update(self, sl: slice, xc: np.ndarray, yc: np.ndarray) -> None:
        from hsbench.metrics_kernels import error_sums

        error_sums(xc, yc, self.sse[sl], self.sae[sl], self.max_abs[sl], self.energy[sl], self.xmin[sl],
                   self.xmax[sl])

    @property
    def band_mse(self) -> np.ndarray:
        return self.sse / self.pixels

    @property
    def mse(self) -> float:
        return float(self.sse.sum() / (self.pixels * self.sse.size))


def _error_sums(x: np.ndarray, y: np.ndarray) -> _ErrorSums:
    sums = _ErrorSums(x.shape[0], x.shape[1] * x.shape[2])
    for sl, xc, yc in _chunks(x, y):
        sums.update(sl, xc, yc)
    return sums


def _psnr_db(mse_value: np.ndarray | float, peak: np.ndarray | float) -> np.ndarray:
    """``10 log10(peak**2 / MSE)`` elementwise; +inf where MSE = 0."""
    mse_arr = np.asarray(mse_value, dtype=np.float64)
    peak_arr = np.asarray(peak, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(peak_arr**2 / mse_arr)


def mse(x: Any, y: Any) -> float:
    """Mean squared error over all samples: ``MSE = mean((x - y)**2)``."""
    x, y = _pair(x, y)
    return _error_sums(x, y).mse


def mae(x: Any, y: Any) -> float:
    """Mean absolute error over all samples: ``MAE = mean(|x - y|)``."""
    x, y = _pair(x, y)
    s = _error_sums(x, y)
    return float(s.sae.sum() / x.size)


def max_abs_error(x: Any, y: Any) -> float:
    """Peak absolute error ``max |x - y|``: the bound near-lossless coders guarantee
    (e.g. CCSDS 123.0-B-2 section 4.8.2: ``|s - s'| <= m``)."""
    x, y = _pair(x, y)
    return float(_error_sums(x, y).max_abs.max())


def psnr(x: Any, y: Any, peak: float) -> float:
    """Peak signal-to-noise ratio over the whole cube, in dB.

    ``PSNR = 10 log10(peak**2 / MSE)`` with the MSE over all samples of all bands
    (the usual image convention, e.g. Kodak RGB PSNR). ``peak`` is ``2**D - 1`` for
    ``D``-bit integer data and the declared value range for float data
    (:attr:`hsbench.cube.Cube.peak`). Identical inputs give ``inf``.
    """
    peak = _check_peak(peak)
    x, y = _pair(x, y)
    return float(_psnr_db(_error_sums(x, y).mse, peak))


def psnr_bands(x: Any, y: Any, peak: float) -> np.ndarray:
    """PSNR of each band, in dB: ``10 log10(peak**2 / MSE_b)`` (``inf`` where band ``b`` is exact).

    Their mean is the per-band convention of the SSCNet paper (``psnr_band_mean``).
    """
    peak = _check_peak(peak)
    x, y = _pair(x, y)
    return _psnr_db(_error_sums(x, y).band_mse, peak)


def psnr_norm(x: Any, y: Any, tile: int = 64, span: Any = None) -> float:
    """PSNR in the normalised domain learned codecs are trained and published in, in dB.

    Both images are scaled per band to ``[0, 1]`` with the original's range,
    ``x_n = (x - min_b) / (max_b - min_b)`` (``span`` replaces ``max_b - min_b``, e.g. by a
    training set's; a constant band keeps span 1), cut into ``tile x tile`` tiles (the last
    row and column of tiles may be smaller), and ``PSNR = mean_t 10 log10(1 / MSE_t)`` with
    ``MSE_t`` over all bands and pixels of tile ``t`` (peak 1). That is how the SSCNet code
    reports (seed 001 Tables 4-5: ``piq.psnr(data_range=1)`` of min/max-normalised 432x64x64
    tiles, averaged) and the HySpecNet-11k papers (data scaled to [0, 1], mean over patches).
    A tile without error is ``+inf``, and so is then the mean.
    """
    x, y = _pair(x, y)
    if int(tile) < 1:
        raise ValueError(f"tile must be a positive number of pixels, got {tile}")
    tile = int(tile)
    bands, rows, cols = x.shape
    flat = x.reshape(bands, -1)
    rng = flat.max(axis=1).astype(np.float64) - flat.min(axis=1) if span is None else np.asarray(span, np.float64)
    weight = 1.0 / np.where(rng > 0, rng, 1.0) ** 2
    starts = np.arange(0, cols, tile)
    widths = np.diff(np.append(starts, cols))
    step = max(1, CHUNK_SAMPLES // (tile * cols))
    values = []
    for r0 in range(0, rows, tile):
        r1 = min(rows, r0 + tile)
        sse = np.zeros(starts.size)
        for b0 in range(0, bands, step):
            d = x[b0 : b0 + step, r0:r1].astype(np.float64) - y[b0 : b0 + step, r0:r1]
            sse += np.add.reduceat(np.einsum("bhw,bhw,b->w", d, d, weight[b0 : b0 + step]), starts)
        values.append(_psnr_db(sse / (bands * (r1 - r0) * widths), 1.0))
    return float(np.mean(np.concatenate(values)))


def _psnr_dr_from(sums: _ErrorSums) -> float:
    dynamic_range = sums.xmax - sums.xmin
    defined = dynamic_range > 0
    if not defined.any():
        return math.nan
    return float(np.mean(_psnr_db(sums.band_mse[defined], dynamic_range[defined])))


def psnr_dr(x: Any, y: Any) -> float:
    """Dynamic-range PSNR, per band, averaged over bands, in dB.

    ``PSNR_DR = mean_b 10 log10((max x_b - min x_b)**2 / MSE_b)``: the peak of band
    ``b`` is the dynamic range of the original band (``docs/conventions.md`` section 1). Bands
    with no dynamic range (constant originals) have no such peak and are left out;
    NaN (with a warning) if every band is constant.
    """
    x, y = _pair(x, y)
    value = _psnr_dr_from(_error_sums(x, y))
    if math.isnan(value):
        return _warn_nan("psnr_dr is undefined: every band of the original is constant (max == min)")
    return value


def _snr_from(sums: _ErrorSums) -> float:
    noise = float(sums.sse.sum())
    if noise == 0.0:
        return math.inf
    with np.errstate(divide="ignore"):
        return float(10.0 * np.log10(float(sums.energy.sum()) / noise))


def snr(x: Any, y: Any) -> float:
    """Signal-to-noise ratio over the whole cube, in dB.

    ``SNR = 10 log10(sum x**2 / sum (x - y)**2)``: the signal power is the mean
    square of the original (not its variance), the noise power the MSE.
    Identical inputs give ``inf``.
    """
    x, y = _pair(x, y)
    return _snr_from(_error_sums(x, y))


# -- SSIM / MS-SSIM ----------------------------------------------------------------------


def _gaussian_window(win_size: int, sigma: float) -> np.ndarray:
    """Normalised 1-D Gaussian of ``win_size`` taps (the separable SSIM window [1])."""
    if isinstance(win_size, bool) or not isinstance(win_size, (int, np.integer)):
        raise ValueError(f"win_size must be an odd integer >= 3, got {win_size!r}")
    if win_size < 3 or win_size % 2 == 0:
        raise ValueError(f"win_size must be an odd integer >= 3, got {win_size}")
    if not (math.isfinite(sigma) and sigma > 0):
        raise ValueError(f"win_sigma must be a positive number, got {sigma}")
    t = np.arange(win_size, dtype=np.float64) - win_size // 2
    g = np.exp(-(t**2) / (2.0 * sigma**2))
    return g / g.sum()


def _ssim_cs(xc: np.ndarray, yc: np.ndarray, data_range: float, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean SSIM and mean contrast-structure term of each band of a float64 chunk.

    Wang et al. 2004 [1] eq. 13 with Gaussian weights (eq. 14), population
    (co)variances and ``C1 = (K1 L)**2``, ``C2 = (K2 L)**2``, ``L = data_range``:
    ``SSIM = (2 mu_x mu_y + C1)(2 s_xy + C2) / ((mu_x**2 + mu_y**2 + C1)(s_x**2 + s_y**2 + C2))``;
    ``cs`` is its second factor, the term MS-SSIM uses at the finer scales [2].
    Means and (co)variances come from the separable Gaussian window ``g`` applied
    along rows then columns over the 'valid' region only (output pixels whose
    window lies inside the image, as Wang's reference ``filter2(window, img, 'valid')``);
    the maps are averaged over that region. One compiled pass per chunk
    (:func:`hsbench.metrics_kernels.ssim_cs_means`, float64).
    """
    from hsbench.metrics_kernels import ssim_cs_means

    c1 = (SSIM_K[0] * data_range) ** 2
    c2 = (SSIM_K[1] * data_range) ** 2
    return ssim_cs_means(np.ascontiguousarray(xc, dtype=np.float64), np.ascontiguousarray(yc, dtype=np.float64),
                         g, c1, c2)


def _downsample2(a: np.ndarray) -> np.ndarray:
    """2x2 average then decimation by 2 (the MS-SSIM low-pass [2]); an odd last
    row / column is replicated first, as the reference ``imfilter(..., 'symmetric')``."""
    rows, cols = a.shape[-2:]
    if rows % 2 or cols % 2:
        a = np.pad(a, ((0, 0), (0, rows % 2), (0, cols % 2)), mode="edge")
    return (a[:, 0::2, 0::2] + a[:, 0::2, 1::2] + a[:, 1::2, 0::2] + a[:, 1::2, 1::2]) * 0.25


def _ssim_reason(rows: int, cols: int, win_size: int) -> str:
    if min(rows, cols) < win_size:
        return (
            f"SSIM is undefined: the image ({rows}x{cols}) is smaller than the {win_size}-px window"
        )
    return ""


def _ms_ssim_reason(rows: int, cols: int, win_size: int, levels: int) -> str:
    need = (win_size - 1) * 2 ** (levels - 1)
    if min(rows, cols) <= need:
        smaller = ms_ssim_window(rows, cols, levels=levels)
        hint = (
            f"; a {smaller}-px window fits (ms_ssim_win_size={smaller} or 'auto')"
            if smaller is not None
            else "; no window >= 3 px fits, the image is too small for MS-SSIM"
        )
        return (
            f"MS-SSIM is undefined: the shorter side ({min(rows, cols)} px) must exceed "
            f"(win - 1) * 2**(scales - 1) = ({win_size} - 1) * {2 ** (levels - 1)} = {need} px "
            f"for {levels} scales with a {win_size}-px window{hint}"
        )
    return ""


def ms_ssim_window(rows: int, cols: int, *, levels: int = len(MS_SSIM_WEIGHTS), max_win: int = 11) -> int | None:
    """Largest odd window ``3 <= win <= max_win`` for which MS-SSIM is defined on a
    ``rows x cols`` image: ``min(rows, cols) > (win - 1) * 2**(levels - 1)``
    (``docs/conventions.md`` section 1: 128-px tiles take 7, 64-px tiles 3). ``None`` when even 3 is too big.
    """
    side = min(rows, cols)
    win = max_win if max_win % 2 else max_win - 1
    while win >= 3:
        if side > (win - 1) * 2 ** (levels - 1):
            return win
        win -= 2
    return None


def _ms_ssim_chunk(
    xc: np.ndarray,
    yc: np.ndarray,
    data_range: float,
    g: np.ndarray,
    weights: np.ndarray,
    first: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """MS-SSIM of each band of a float64 chunk (Wang, Simoncelli, Bovik 2003 [2], eq. 7).

    ``MS-SSIM = prod_{j<M} cs_j**w_j * ssim_M**w_M`` with the mean contrast-structure
    term ``cs_j`` at scales 1..M-1 and the mean SSIM at the coarsest scale M. Negative
    means are clipped to 0 before the fractional powers (as pytorch-msssim and
    TensorFlow do), so MS-SSIM lies in [0, 1]. ``first`` reuses scale-1 results.
    """
    levels = weights.size
    value = np.ones(xc.shape[0])
    for level in range(levels):
        if level == 0 and first is not None:
            s, cs = first
        else:
            s, cs = _ssim_cs(xc, yc, data_range, g)
        if level < levels - 1:
            value *= np.maximum(cs, 0.0) ** weights[level]
            xc = _downsample2(xc)
            yc = _downsample2(yc)
        else:
            value *= np.maximum(s, 0.0) ** weights[level]
    return value


def ssim_bands(x: Any, y: Any, data_range: float, *, win_size: int = 11, win_sigma: float = 1.5) -> np.ndarray:
    """Mean SSIM of each band (Wang et al. 2004 [1], eq. 13 with the Gaussian window of
    section III-C: 11 x 11 taps, sigma 1.5, population covariances; K1 = 0.01, K2 = 0.03).

    ``data_range`` is the same peak as :func:`psnr`. Equal to
    ``skimage.metrics.structural_similarity(x_b, y_b, data_range=..., gaussian_weights=True,
    sigma=1.5, use_sample_covariance=False)`` for each band. NaN (with a warning)
    when the image is smaller than the window.
    """
    data_range = _check_peak(data_range, "data_range")
    g = _gaussian_window(win_size, win_sigma)
    x, y = _pair(x, y)
    reason = _ssim_reason(x.shape[1], x.shape[2], win_size)
    if reason:
        _warn_nan(reason)
        return np.full(x.shape[0], np.nan)
    out = np.empty(x.shape[0])
    for sl, xc, yc in _chunks(x, y):
        out[sl] = _ssim_cs(xc, yc, data_range, g)[0]
    return out


def ssim(x: Any, y: Any, data_range: float, *, win_size: int = 11, win_sigma: float = 1.5) -> float:
    """SSIM per band on the original scale, averaged over bands (see :func:`ssim_bands`)."""
    return float(np.mean(ssim_bands(x, y, data_range, win_size=win_size, win_sigma=win_sigma)))


def ms_ssim_bands(
    x: Any,
    y: Any,
    data_range: float,
    *,
    win_size: int = 11,
    win_sigma: float = 1.5,
    weights: Sequence[float] = MS_SSIM_WEIGHTS,
) -> np.ndarray:
    """Multi-scale SSIM of each band (Wang, Simoncelli, Bovik 2003 [2]).

    Five scales with weights :data:`MS_SSIM_WEIGHTS`; each coarser scale is a 2x2
    average of the previous one; a Gaussian window of ``win_size`` taps, sigma
    ``win_sigma`` (11 / 1.5 as in [1]); ``data_range`` as for :func:`psnr`. Defined only
    when the shorter side exceeds ``(win_size - 1) * 2**(scales - 1)`` (160 px for 11
    taps): otherwise NaN with a warning (:func:`ms_ssim_window` gives a window that fits).
    """
    data_range = _check_peak(data_range, "data_range")
    g = _gaussian_window(win_size, win_sigma)
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 1 or w.size < 1 or not np.all(w >= 0):
        raise ValueError(f"weights must be a non-empty sequence of non-negative numbers, got {weights!r}")
    x, y = _pair(x, y)
    reason = _ms_ssim_reason(x.shape[1], x.shape[2], win_size, w.size)
    if reason:
        _warn_nan(reason)
        return np.full(x.shape[0], np.nan)
    out = np.empty(x.shape[0])
    for sl, xc, yc in _chunks(x, y):
        out[sl] = _ms_ssim_chunk(xc, yc, data_range, g, w)
    return out


def ms_ssim(
    x: Any,
    y: Any,
    data_range: float,
    *,
    win_size: int = 11,
    win_sigma: float = 1.5,
    weights: Sequence[float] = MS_SSIM_WEIGHTS,
) -> float:
    """MS-SSIM per band, averaged over bands (see :func:`ms_ssim_bands`); NaN when undefined."""
    return float(
        np.mean(ms_ssim_bands(x, y, data_range, win_size=win_size, win_sigma=win_sigma, weights=weights))
    )


def ms_ssim_db(value: float) -> float:
    """MS-SSIM in decibels: ``-10 log10(1 - MS-SSIM)`` (``docs/conventions.md`` section 1); ``inf`` at 1."""
    value = float(value)
    if math.isnan(value):
        return math.nan
    if value >= 1.0:
        return math.inf
    return -10.0 * math.log10(1.0 - value)


# -- spectral angle ------------------------------------------------------------------------


class _SpectralSums:
    """Per-pixel sums over bands: <x, y>, |x|**2, |y|**2."""

    def __init__(self, rows: int, cols: int) -> None:
        self.dot = np.zeros((rows, cols))
        self.xx = np.zeros((rows, cols))
        self.yy = np.zeros((rows, cols))

    def update(self, xc: np.ndarray, yc: np.ndarray) -> None:
        from hsbench.metrics_kernels import spectral_sums

        spectral_sums(xc, yc, self.dot, self.xx, self.yy)

    def result(self, bands: int) -> tuple[float, str]:
        """Mean spectral angle in degrees over pixels with a non-zero original, and a note."""
        if bands < 2:
            return math.nan, "SAM is undefined for a single band (it needs spectra of >= 2 bands)"
        keep = self.xx > 0
        kept = int(keep.sum())
        if kept == 0:
            return math.nan, "SAM is undefined: every original spectrum is all zero"
        # sqrt(|x|^2 |y|^2) rather than |x| |y|: exact for y == x, so identical spectra give 0.
        norm = np.sqrt(self.xx[keep] * self.yy[keep])
        # a zero reconstructed spectrum (norm 0) counts as orthogonal: cosine 0, 90 degrees
        cosine = np.divide(self.dot[keep], norm, out=np.zeros_like(norm), where=norm > 0)
        np.clip(cosine, -1.0, 1.0, out=cosine)
        value = float(np.degrees(np.arccos(cosine)).mean())
        left_out = keep.size - kept
        note = f"{left_out} of {keep.size} pixels left out (all-zero original spectrum)" if left_out else ""
        return value, note


def sam(x: Any, y: Any) -> float:
    """Spectral angle mapper: mean over pixels of the angle between the original and
    reconstructed spectra, in degrees (Kruse et al. 1993 [3]; ``docs/conventions.md`` section 1).

    ``SAM = mean_p degrees(arccos(clip(<x_p, y_p> / (|x_p| |y_p|), -1, 1)))``. Pixels
    whose original spectrum is all zero are left out; a zero reconstructed spectrum
    of a non-zero original counts as 90 degrees. NaN (with a warning) for a single
    band or when every original spectrum is zero.
    """
    x, y = _pair(x, y)
    sums = _SpectralSums(x.shape[1], x.shape[2])
    for _, xc, yc in _chunks(x, y):
        sums.update(xc, yc)
    value, note = sums.result(x.shape[0])
    if math.isnan(value):
        return _warn_nan(note)
    return value


# -- the row of one job -----------------------------------------------------------------------


def evaluate(
    original: Cube,
    decoded: Cube | np.ndarray,
    *,
    ms_ssim_win_size: int | Literal["auto"] = 11,
) -> dict[str, Any]:
    """Every distortion column of a result row, from one chunked pass over the cube.

    Columns: ``mse, mae, max_abs_error, psnr, psnr_band_mean, psnr_dr, snr, ssim,
    ms_ssim, ms_ssim_db, ms_ssim_note, sam_deg, sam_note, exact, psnr_bands,
    ssim_bands`` and ``peak`` (the peak of ``psnr`` / ``ssim`` / ``ms_ssim``:
    ``original.peak``). ``psnr`` comes from the MSE of the whole cube (:func:`psnr`),
    ``psnr_band_mean`` is the mean of ``psnr_bands`` (SSCNet's convention; ``inf``
    as soon as one band is exact); the other columns are defined by the function of
    the same name. ``exact`` is True when every sample of ``decoded`` equals the
    original's. Notes are ``""`` when there is nothing to say.

    ``ms_ssim_win_size``: the MS-SSIM window (11 is the standard one); ``"auto"``
    takes the largest odd window <= 11 that fits the image (:func:`ms_ssim_window`)
    and says so in ``ms_ssim_note``; values with a smaller window are not comparable
    with 11-px ones.
    """
    if not isinstance(original, Cube):
        raise TypeError(f"original must be a Cube, got {type(original).__name__}")
    y_data = decoded.data if isinstance(decoded, Cube) else decoded
    what = f"image {original.name!r}: " if original.name else ""
    x, y = original.data, _as_bands(y_data, f"{what}decoded image")
    if y.shape != x.shape:
        raise InvalidCubeError(
            f"{what}decoded shape {y.shape} does not match the original {x.shape}; the codec must "
            "return the geometry (bands, rows, cols) of its input"
        )
    bands, rows, cols = x.shape
    constant = ""
    if original.is_float and original.peak == 0.0:  # declared range (v, v): a constant image has no peak
        constant = (f"constant image (value range {original.value_range[0]:g}..{original.value_range[1]:g}): "
                    "PSNR, SSIM and MS-SSIM need a peak above 0 and are left empty")
        peak = math.nan
    else:
        peak = _check_peak(original.peak)
    g11 = _gaussian_window(11, 1.5)
    ssim_reason = constant or _ssim_reason(rows, cols, 11)

    ms_note = ""
    if isinstance(ms_ssim_win_size, str):
        if ms_ssim_win_size != "auto":
            raise ValueError(f"ms_ssim_win_size must be an odd integer >= 3 or 'auto', got {ms_ssim_win_size!r}")
        win = ms_ssim_window(rows, cols) or 11
        if win != 11:
            ms_note = (
                f"window {win} px (11 px does not fit {rows}x{cols} at 5 scales; "
                "not comparable with 11-px MS-SSIM)"
            )
    else:
        win = ms_ssim_win_size
        if win != 11:
            ms_note = f"window {win} px (not comparable with the standard 11-px MS-SSIM)"
    g_ms = g11 if win == 11 else _gaussian_window(win, 1.5)
    weights = np.asarray(MS_SSIM_WEIGHTS)
    ms_reason = constant or _ms_ssim_reason(rows, cols, win, weights.size)
    if ms_reason:
        ms_note = ms_reason

    errors = _ErrorSums(bands, rows * cols)
    spectral = _SpectralSums(rows, cols)
    ssim_b = np.full(bands, np.nan)
    ms_b = np.full(bands, np.nan)
    for sl, xc, yc in _chunks(x, y):
        errors.update(sl, xc, yc)
        spectral.update(xc, yc)
        first = None
        if not ssim_reason:
            first = _ssim_cs(xc, yc, peak, g11)
            ssim_b[sl] = first[0]
        if not ms_reason:
            ms_b[sl] = _ms_ssim_chunk(xc, yc, peak, g_ms, weights, first if win == 11 else None)
        del xc, yc

    band_psnr = _psnr_db(errors.band_mse, peak)
    ms_value = float(ms_b.mean())
    sam_value, sam_note = spectral.result(bands)
    max_abs = float(errors.max_abs.max())
    return {
        "mse": errors.mse,
        "mae": float(errors.sae.sum() / x.size),
        "max_abs_error": max_abs,
        "psnr": float(_psnr_db(errors.mse, peak)),
        "psnr_band_mean": float(band_psnr.mean()),
        "psnr_dr": _psnr_dr_from(errors),
        "snr": _snr_from(errors),
        "ssim": float(ssim_b.mean()),
        "ms_ssim": ms_value,
        "ms_ssim_db": ms_ssim_db(ms_value),
        "ms_ssim_note": ms_note,
        "sam_deg": sam_value,
        "sam_note": sam_note,
        "exact": max_abs == 0.0,
        "psnr_bands": [float(v) for v in band_psnr],
        "ssim_bands": [float(v) for v in ssim_b],
        "peak": peak,
    }


# -- rate and speed -------------------------------------------------------------------------------


def _samples(shape: Sequence[int]) -> int:
    dims = tuple(int(s) for s in shape)
    if len(dims) != 3 or min(dims) < 1:
        raise ValueError(f"cube shape must be (bands, rows, cols) of positive sizes, got {tuple(shape)}")
    return dims[0] * dims[1] * dims[2]


def _check_nbytes(nbytes: int) -> int:
    n = int(nbytes)
    if n < 1:
        raise ValueError(f"a bitstream holds at least one byte, got {nbytes}")
    return n


def bpppc(nbytes: int, cube_shape: Sequence[int]) -> float:
    """Bits per pixel per channel: ``8 * nbytes / (B * H * W)`` (``docs/conventions.md`` section 1)."""
    return 8.0 * _check_nbytes(nbytes) / _samples(cube_shape)


def bpp(nbytes: int, cube_shape: Sequence[int]) -> float:
    """Bits per pixel over all bands: ``bpppc * B = 8 * nbytes / (H * W)`` (``docs/conventions.md`` section 1)."""
    return bpppc(nbytes, cube_shape) * int(cube_shape[0])


def compression_ratio(nbytes: int, shape: Sequence[int], bit_depth: int) -> float:
    """Compression ratio ``CR = (B * H * W * D) / (8 * nbytes)`` with ``D`` the nominal
    bit depth (``docs/conventions.md`` section 1): raw size at the nominal depth over coded size."""
    depth = int(bit_depth)
    if depth < 1:
        raise ValueError(f"bit_depth must be a positive integer, got {bit_depth}")
    return _samples(shape) * depth / (8.0 * _check_nbytes(nbytes))


def throughput_mbps(raw_bytes: float, seconds: float | None) -> float:
    """Throughput in MB/s of raw data: ``raw_bytes / 1e6 / seconds`` (MB = 10**6 bytes at the
    nominal bit depth, :attr:`hsbench.cube.Cube.nominal_bytes`). NaN when the time is
    unknown (``None``, NaN) or zero."""
    if seconds is None or math.isnan(float(seconds)):
        return math.nan
    seconds = float(seconds)
    if seconds < 0:
        raise ValueError(f"a duration cannot be negative, got {seconds} s")
    if seconds == 0:
        return math.nan
    return float(raw_bytes) / 1e6 / seconds


def rate_columns(cube: Cube, nbytes: int) -> dict[str, Any]:
    """Rate columns of a result row: ``bytes``, ``bpppc``, ``bpp``, ``cr`` (nominal bit depth)."""
    return {
        "bytes": _check_nbytes(nbytes),
        "bpppc": bpppc(nbytes, cube.shape),
        "bpp": bpp(nbytes, cube.shape),
        "cr": compression_ratio(nbytes, cube.shape, int(cube.bit_depth)),  # type: ignore[arg-type]
    }


def timing_columns(cube: Cube, encode_s: float | None, decode_s: float | None) -> dict[str, Any]:
    """Timing columns of a result row: seconds and MB/s of raw data (:func:`throughput_mbps`)."""
    raw = cube.nominal_bytes
    return {
        "encode_s": math.nan if encode_s is None else float(encode_s),
        "decode_s": math.nan if decode_s is None else float(decode_s),
        "encode_mbps": throughput_mbps(raw, encode_s),
        "decode_mbps": throughput_mbps(raw, decode_s),
    }
