"""Rate-distortion figures: fixed codec styles, rate units, lossless and incomplete points, panels, plotly."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from hsbench import plotting as P


def _rd(dataset: str, bands: int, curves: dict[str, list[tuple[float, float]]], **extra: list) -> pd.DataFrame:
    """An rd table (the columns :func:`hsbench.analysis.rd_table` writes) from (bpppc, psnr) points."""
    rows = []
    for codec, pts in curves.items():
        for i, (bpppc, psnr) in enumerate(pts):
            rows.append({"dataset": dataset, "codec": codec, "params": json.dumps({"q": i}),
                         "label": f"{codec}(q={i})", "images": 4, "bpppc": bpppc, "bpp": bpppc * bands,
                         "psnr": psnr, "sam_deg": 1.0 / bpppc, "ms_ssim_db": psnr / 2})
    df = pd.DataFrame(rows)
    for col, values in extra.items():
        df[col] = values
    return df


RGB = _rd("kodak", 3, {"jpeg": [(0.1, 28.0), (0.3, 32.0), (1.0, 38.0)],
                       "jpeg2000": [(0.05, 27.0), (0.2, 31.0), (0.8, 37.0)]})


def test_builtin_codecs_have_fixed_distinct_styles_and_others_a_stable_hash_style():
    from hsbench.codecs.registry import BUILTIN

    assert set(BUILTIN) <= set(P.CODEC_STYLES), "every built-in codec needs a fixed style"
    styles = [P.codec_style(c) for c in BUILTIN]
    assert len({s.color for s in styles}) == len(styles)
    assert P.codec_style("jpeg2000") == P.Style("#d62728", "s")
    # a plugin codec: the same style in another process (no PYTHONHASHSEED dependence), never a built-in colour
    code = "from hsbench.plotting import codec_style; s = codec_style('my-plugin-codec'); print(s.color, s.marker)"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={"PYTHONHASHSEED": "123", **{k: v for k, v in __import__("os").environ.items()
                                                           if k != "PYTHONHASHSEED"}})
    mine = P.codec_style("my-plugin-codec")
    assert other.stdout.split() == [mine.color, mine.marker]
    fallback = {P.codec_style(f"codec{i}").color for i in range(200)}
    assert not fallback & {s.color for s in P.CODEC_STYLES.values()}
    assert len(fallback) > 8  # the hash spreads names over the palette


def test_rgb_in_bpp_hyperspectral_in_bpppc_with_titles_in_words():
    hsi = _rd("synthetic-hsi", 31, {"jpeg2000": [(0.1, 35.0), (0.5, 42.0), (2.0, 55.0)]})
    figs = P.rd_figures([("run", pd.concat([RGB, hsi]))], metrics=("psnr", "sam_deg"))
    by = {(f.dataset, f.metric): f for f in figs}
    kodak = by[("kodak", "psnr")]
    assert kodak.unit == "bpp"
    np.testing.assert_allclose(kodak.series[0].x, [0.3, 0.9, 3.0])  # jpeg in bpp = 3 x bpppc
    assert by[("synthetic-hsi", "psnr")].unit == "bpppc"
    np.testing.assert_allclose(by[("synthetic-hsi", "psnr")].series[0].x, [0.1, 0.5, 2.0])
    # figures: PSNR first, then spectral angle; titles and axis titles are words, not column names
    assert [f.metric for f in figs] == ["psnr", "psnr", "sam_deg", "sam_deg"]
    assert by[("kodak", "sam_deg")].title == "kodak: spectral angle against rate"
    assert P.metric_title("sam_deg") == "spectral angle (deg)" and P.metric_title("psnr") == "PSNR (dB)"
    for f in figs:
        assert "_" not in f.title + P.metric_title(f.metric) + P.RATE_TITLES[f.unit]
    assert "bits per pixel over the three channels (bpp)" in kodak.caption()


def test_lossless_points_are_kept_on_a_row_above_the_finite_ones():
    rd = _rd("hsi", 8, {"ccsds123": [(1.2, 55.0), (2.0, 70.0), (5.8, math.inf)], "jpeg": [(0.4, 40.0), (2.0, 52.0)]})
    (fig,) = P.rd_figures([("run", rd)], metrics=("psnr",))
    ccsds = next(s for s in fig.series if s.label == "ccsds123")
    np.testing.assert_allclose(ccsds.lossless_x, [5.8])
    assert ccsds.x.size == 2 and np.isfinite(ccsds.y).all()
    assert fig.lossless_y == pytest.approx(70.0 + 0.08 * 30.0)
    assert "lossless" in fig.caption()
    plot = P.plotly_figure(fig)
    lossless = [t for t in plot["data"] if t.get("texttemplate") == "lossless"]
    assert len(lossless) == 1 and lossless[0]["x"] == [5.8] and lossless[0]["y"] == [fig.lossless_y]
    assert "infinite (lossless)" in lossless[0]["text"][0]
    # SAM of the same point is finite (0 degrees would be): nothing is lossless there
    (sam,) = P.rd_figures([("run", rd)], metrics=("sam_deg",))
    assert not sam.has_lossless


def test_far_apart_rates_get_separate_panels():
    rd = _rd("hsi", 100, {"sscnet": [(0.0013, 24.0), (0.004, 25.0)], "jpeg2000": [(0.09, 35.0), (3.5, 65.0)],
                          "jpeg": [(0.4, 40.0), (3.4, 57.0)]})
    (fig,) = P.rd_figures([("run", rd)], metrics=("psnr",))
    assert len(fig.panels) == 2
    panel = {s.label: s.panel for s in fig.series}
    assert panel == {"sscnet": 0, "jpeg2000": 1, "jpeg": 1}
    assert fig.panels[0] == pytest.approx((0.0013, 0.004)) and fig.panels[1] == pytest.approx((0.09, 3.5))
    plot = P.plotly_figure(fig)
    assert {t["xaxis"] for t in plot["data"]} == {"x", "x2"} and plot["layout"]["xaxis2"]["type"] == "log"
    # codecs within half a decade of each other share a panel
    (one,) = P.rd_figures([("run", RGB)], metrics=("psnr",))
    assert len(one.panels) == 1


def test_incomplete_points_use_the_flag_column_or_the_image_counts():
    flagged = RGB.assign(images_incomplete=[False, True, False, False, False, False])
    (fig,) = P.rd_figures([("run", flagged)], metrics=("psnr",))
    jpeg = next(s for s in fig.series if s.label == "jpeg")
    assert jpeg.incomplete.tolist() == [False, True, False] and fig.has_incomplete
    assert "fewer images" in fig.caption()
    counted = RGB.assign(images=[4, 4, 4, 4, 3, 4])
    (fig,) = P.rd_figures([("run", counted)], metrics=("psnr",))
    assert next(s for s in fig.series if s.label == "jpeg2000").incomplete.tolist() == [False, True, False]
    (plain,) = P.rd_figures([("run", RGB)], metrics=("psnr",))
    assert not plain.has_incomplete
    marker = P.plotly_figure(fig)["data"][1]["marker"]
    assert marker["size"] == [8, 13, 8] and marker["line"]["color"][1] == "black"


def test_same_codec_same_colour_in_every_run_figure_and_overlay(tmp_path):
    """Rendered SVGs: jpeg2000 is drawn in its colour whichever codecs share the figure."""
    from hsbench.export import ReferenceCurve

    alone = RGB[RGB["codec"] == "jpeg2000"]
    with_more = pd.concat([RGB, _rd("kodak", 3, {"zzz-plugin": [(0.1, 20.0), (0.5, 30.0)]})])
    ref = ReferenceCurve("jpeg2000", "", pd.DataFrame({"bpppc": [0.1, 0.4], "psnr": [29.0, 34.0]}), bands=3)
    colours = []
    for i, (tables, overlays) in enumerate([([("a", alone)], []), ([("b", with_more)], []),
                                             ([("a", alone), ("b", with_more)], [ref])]):
        files = P.plot_rd(tables, tmp_path / str(i), metrics=("psnr",), formats=("svg",), overlays=overlays)
        svg = files[0].read_text()
        colours.append(svg.count("#d62728"))
    assert all(c > 0 for c in colours)
    (fig,) = P.rd_figures([("a", alone), ("b", with_more)], metrics=("psnr",), overlays=[ref])
    styles = {s.label: (s.style, s.dash, s.overlay) for s in fig.series}
    assert styles["a: jpeg2000"][0] == styles["b: jpeg2000"][0] == styles["jpeg2000 (reference)"][0]
    assert styles["a: jpeg2000"][1] != styles["b: jpeg2000"][1]  # runs differ by line style
    assert styles["jpeg2000 (reference)"][2]
    # the reference curve is converted to bpp as well
    ref_series = next(s for s in fig.series if s.overlay)
    np.testing.assert_allclose(ref_series.x, [0.3, 1.2])
    # a curve of unknown band count cannot be put in bpp: left out, and the caption says so
    unknown = ReferenceCurve("other", "", ref.points)
    (fig,) = P.rd_figures([("a", alone)], metrics=("psnr",), overlays=[unknown])
    assert not any(s.overlay for s in fig.series) and fig.left_out == ["other (reference)"]
    assert "Not drawn" in fig.caption() and "other (reference)" in fig.caption()


def test_plotly_hover_names_codec_parameters_and_images():
    (fig,) = P.rd_figures([("run", RGB)], metrics=("psnr",))
    data = json.loads(P.plotly_json(fig))
    trace = next(t for t in data["data"] if t["name"] == "jpeg")
    assert trace["marker"]["color"] == P.codec_style("jpeg").color and trace["marker"]["symbol"] == "circle"
    assert trace["text"][1] == "jpeg<br>jpeg(q=1)<br>rate 0.9 bpp<br>PSNR (dB): 32<br>images: 4"
    assert data["layout"]["xaxis"]["title"]["text"] == "rate (bits per pixel, bpp)"
    assert data["layout"]["xaxis"]["ticktext"] == ["0.2", "0.5", "1", "2"]


def test_rate_ticks():
    assert P.rate_ticks(0.08, 1.2) == [0.1, 0.2, 0.5, 1.0]
    assert P.rate_ticks(0.001, 10.0) == [0.001, 0.01, 0.1, 1.0, 10.0]
    assert P.rate_ticks(*P._panel_range(6.3, 6.3)) == [5.0]  # one point still gets a labelled tick


def test_reuse_keeps_figures_drawn_from_the_same_content_and_redraws_changed_or_missing_ones(tmp_path):
    rd = RGB
    files = P.plot_rd([("r", rd)], tmp_path, metrics=("psnr", "sam_deg"), formats=("svg",), reuse=True)
    psnr, sam = (next(f for f in files if f.name.startswith(f"rd_{m}_")) for m in ("psnr", "sam_deg"))
    stamped = {f: f.stat().st_mtime_ns for f in files}
    assert (tmp_path / P.STAMP_FILE).is_file()
    again = P.plot_rd([("r", rd)], tmp_path, metrics=("psnr", "sam_deg"), formats=("svg",), reuse=True)
    assert again == files and {f: f.stat().st_mtime_ns for f in again} == stamped  # nothing redrawn
    sam.unlink()
    changed = rd.assign(psnr=rd["psnr"] + 1.0)
    P.plot_rd([("r", changed)], tmp_path, metrics=("psnr", "sam_deg"), formats=("svg",), reuse=True)
    assert sam.is_file() and psnr.stat().st_mtime_ns != stamped[psnr]  # missing and changed: redrawn
    # without reuse every figure is drawn
    before = psnr.stat().st_mtime_ns
    P.plot_rd([("r", changed)], tmp_path, metrics=("psnr",), formats=("svg",))
    assert psnr.stat().st_mtime_ns != before
