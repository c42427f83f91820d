"""BD-rate / BD-quality against independently computed references."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import quad

from hsbench.bdrate import bd_quality, bd_rate, bd_table

# x265 measurements used as the worked example of the FAU-LMS "bjontegaard" package (kbps, dB).
RATE_A = [9487.76, 4593.60, 2486.44, 1358.24]
PSNR_A = [40.037, 38.615, 36.845, 34.851]
RATE_T = [9787.80, 4469.00, 2451.52, 1356.24]
PSNR_T = [40.121, 38.651, 36.970, 34.987]


# --- independent references -------------------------------------------------------------------
def _ref_cubic_bd_rate(ra, qa, rt, qt):
    """VCEG-M33 as originally written: np.polyfit of ln R on PSNR, numerical integration (quad)."""
    pa = np.polyfit(qa, np.log(ra), 3)
    pt = np.polyfit(qt, np.log(rt), 3)
    lo, hi = max(min(qa), min(qt)), min(max(qa), max(qt))
    ia = quad(lambda q: np.polyval(pa, q), lo, hi)[0]
    it = quad(lambda q: np.polyval(pt, q), lo, hi)[0]
    return 100 * (math.exp((it - ia) / (hi - lo)) - 1)


def _ref_cubic_bd_psnr(ra, qa, rt, qt):
    la, lt = np.log(ra), np.log(rt)
    pa, pt = np.polyfit(la, qa, 3), np.polyfit(lt, qt, 3)
    lo, hi = max(la.min(), lt.min()), min(la.max(), lt.max())
    return (quad(lambda x: np.polyval(pt, x), lo, hi)[0] - quad(lambda x: np.polyval(pa, x), lo, hi)[0]) / (hi - lo)


def _pchip_slopes(x, y):
    """Fritsch-Carlson slopes as in Matlab's pchip / the JCT-VC spreadsheet (Moler, Numerical Computing, 3.4)."""
    h = np.diff(x)
    delta = np.diff(y) / h
    n = len(x)
    d = np.zeros(n)
    for k in range(1, n - 1):
        if delta[k - 1] * delta[k] > 0:
            w1, w2 = 2 * h[k] + h[k - 1], h[k] + 2 * h[k - 1]
            d[k] = (w1 + w2) / (w1 / delta[k - 1] + w2 / delta[k])

    def end(h1, h2, d1, d2):
        s = ((2 * h1 + h2) * d1 - h1 * d2) / (h1 + h2)
        if np.sign(s) != np.sign(d1):
            s = 0.0
        elif np.sign(d1) != np.sign(d2) and abs(s) > abs(3 * d1):
            s = 3 * d1
        return s

    if n == 2:
        d[:] = delta[0]
    else:
        d[0] = end(h[0], h[1], delta[0], delta[1])
        d[-1] = end(h[-1], h[-2], delta[-1], delta[-2])
    return d


def _hermite(x, y, d, t):
    k = min(max(np.searchsorted(x, t, side="right") - 1, 0), len(x) - 2)
    h = x[k + 1] - x[k]
    s = (t - x[k]) / h
    h00, h10 = 2 * s**3 - 3 * s**2 + 1, s**3 - 2 * s**2 + s
    h01, h11 = -2 * s**3 + 3 * s**2, s**3 - s**2
    return h00 * y[k] + h10 * h * d[k] + h01 * y[k + 1] + h11 * h * d[k + 1]


def _ref_pchip_integral(x, y, lo, hi):
    """Exact integral of the Hermite interpolant: Simpson's rule is exact for a cubic on each piece."""
    order = np.argsort(x)
    x, y = np.asarray(x, float)[order], np.asarray(y, float)[order]
    d = _pchip_slopes(x, y)
    knots = [lo, *[v for v in x if lo < v < hi], hi]
    total = 0.0
    for a, b in zip(knots[:-1], knots[1:]):
        m = (a + b) / 2
        total += (b - a) / 6 * (_hermite(x, y, d, a) + 4 * _hermite(x, y, d, m) + _hermite(x, y, d, b))
    return total


def _ref_pchip_bd_rate(ra, qa, rt, qt):
    lo, hi = max(min(qa), min(qt)), min(max(qa), max(qt))
    ia = _ref_pchip_integral(qa, np.log(ra), lo, hi)
    it = _ref_pchip_integral(qt, np.log(rt), lo, hi)
    return 100 * (math.exp((it - ia) / (hi - lo)) - 1)


def _ref_pchip_bd_psnr(ra, qa, rt, qt):
    la, lt = np.log(ra), np.log(rt)
    lo, hi = max(la.min(), lt.min()), min(la.max(), lt.max())
    return (_ref_pchip_integral(lt, qt, lo, hi) - _ref_pchip_integral(la, qa, lo, hi)) / (hi - lo)


