"""Bjontegaard delta rate and delta quality between two rate-distortion curves.

G. Bjontegaard, "Calculation of average PSNR differences between RD-curves",
ITU-T SG16 Q.6 VCEG-M33, Austin, 2001: fit each curve, integrate over the
interval where both are defined, and average the difference.

- **BD-rate** (%): quality is the abscissa and ``log(rate)`` the ordinate;
  ``BD-rate = 100 * (exp(mean(log R_test - log R_anchor)) - 1)`` over the common
  quality interval. Negative: the test codec needs fewer bits for the same quality.
- **BD-quality** (dB for PSNR, degrees for SAM ...): ``log(rate)`` is the
  abscissa; the mean of ``Q_test - Q_anchor`` over the common log-rate interval.

Two interpolations:

- ``"pchip"`` (default): piecewise cubic Hermite interpolation with monotone
  (Fritsch-Carlson) slopes, as in the JCT-VC / JVET common-test-conditions
  spreadsheets (F. Bossen, JCTVC-L1100, 2013; JVET-T2010), integrated exactly;
  needs at least two points per curve.
- ``"cubic"``: the classic least-squares cubic polynomial of VCEG-M33, integrated
  exactly; needs at least four points per curve.
- ``"akima"``: Akima's piecewise cubic (H. Akima, "A new method of interpolation and
  smooth curve fitting based on local procedures", J. ACM 17(4):589-602, 1970;
  ``scipy.interpolate.Akima1DInterpolator``), the third method of the FAU
  ``bjontegaard`` package, found more accurate and stable than PCHIP by
  C. Herglotz, M. Kraenzler, R. Mons, A. Kaup, "Beyond Bjontegaard: limits of video
  compression performance comparisons", Proc. ICIP 2022 (arXiv:2202.12565);
  integrated exactly; needs at least three points.

The PCHIP and Akima values equal those of the ``bjontegaard`` package (PyPI,
FAU-LMS) on the same points (``tests/test_bdrate.py`` checks both).

Curves that do not overlap on the integration axis have no BD value: the result
is ``nan`` with a reason, never an extrapolated number. For metrics where lower
is better (SAM) BD-rate is unchanged (rate at equal SAM) and BD-quality keeps its
sign convention test minus anchor, so a negative BD-SAM means the test is better.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

#: Interpolations, with the fewest distinct points per curve each needs.
METHODS: dict[str, int] = {"pchip": 2, "cubic": 4, "akima": 3}


@dataclass(frozen=True)
class BDResult:
    """A BD value (``nan`` when undefined), the overlap it was computed on, and why it is missing."""

    value: float
    low: float = math.nan
    high: float = math.nan
    reason: str = ""

    @property
    def ok(self) -> bool:
        """Whether a value was computed."""
        return math.isfinite(self.value)


def _clean(rate: Sequence[float], quality: Sequence[float], who: str) -> tuple[np.ndarray, np.ndarray, str]:
    r = np.asarray(rate, dtype=float)
    q = np.asarray(quality, dtype=float)
    if r.shape != q.shape or r.ndim != 1:
        raise ValueError(f"{who}: rate and quality must be 1-D sequences of the same length")
    keep = np.isfinite(r) & np.isfinite(q) & (r > 0)
    dropped = int((~keep).sum())
    note = f"{who}: {dropped} point(s) without a finite positive rate and finite quality left out" if dropped else ""
    return r[keep], q[keep], note


def _prepare_axis(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sort by ``x`` and average ``y`` over repeated ``x`` values (an interpolant needs distinct abscissae)."""
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    ux, inverse = np.unique(x, return_inverse=True)
    uy = np.bincount(inverse, weights=y) / np.bincount(inverse)
    return ux, uy


def _integral(x: np.ndarray, y: np.ndarray, lo: float, hi: float, method: str) -> float:
    """Exact integral over ``[lo, hi]`` of the interpolant of ``(x, y)``."""
    if method == "cubic":
        poly = np.polynomial.Polynomial.fit(x, y, 3)
        anti = poly.integ()
        return float(anti(hi) - anti(lo))
    from scipy.interpolate import Akima1DInterpolator, PchipInterpolator

    if method == "akima":
        return float(Akima1DInterpolator(x, y, method="akima").integrate(lo, hi))
    return float(PchipInterpolator(x, y, extrapolate=False).integrate(lo, hi))


def _bd(
    x_anchor: np.ndarray, y_anchor: np.ndarray, x_test: np.ndarray, y_test: np.ndarray, method: str,
    axis: str = "the curves", shown: Callable[[float], float] = float,
) -> BDResult:
    """Mean of ``y_test - y_anchor`` over the common ``x`` interval; the reason names ``axis``
    and gives its ranges through ``shown`` (e.g. ``exp`` for a log-rate axis)."""
    if method not in METHODS:
        raise ValueError(f"BD interpolation must be one of {', '.join(METHODS)}, got {method!r}")
    need = METHODS[method]
    xa, ya = _prepare_axis(x_anchor, y_anchor)
    xt, yt = _prepare_axis(x_test, y_test)
    for who, xs in (("anchor", xa), ("test", xt)):
        if len(xs) < need:
            return BDResult(math.nan, reason=f"{who} curve has {len(xs)} distinct point(s); "
                            f"{method} needs at least {need}")
    lo, hi = max(xa[0], xt[0]), min(xa[-1], xt[-1])
    if not hi > lo:
        return BDResult(math.nan, lo, hi, reason=f"{axis} do not overlap (anchor {shown(xa[0]):.4g}.."
                        f"{shown(xa[-1]):.4g}, test {shown(xt[0]):.4g}..{shown(xt[-1]):.4g})")
    diff = (_integral(xt, yt, lo, hi, method) - _integral(xa, ya, lo, hi, method)) / (hi - lo)
    return BDResult(diff, lo, hi)