# --- tests ------------------------------------------------------------------------------------
def test_cubic_matches_vceg_m33_reference():
    got = bd_rate(RATE_A, PSNR_A, RATE_T, PSNR_T, method="cubic")
    assert got.ok
    assert got.value == pytest.approx(_ref_cubic_bd_rate(RATE_A, PSNR_A, RATE_T, PSNR_T), abs=1e-8)
    q = bd_quality(RATE_A, PSNR_A, RATE_T, PSNR_T, method="cubic")
    assert q.value == pytest.approx(_ref_cubic_bd_psnr(np.array(RATE_A), PSNR_A, np.array(RATE_T), PSNR_T), abs=1e-9)
    # the test encoder is slightly better on this example: fewer bits, more dB
    assert got.value < 0 < q.value


def test_pchip_matches_hand_written_fritsch_carlson_reference():
    got = bd_rate(RATE_A, PSNR_A, RATE_T, PSNR_T)
    assert got.value == pytest.approx(_ref_pchip_bd_rate(RATE_A, PSNR_A, RATE_T, PSNR_T), abs=1e-8)
    q = bd_quality(RATE_A, PSNR_A, RATE_T, PSNR_T)
    assert q.value == pytest.approx(_ref_pchip_bd_psnr(np.array(RATE_A), PSNR_A, np.array(RATE_T), PSNR_T), abs=1e-9)
    # pchip and the cubic fit agree closely on a well-behaved curve but are not the same number
    cubic = bd_rate(RATE_A, PSNR_A, RATE_T, PSNR_T, method="cubic")
    assert abs(got.value - cubic.value) < 0.5 and got.value != cubic.value


def test_pchip_reference_on_an_irregular_curve_with_six_points():
    rng = np.random.default_rng(7)
    ra = np.sort(rng.uniform(0.05, 4.0, 6))
    qa = 30 + 6 * np.log2(ra) + rng.normal(0, 0.3, 6)  # not monotone everywhere: exercises zero slopes
    rt = ra * 0.83
    qt = qa + rng.normal(0, 0.2, 6)
    assert bd_rate(ra, qa, rt, qt).value == pytest.approx(_ref_pchip_bd_rate(ra, qa, rt, qt), abs=1e-8)
    assert bd_quality(ra, qa, rt, qt).value == pytest.approx(_ref_pchip_bd_psnr(ra, qa, rt, qt), abs=1e-9)


@pytest.mark.parametrize("method", ["pchip", "cubic", "akima"])
def test_analytic_shift(method):
    # Q = a + b ln R: both interpolants reproduce it exactly. The test needs k times the
    # anchor's rate for the same quality -> BD-rate = 100 (k - 1), BD-PSNR = -b ln k.
    b, k = 4.0, 0.7
    ra = np.array([0.25, 0.5, 1.0, 2.0, 4.0])
    qa = 20 + b * np.log(ra)
    rt = ra * k
    qt = qa.copy()
    assert bd_rate(ra, qa, rt, qt, method).value == pytest.approx(100 * (k - 1), abs=1e-9)
    assert bd_quality(ra, qa, rt, qt, method).value == pytest.approx(-b * math.log(k), abs=1e-9)
    # swapping anchor and test inverts the rate ratio
    assert bd_rate(rt, qt, ra, qa, method).value == pytest.approx(100 * (1 / k - 1), abs=1e-9)


@pytest.mark.parametrize("method", ["pchip", "akima", "cubic"])
def test_matches_the_fau_bjontegaard_package_on_its_example(method):
    """The FAU-LMS ``bjontegaard`` package (PCHIP equal to the JVET-T2010 sheet to 10 decimals)."""
    bjontegaard = pytest.importorskip("bjontegaard", reason="the test extra installs bjontegaard")
    want_rate = bjontegaard.bd_rate(RATE_A, PSNR_A, RATE_T, PSNR_T, method=method)
    want_psnr = bjontegaard.bd_psnr(RATE_A, PSNR_A, RATE_T, PSNR_T, method=method)
    assert bd_rate(RATE_A, PSNR_A, RATE_T, PSNR_T, method).value == pytest.approx(want_rate, abs=1e-9)
    assert bd_quality(RATE_A, PSNR_A, RATE_T, PSNR_T, method).value == pytest.approx(want_psnr, abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(3, 8), st.integers(3, 8), st.sampled_from(["pchip", "akima"]))