def bd_rate(
    rate_anchor: Sequence[float],
    quality_anchor: Sequence[float],
    rate_test: Sequence[float],
    quality_test: Sequence[float],
    method: str = "pchip",
) -> BDResult:
    """Bjontegaard delta rate in percent of the test curve against the anchor (VCEG-M33).

    ``100 * (exp((1 / (q_hi - q_lo)) * integral(ln R_test(q) - ln R_anchor(q) dq)) - 1)``
    over the common quality interval. The rate can be in any unit (bpppc, bytes),
    the same for both curves. Quality values must rise or fall monotonically
    with rate for the result to mean anything; equal qualities are averaged.
    """
    ra, qa, n1 = _clean(rate_anchor, quality_anchor, "anchor")
    rt, qt, n2 = _clean(rate_test, quality_test, "test")
    res = _bd(qa, np.log(ra), qt, np.log(rt), method, "the quality ranges")
    note = "; ".join(n for n in (n1, n2, res.reason) if n)
    value = 100.0 * (math.exp(res.value) - 1.0) if res.ok else math.nan
    return BDResult(value, res.low, res.high, note)


def bd_quality(
    rate_anchor: Sequence[float],
    quality_anchor: Sequence[float],
    rate_test: Sequence[float],
    quality_test: Sequence[float],
    method: str = "pchip",
) -> BDResult:
    """Bjontegaard delta quality (BD-PSNR for PSNR) of the test curve against the anchor (VCEG-M33).

    ``(1 / (l_hi - l_lo)) * integral(Q_test(l) - Q_anchor(l) dl)`` with ``l = ln R``
    over the common log-rate interval; in the quality's unit (dB, degrees ...).
    The interval bounds in the result are in ``ln R``.
    """
    ra, qa, n1 = _clean(rate_anchor, quality_anchor, "anchor")
    rt, qt, n2 = _clean(rate_test, quality_test, "test")
    res = _bd(np.log(ra), qa, np.log(rt), qt, method, "the rate ranges", math.exp)
    note = "; ".join(n for n in (n1, n2, res.reason) if n)
    return BDResult(res.value, res.low, res.high, note)


#: Metrics compared by default: column -> (name shown, unit).
BD_METRICS: dict[str, tuple[str, str]] = {
    "psnr": ("PSNR", "dB"),
    "ms_ssim_db": ("MS-SSIM", "dB"),
    "sam_deg": ("SAM", "deg"),
}


def bd_table(
    rd: "pd.DataFrame",
    anchor: str,
    metrics: Sequence[str] = tuple(BD_METRICS),
    method: str = "pchip",
) -> "pd.DataFrame":
    """BD-rate and BD-quality of every codec against ``anchor``, per dataset and metric.

    ``rd`` is a rate-distortion table (:func:`hsbench.analysis.rd_table`: one point
    per codec and rate, mean over images); rates are in bpppc. A codec or anchor
    without points for a metric, or curves that do not overlap, give an empty
    value with the reason in ``note``; the note also flags curves of target-rate
    sweeps with points whose search missed its target on some image.
    """
    import pandas as pd

    from hsbench.analysis import curves

    missed: dict[tuple[str, str], int] = {}
    if not rd.empty and "targets_reached" in rd and "target" in rd:
        t = rd[rd["target"].astype(str) != ""]
        for (d, c), g in t.groupby(["dataset", "codec"]):
            missed[(str(d), str(c))] = int((g["targets_reached"] < g["images"]).sum())

    rows = []
    for metric in metrics:
        name, unit = BD_METRICS.get(metric, (metric, ""))
        by_key = {(d, c): pts for d, c, pts in curves(rd, metric)}
        datasets = sorted({str(d) for d in rd["dataset"].unique()}) if not rd.empty else []
        for dataset in datasets:
            codecs = sorted({str(c) for c in rd[rd["dataset"] == dataset]["codec"].unique()})
            base = by_key.get((dataset, anchor))
            for codec in codecs:
                if codec == anchor:
                    continue
                test = by_key.get((dataset, codec))
                row = {"dataset": dataset, "codec": codec, "anchor": anchor, "metric": name, "unit": unit,
                       "method": method, "bd_rate_pct": math.nan, "bd_quality": math.nan, "note": ""}
                if base is None:
                    row["note"] = f"anchor {anchor} has no {metric} points on {dataset}"
                elif test is None:
                    row["note"] = f"no {metric} points (e.g. lossless: infinite PSNR)"
                else:
                    r = bd_rate(base["bpppc"], base[metric], test["bpppc"], test[metric], method)
                    q = bd_quality(base["bpppc"], base[metric], test["bpppc"], test[metric], method)
                    row["bd_rate_pct"], row["bd_quality"] = r.value, q.value
                    flags = [f"{who} curve has {missed[(dataset, c)]} point(s) off their rate target on some images"
                             for who, c in (("anchor", anchor), ("test", codec)) if missed.get((dataset, c))]
                    reasons = [f"{what}: {res.reason}" for what, res in (("BD-rate", r), ("BD-quality", q))
                               if res.reason]
                    row["note"] = "; ".join(dict.fromkeys([*reasons, *flags]))
                rows.append(row)
    cols = ["dataset", "codec", "anchor", "metric", "unit", "method", "bd_rate_pct", "bd_quality", "note"]
    return pd.DataFrame(rows, columns=cols)