def test_matches_the_fau_bjontegaard_package_on_random_curves(seed, n_anchor, n_test, method):
    """Irregular rising curves of different lengths (PSNR against bpppc, in the bjontegaard
    package's own log10 rate; the log base cancels in both deltas)."""
    bjontegaard = pytest.importorskip("bjontegaard", reason="the test extra installs bjontegaard")
    rng = np.random.default_rng(seed)
    ra = np.sort(rng.uniform(0.05, 4.0, n_anchor))
    rt = np.sort(rng.uniform(0.05, 4.0, n_test))
    if np.unique(ra).size < n_anchor or np.unique(rt).size < n_test:
        return
    qa = 30 + 6 * np.log2(ra) + np.cumsum(rng.uniform(0.0, 0.4, n_anchor))
    qt = 30.5 + 6 * np.log2(rt) + np.cumsum(rng.uniform(0.0, 0.4, n_test))
    kw = {"method": method, "require_matching_points": False, "min_overlap": 0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want_rate = bjontegaard.bd_rate(ra, qa, rt, qt, **kw)
        want_psnr = bjontegaard.bd_psnr(ra, qa, rt, qt, **kw)
    got_rate, got_psnr = bd_rate(ra, qa, rt, qt, method), bd_quality(ra, qa, rt, qt, method)
    if math.isnan(want_rate):
        assert not got_rate.ok and "overlap" in got_rate.reason
    else:
        assert got_rate.value == pytest.approx(want_rate, rel=1e-9, abs=1e-9)
    if math.isnan(want_psnr):
        assert not got_psnr.ok
    else:
        assert got_psnr.value == pytest.approx(want_psnr, rel=1e-9, abs=1e-9)


def test_akima_needs_three_points_and_differs_from_pchip():
    res = bd_rate([1, 2], [30, 32], [1, 2], [31, 33], method="akima")
    assert math.isnan(res.value) and "akima needs at least 3" in res.reason
    akima = bd_rate(RATE_A, PSNR_A, RATE_T, PSNR_T, method="akima").value
    pchip = bd_rate(RATE_A, PSNR_A, RATE_T, PSNR_T).value
    assert akima != pchip and abs(akima - pchip) < 0.5


def test_lower_is_better_metric_sam():
    # SAM falls as rate rises; a test codec with 10 % lower SAM everywhere has negative BD-SAM
    ra = np.array([0.5, 1.0, 2.0, 4.0])
    sam = 8.0 / ra
    res = bd_quality(ra, sam, ra, 0.9 * sam)
    assert res.value < 0
    # and needs fewer bits for the same SAM: SAM = 7.2 / R -> R_test = 0.9 R_anchor
    assert bd_rate(ra, sam, ra, 0.9 * sam).value == pytest.approx(-10.0, abs=0.5)


def test_curves_that_do_not_overlap_give_nan_and_a_reason():
    res = bd_rate([1, 2, 3, 4], [30, 32, 34, 36], [1, 2, 3, 4], [40, 41, 42, 43])
    assert math.isnan(res.value) and "quality ranges do not overlap (anchor 30..36, test 40..43)" in res.reason
    res = bd_quality([0.1, 0.2], [30, 32], [1, 2], [30, 32])
    # the reason gives rates, not their logarithms
    assert math.isnan(res.value) and "rate ranges do not overlap (anchor 0.1..0.2, test 1..2)" in res.reason


def test_too_few_points_and_bad_points():
    res = bd_rate([1, 2, 3], [30, 32, 34], [1, 2, 3], [31, 33, 35], method="cubic")
    assert math.isnan(res.value) and "at least 4" in res.reason
    assert bd_rate([1, 2, 3], [30, 32, 34], [1, 2, 3], [31, 33, 35]).ok  # pchip needs 2
    res = bd_quality([1, 2, 4, float("nan")], [30, 32, 34, 99], [1, 2, 4], [31, 33, 35])
    assert res.ok and "left out" in res.reason
    with pytest.raises(ValueError, match="pchip, cubic"):
        bd_rate([1, 2], [1, 2], [1, 2], [1, 2], method="spline")


def test_bd_table_against_anchor():
    ra = np.array([0.25, 0.5, 1.0, 2.0])
    rows = []
    for codec, k in (("a", 1.0), ("b", 0.5), ("c", 10.0)):
        for r in ra:
            rows.append({"dataset": "d", "codec": codec, "bpppc": r * k, "psnr": 20 + 5 * np.log(r),
                         "sam_deg": 3.0 / r})
    rows.append({"dataset": "d", "codec": "lossless", "bpppc": 5.0, "psnr": math.inf, "sam_deg": 0.0})
    table = bd_table(pd.DataFrame(rows), anchor="a", metrics=("psnr", "sam_deg"))
    psnr = table[table["metric"] == "PSNR"].set_index("codec")
    assert psnr.loc["b", "bd_rate_pct"] == pytest.approx(-50.0, abs=1e-9)
    assert psnr.loc["b", "bd_quality"] == pytest.approx(5 * math.log(2), abs=1e-9)
    # c spends 10x the bits: same quality range (BD-rate defined), disjoint rate range (BD-PSNR not)
    assert psnr.loc["c", "bd_rate_pct"] == pytest.approx(900.0, abs=1e-6)
    assert math.isnan(psnr.loc["c", "bd_quality"])
    assert psnr.loc["c", "note"].startswith("BD-quality: the rate ranges do not overlap")
    assert "no psnr points" in psnr.loc["lossless", "note"]
    sam = table[table["metric"] == "SAM"].set_index("codec")
    assert sam.loc["b", "bd_rate_pct"] == pytest.approx(-50.0, abs=1e-9)
