"""Rate-distortion figures: static (matplotlib PNG / SVG) and interactive (plotly).

One figure per dataset and metric: the metric against the rate from the real
bitstream length, one line per codec, one marker per rate point (the mean over
images of one parameter setting, :func:`hsbench.analysis.rd_table`). Conventions:

- **Rate unit.** 3-band (RGB) data is plotted in bits per pixel (``bpp``, over all
  channels: what CompressAI users expect); everything else in bits per pixel per
  channel (``bpppc``). Overlaid curves are converted to the same unit.
- **Styles.** Every codec has one colour and one marker, the same in every figure,
  run and overlay (:func:`codec_style`: a fixed table for the built-in codecs, a
  hash of the name for others). Several runs overlaid differ by line style;
  reference curves and published baselines are dashed with open markers.
- **Lossless points** (infinite PSNR) cannot sit on a finite axis: they are drawn
  on a dotted row labelled "lossless" above the finite points, at their rate.
- **Far-apart rates.** When the codecs' rate ranges are more than
  :data:`PANEL_GAP_DECADES` decades apart (learned codecs at 0.002 bpppc next to
  classical ones at 0.1 to 8), each group gets its own panel with its own rate range
  and a shared quality axis, so no group squashes the others.
- **Incomplete points.** A point computed over fewer images than the others of its
  dataset (the ``images_incomplete`` column when the rows carry it, else fewer
  ``images`` than the dataset's largest count) is ringed in black.

:func:`rd_figures` computes what a figure shows (:class:`RDFigure`) once; the
matplotlib (:func:`draw_figure`) and plotly (:func:`plotly_figure`) renderers draw
the same content.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import math
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from hsbench.analysis import file_slug

#: metric column -> axis title (words and unit, never a column name), in figure order
RD_METRICS: dict[str, str] = {
    "psnr": "PSNR (dB)",
    "psnr_norm": "normalised PSNR (dB)",
    "ms_ssim_db": "MS-SSIM (dB)",
    "sam_deg": "spectral angle (deg)",
    "ssim": "SSIM",
    "ms_ssim": "MS-SSIM",
}
#: other metric columns a figure may be asked for -> axis title
EXTRA_METRICS: dict[str, str] = {
    "psnr_band_mean": "PSNR, mean over bands (dB)",
    "psnr_dr": "PSNR with each band's dynamic range as peak (dB)",
    "snr": "SNR (dB)",
    "mse": "mean squared error",
    "mae": "mean absolute error",
}
#: metric column -> what a sentence calls it
METRIC_WORDS: dict[str, str] = {
    "psnr": "PSNR", "psnr_norm": "normalised PSNR", "ms_ssim_db": "MS-SSIM in dB", "ssim": "SSIM", "ms_ssim": "MS-SSIM",
    "sam_deg": "spectral angle", "psnr_band_mean": "band-mean PSNR", "psnr_dr": "dynamic-range PSNR",
    "snr": "SNR", "mse": "MSE", "mae": "MAE",
}
#: Rate axis titles by unit.
RATE_TITLES = {
    "bpp": "rate (bits per pixel, bpp)",
    "bpppc": "rate (bits per pixel per channel, bpppc)",
}
#: Rate ranges further apart than this many decades go into separate panels.
PANEL_GAP_DECADES = 0.5
#: File in a plots folder naming what each figure there was drawn from (``plot_rd(reuse=True)``).
STAMP_FILE = ".rd_figures.json"
#: Resolution of the PNG figures (dots per inch).
DPI = 120
#: Extra ``savefig`` options by format: PNGs are deflated at zlib level 1 (the same pixels as
#: the default level 6, in about a third of the time, for slightly larger files).
SAVE_OPTIONS: dict[str, dict[str, Any]] = {"png": {"pil_kwargs": {"compress_level": 1}}}


@dataclass(frozen=True)
class Style:
    """Colour (hex) and matplotlib marker of a codec."""

    color: str
    marker: str


#: Fixed styles of the built-in codecs (hsbench.codecs.registry.BUILTIN).
CODEC_STYLES: dict[str, Style] = {
    # classical image coders
    "jpeg": Style("#1f77b4", "o"),
    "jpeg12": Style("#6baed6", "o"),
    "jpeg2000": Style("#d62728", "s"),
    "klt-jpeg2000": Style("#8b0000", "s"),
    "htj2k": Style("#f4a582", "s"),
    "jpegls": Style("#00441b", "h"),
    "jpegxl": Style("#41ab5d", "p"),
    # CCSDS coders
    "ccsds122": Style("#2ca02c", "^"),
    "ccsds123": Style("#ff7f0e", "D"),
    "ccsds121": Style("#fdae6b", "D"),
    # error-bounded scientific coders and lossless floors
    "zfp": Style("#4a1486", "<"),
    "sz3": Style("#9e9ac8", ">"),
    "lerc": Style("#c51b7d", "*"),
    "zstd": Style("#525252", "x"),
    "blosc2": Style("#969696", "+"),
    # learned codecs
    "sscnet": Style("#9467bd", "v"),
    "sscnet-linear": Style("#8c564b", "P"),
    "vgg16-baseline": Style("#e377c2", "X"),
    "factorized": Style("#08519c", "d"),
    "hyperprior": Style("#000000", "*"),
    "s2cnet": Style("#b8860b", "H"),
    "cae1d": Style("#2b8cbe", "1"),
    "hycot": Style("#de2d26", "2"),
    "cnn-lstm-ae": Style("#807dba", "3"),
    "two-path-ae": Style("#01665e", "4"),
}
#: Colours and markers for other names (none of the fixed colours).
FALLBACK_COLORS = ("#17becf", "#bcbd22", "#7f7f7f", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173",
                   "#3182bd", "#31a354", "#e6550d", "#756bb1", "#636363", "#ad494a", "#a55194", "#6b6ecf")
FALLBACK_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "h", "*", "p")
#: matplotlib marker -> plotly symbol
PLOTLY_SYMBOLS = {"o": "circle", "s": "square", "^": "triangle-up", "D": "diamond", "v": "triangle-down",
                  "P": "cross", "X": "x", "<": "triangle-left", ">": "triangle-right", "h": "hexagon",
                  "*": "star", "p": "pentagon", "x": "x-thin-open", "+": "cross-thin-open", "d": "diamond-tall",
                  "H": "hexagon2", "1": "y-down-open", "2": "y-up-open", "3": "y-left-open", "4": "y-right-open"}
#: Line styles of the 1st, 2nd ... run of an overlay: matplotlib, plotly.
RUN_DASHES = (("-", "solid"), ((0, (5, 2)), "dash"), ((0, (1, 1.5)), "dot"), ((0, (5, 2, 1, 2)), "dashdot"))


def codec_style(name: str) -> Style:
    """The colour and marker of ``name``: fixed for built-in codecs, else from a CRC-32 of the name.

    The fallback is deterministic (the same in every process and run; Python's
    ``hash`` is not) and never takes a built-in codec's colour.
    """
    if name in CODEC_STYLES:
        return CODEC_STYLES[name]
    h = zlib.crc32(name.encode("utf-8"))
    return Style(FALLBACK_COLORS[h % len(FALLBACK_COLORS)],
                 FALLBACK_MARKERS[(h // len(FALLBACK_COLORS)) % len(FALLBACK_MARKERS)])


def metric_title(metric: str) -> str:
    """Axis title of a metric column, in words."""
    return RD_METRICS.get(metric) or EXTRA_METRICS.get(metric) or metric.replace("_", " ")


@dataclass
class Series:
    """One curve of a figure, its rates already in the figure's unit."""

    label: str
    style: Style
    dash: int
    overlay: bool
    x: np.ndarray
    y: np.ndarray
    hover: list[str]
    incomplete: np.ndarray
    lossless_x: np.ndarray = field(default_factory=lambda: np.empty(0))
    lossless_hover: list[str] = field(default_factory=list)
    panel: int = 0

    @property
    def rates(self) -> np.ndarray:
        """Every rate the series draws (finite points and lossless ones)."""
        return np.concatenate([self.x, self.lossless_x])


@dataclass
class RDFigure:
    """What one rate-distortion figure shows."""

    dataset: str
    metric: str
    unit: str
    series: list[Series]
    panels: list[tuple[float, float]]
    left_out: list[str] = field(default_factory=list)

    @property
    def title(self) -> str:
        """Figure title in words, e.g. ``"kodak: PSNR against rate"``."""
        return f"{self.dataset}: {METRIC_WORDS.get(self.metric, metric_title(self.metric))} against rate"

    @property
    def stem(self) -> str:
        """File name stem, ``rd_<metric>_<dataset>``."""
        return f"rd_{self.metric}_{file_slug(self.dataset)}"

    @property
    def lossless_y(self) -> float:
        """Height of the lossless row: 8 % of the finite values' span above the highest."""
        finite = np.concatenate([s.y for s in self.series if s.y.size] or [np.zeros(1)])
        span = float(finite.max() - finite.min()) or max(abs(float(finite.max())), 1.0)
        return float(finite.max()) + 0.08 * span

    @property
    def has_lossless(self) -> bool:
        return any(s.lossless_x.size for s in self.series)

    @property
    def has_incomplete(self) -> bool:
        return any(s.incomplete.any() for s in self.series)

    def caption(self) -> str:
        """A sentence describing the figure (rate unit, lossless and incomplete points, panels)."""
        unit = ("bits per pixel over the three channels (bpp)" if self.unit == "bpp"
                else "bits per pixel per channel (bpppc)")
        what = metric_title(self.metric)
        parts = [f"{self.title}. {what[0].upper() + what[1:]} against the rate in {unit}, from the real "
                 "bitstream length; each marker is the mean over images of one parameter setting."]
        if any(s.overlay for s in self.series):
            parts.append("Dashed lines with open markers are reference curves or published baselines.")
        if self.has_lossless:
            parts.append("Markers on the dotted top row are lossless points (infinite value), at their rate.")
        if self.has_incomplete:
            parts.append("Black rings mark points computed over fewer images than the others.")
        if self.left_out:
            parts.append("Not drawn, their rates being per channel of other data and not convertible to bpp: "
                         + ", ".join(self.left_out) + ".")
        if len(self.panels) > 1:
            parts.append(f"The rates are more than {PANEL_GAP_DECADES:g} decade apart, so each group has its "
                         "own panel and rate range; the quality axis is shared.")
        return " ".join(parts)


def _bands(table: pd.DataFrame) -> int | None:
    """The band count behind a table's points (``bpp / bpppc``) when it is one value."""
    if table.empty or "bpp" not in table or "bpppc" not in table:
        return None
    ratio = (pd.to_numeric(table["bpp"], errors="coerce") / pd.to_numeric(table["bpppc"], errors="coerce")).dropna()
    if ratio.empty:
        return None
    values = {int(round(v)) for v in ratio}
    return values.pop() if len(values) == 1 else None


def rate_unit(tables: Sequence[pd.DataFrame]) -> tuple[str, int]:
    """``("bpp", 3)`` when every point of every table is 3-band data, else ``("bpppc", 1)``.

    The second value multiplies bpppc into the unit.
    """
    bands = {_bands(t) for t in tables if not t.empty}
    return ("bpp", 3) if bands == {3} else ("bpppc", 1)


def _incomplete(sub: pd.DataFrame) -> np.ndarray:
    if "images_incomplete" in sub:
        return sub["images_incomplete"].map(lambda v: v is True or str(v).lower() in ("true", "1")).to_numpy(bool)
    if "images" in sub:
        images = pd.to_numeric(sub["images"], errors="coerce")
        return (images < images.max()).to_numpy(bool)
    return np.zeros(len(sub), bool)


def _hover(codec: str, label: str, unit: str, x: float, metric: str, y: float, images: Any) -> str:
    value = "infinite (lossless)" if math.isinf(y) else f"{y:.4g}"
    return (f"{codec}<br>{label}<br>rate {x:.4g} {unit}<br>{metric_title(metric)}: {value}"
            f"<br>images: {images}")


def _codec_series(label: str, codec: str, dash: int, sub: pd.DataFrame, metric: str, unit: str,
                  factor: int) -> Series | None:
    pts = sub.assign(_x=pd.to_numeric(sub["bpppc"], errors="coerce") * factor,
                     _y=pd.to_numeric(sub[metric], errors="coerce"), _inc=_incomplete(sub))
    pts = pts[np.isfinite(pts["_x"]) & (pts["_x"] > 0)].sort_values("_x")
    finite = pts[np.isfinite(pts["_y"])]
    lossless = pts[np.isposinf(pts["_y"])]
    if finite.empty and lossless.empty:
        return None
    labels = pts.get("label", pd.Series(codec, index=pts.index)).astype(str)
    images = pts.get("images", pd.Series("?", index=pts.index))

    def hover(frame: pd.DataFrame) -> list[str]:
        return [_hover(codec, labels[i], unit, frame.at[i, "_x"], metric, frame.at[i, "_y"], images[i])
                for i in frame.index]

    return Series(label, codec_style(codec), dash, False, finite["_x"].to_numpy(float),
                  finite["_y"].to_numpy(float), hover(finite), finite["_inc"].to_numpy(bool),
                  lossless["_x"].to_numpy(float), hover(lossless))


def _overlay_series(overlay: Any, metric: str, unit: str, factor: int, runs: int,
                    left_out: list[str]) -> list[Series]:
    """Series of an overlay's curves in the figure's unit. A bpp figure takes the curve's ``bpp``
    points, else its bpppc times 3 when the overlay is 3-band (``overlay.bands == 3``); curves
    of other data (per-channel rates of hyperspectral baselines) cannot be drawn in bpp and
    are listed in ``left_out`` instead."""
    out = []
    for label, pts in overlay.curves(metric):
        if unit == "bpp" and "bpp" in pts and pts["bpp"].notna().all():
            x = pd.to_numeric(pts["bpp"], errors="coerce").to_numpy(float)
        elif unit == "bpp" and getattr(overlay, "bands", None) != 3:
            left_out.append(label)
            continue
        else:
            x = pd.to_numeric(pts["bpppc"], errors="coerce").to_numpy(float) * factor
        y = pd.to_numeric(pts[metric], errors="coerce").to_numpy(float)
        keep = np.isfinite(x) & (x > 0) & np.isfinite(y)
        x, y = x[keep], y[keep]
        if not x.size:
            continue
        key = label.split(" (")[0]
        hover = [f"{label}<br>rate {a:.4g} {unit}<br>{metric_title(metric)}: {b:.4g}" for a, b in zip(x, y)]
        out.append(Series(label, codec_style(key), runs, True, x, y, hover, np.zeros(x.size, bool)))
    return out


def _assign_panels(series: list[Series]) -> list[tuple[float, float]]:
    """Group series whose log-rate ranges lie within PANEL_GAP_DECADES of each other; set ``panel``."""
    spans = sorted(((float(np.log10(s.rates.min())), float(np.log10(s.rates.max())), i)
                    for i, s in enumerate(series)))
    groups: list[list[float]] = []
    for lo, hi, i in spans:
        if groups and lo - groups[-1][1] <= PANEL_GAP_DECADES:
            groups[-1][1] = max(groups[-1][1], hi)
        else:
            groups.append([lo, hi])
        series[i].panel = len(groups) - 1
    return [(10**lo, 10**hi) for lo, hi in groups]


def rd_figures(
    tables: Sequence[tuple[str, pd.DataFrame]],
    metrics: Sequence[str] = tuple(RD_METRICS),
    overlays: Sequence[Any] = (),
) -> list[RDFigure]:
    """The rate-distortion figures of ``(run label, rd table)`` pairs, PSNR first.

    Figures are ordered by metric (the order of ``metrics``), then dataset. With
    one run the legend shows codecs; with several ``label: codec``, one line style
    per run. Codecs of quick-trained learned models are labelled so.
    ``overlays`` are reference curves drawn dashed on every figure of a metric they
    have: objects with ``curves(metric) -> [(legend label, points with bpppc and
    metric)]``, e.g. published baselines (:mod:`hsbench.baselines`, whose labels
    carry the rate convention) or CompressAI JSON files (:mod:`hsbench.export`).
    A figure with no finite or lossless point of the run is not made.
    """
    datasets = sorted({str(d) for _, t in tables if not t.empty for d in t["dataset"].unique()})
    figures = []
    for metric in metrics:
        for dataset in datasets:
            subs = [(label, t[t["dataset"] == dataset] if not t.empty else t) for label, t in tables]
            unit, factor = rate_unit([s for _, s in subs])
            series: list[Series] = []
            for run, (label, sub) in enumerate(subs):
                if sub.empty or metric not in sub or "bpppc" not in sub:
                    continue
                for codec, group in sub.groupby("codec", sort=True):
                    name = str(codec) if len(tables) == 1 else f"{label}: {codec}"
                    if "params" in group and group["params"].astype(str).str.contains('"quick_trained": true').any():
                        name += " (quick-trained)"
                    s = _codec_series(name, str(codec), run, group, metric, unit, factor)
                    if s is not None:
                        series.append(s)
            if not series:
                continue
            left_out: list[str] = []
            for overlay in overlays:
                series.extend(_overlay_series(overlay, metric, unit, factor, len(tables), left_out))
            panels = _assign_panels(series)
            figures.append(RDFigure(dataset, metric, unit, series, panels, left_out))
    return figures


# -- matplotlib ------------------------------------------------------------------------------


def _panel_range(lo: float, hi: float) -> tuple[float, float]:
    """The drawn rate range of a panel holding rates ``lo .. hi``: a margin of 8 % of its decades,
    at least 0.15 decade on each side."""
    pad = 10 ** max(0.08 * math.log10(hi / lo), 0.15)
    return lo / pad, hi * pad


def rate_ticks(lo: float, hi: float) -> list[float]:
    """Rate tick values within ``[lo, hi]``: 1, 2, 5 per decade, only powers of ten over wide ranges."""
    subs = (1.0, 2.0, 5.0) if math.log10(hi / lo) <= 2.2 else (1.0,)
    ticks = [m * 10.0**e for e in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1) for m in subs]
    inside = [float(f"{t:.6g}") for t in ticks if lo <= t <= hi]
    return inside or [float(f"{math.sqrt(lo * hi):.2g}")]  # a narrow range: one tick in its middle


def draw_figure(fig_spec: RDFigure, out: Path, formats: Sequence[str] = ("png", "svg")) -> list[Path]:
    """Draw one figure with matplotlib into ``out/<stem>.<fmt>``; returns the files."""
    # A bare Figure on an Agg canvas, not pyplot: no global backend switch, no figure registry to
    # close; savefig renders each format with its own backend (Agg for PNG, SVG for SVG).
    import matplotlib as mpl
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    n = len(fig_spec.panels)
    widths = [max(1.0, math.log10(hi / lo) + 0.6) for lo, hi in fig_spec.panels]
    fig = Figure(figsize=(5.2 + 2.6 * (n - 1), 4.4), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, n, sharey=True, squeeze=False, gridspec_kw={"width_ratios": widths})
    axes = axes[0]
    handles: dict[str, Any] = {}
    for s in fig_spec.series:
        ax = axes[s.panel]
        ls = "--" if s.overlay else RUN_DASHES[s.dash % len(RUN_DASHES)][0]
        face = "none" if s.overlay else s.style.color
        if s.x.size:
            (line,) = ax.plot(s.x, s.y, color=s.style.color, marker=s.style.marker, markersize=5,
                              markerfacecolor=face, linestyle=ls, linewidth=1.0 if s.overlay else 1.5, label=s.label)
            handles.setdefault(s.label, line)
            if s.incomplete.any():
                ax.plot(s.x[s.incomplete], s.y[s.incomplete], linestyle="none", marker="o", markersize=11,
                        markerfacecolor="none", markeredgecolor="black", markeredgewidth=1.2)
        if s.lossless_x.size:
            (mark,) = ax.plot(s.lossless_x, np.full(s.lossless_x.size, fig_spec.lossless_y), linestyle="none",
                              marker=s.style.marker, markersize=8, color=s.style.color, markeredgecolor="black",
                              markeredgewidth=0.8)
            handles.setdefault(s.label, mark)
    if fig_spec.has_lossless:
        for ax in axes:
            ax.axhline(fig_spec.lossless_y, color="0.5", linestyle=":", linewidth=0.9)
        axes[0].annotate("lossless", (0, fig_spec.lossless_y), xycoords=("axes fraction", "data"),
                         xytext=(3, 3), textcoords="offset points", fontsize="small", color="0.35")
    for ax, (lo, hi) in zip(axes, fig_spec.panels):
        ax.set_xscale("log")
        left, right = _panel_range(lo, hi)
        ax.set_xlim(left, right)
        ax.xaxis.set_major_locator(FixedLocator(rate_ticks(left, right)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.grid(True, which="major", alpha=0.35)
        ax.grid(True, which="minor", alpha=0.12)
    axes[0].set_ylabel(metric_title(fig_spec.metric))
    if not any(s.x.size for s in fig_spec.series):  # only lossless points: no finite scale to show
        axes[0].set_yticks([fig_spec.lossless_y], ["inf"])
    fig.supxlabel(RATE_TITLES[fig_spec.unit], fontsize="medium")
    fig.suptitle(fig_spec.title)
    if fig_spec.has_incomplete:
        handles["over fewer images"] = Line2D([], [], linestyle="none", marker="o", markersize=10,
                                              markerfacecolor="none", markeredgecolor="black")
    fig.legend(list(handles.values()), list(handles), loc="outside right center", fontsize="small", frameon=False)
    # The constrained layout is solved once, here, and the engine then removed: with an engine,
    # every savefig lays out and draws the whole figure once without rendering before it
    # renders, so two formats cost three draws and two layouts more than this. The positions
    # are figure fractions, the same in every format.
    fig.get_layout_engine().execute(fig)
    with mpl.rc_context({"figure.autolayout": False, "figure.constrained_layout.use": False}):
        fig.set_layout_engine(None)  # None, not "none": a placeholder engine still costs the extra draw
    written = []
    for fmt in formats:
        path = out / f"{fig_spec.stem}.{fmt}"
        fig.savefig(path, dpi=DPI, **SAVE_OPTIONS.get(fmt, {}))
        written.append(path)
    return written


def figure_key(fig_spec: RDFigure, formats: Sequence[str]) -> str:
    """A digest of everything a figure's files depend on: its content (the full plotly description:
    points, labels, styles, panels), the formats and resolution, this module's code and matplotlib's
    version. Equal keys draw identical files."""
    ident = json.dumps({"figure": plotly_figure(fig_spec), "formats": list(formats), "dpi": DPI,
                        **_renderer_identity()}, sort_keys=True, allow_nan=False)
    return hashlib.sha256(ident.encode()).hexdigest()


@functools.cache
def _renderer_identity() -> dict[str, str]:
    """The part of :func:`figure_key` that is the same for every figure: matplotlib's version and a digest
    of this module's code, looked up once per process (the package metadata lookup alone costs ~7 ms)."""
    try:
        mpl_version = importlib.metadata.version("matplotlib")
    except importlib.metadata.PackageNotFoundError:
        mpl_version = "missing"
    return {"matplotlib": mpl_version, "code": hashlib.sha256(Path(__file__).read_bytes()).hexdigest()}


def _read_stamps(path: Path) -> dict[str, str]:
    try:
        stamps = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in stamps.items()} if isinstance(stamps, dict) else {}


def plot_rd(
    tables: Sequence[tuple[str, pd.DataFrame]],
    out: str | Path,
    metrics: Sequence[str] = tuple(RD_METRICS),
    formats: Sequence[str] = ("png", "svg"),
    overlays: Sequence[Any] = (),
    reuse: bool = False,
) -> list[Path]:
    """Draw the rate-distortion figures (:func:`rd_figures`) of ``(run label, rd table)`` pairs
    into ``out`` as ``rd_<metric>_<dataset>.<fmt>``; returns the files written, PSNR first.

    ``reuse``: keep a figure's files when they were drawn from the same content (its
    :func:`figure_key`, recorded in ``out/.rd_figures.json``) and all still exist, instead of
    drawing them again: a run resumed with no new row redraws nothing.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    left_out: dict[str, None] = {}
    figures = rd_figures(tables, metrics, overlays)
    stamp_path = out / STAMP_FILE
    stamps = _read_stamps(stamp_path) if reuse else {}
    keys = {f.stem: figure_key(f, formats) for f in figures} if reuse else {}
    todo = {f.stem for f in figures
            if not (reuse and stamps.get(f.stem) == keys[f.stem]
                    and all((out / f"{f.stem}.{fmt}").is_file() for fmt in formats))}
    if reuse and todo:  # no stamp may name a figure that is being redrawn (an interrupted draw is redone)
        for stem in todo:
            stamps.pop(stem, None)
        stamp_path.write_text(json.dumps(stamps, indent=1, sort_keys=True))
    for fig_spec in figures:
        if fig_spec.stem in todo:
            written.extend(draw_figure(fig_spec, out, formats))
        else:
            written.extend(out / f"{fig_spec.stem}.{fmt}" for fmt in formats)
        left_out.update(dict.fromkeys(fig_spec.left_out))
    if reuse and todo:
        stamps.update({stem: keys[stem] for stem in todo})
        stamp_path.write_text(json.dumps(stamps, indent=1, sort_keys=True))
    if left_out:
        import warnings

        warnings.warn(f"not drawn on the bpp (RGB) figures, their rates being per channel of other data: "
                      f"{', '.join(left_out)}", UserWarning, stacklevel=2)
    return written


# -- plotly ------------------------------------------------------------------------------------


def plotly_figure(fig_spec: RDFigure) -> dict[str, Any]:
    """The figure as a plotly.js ``{"data": [...], "layout": {...}}`` dict (JSON-ready).

    Same colours, markers, panels and rate unit as :func:`draw_figure`; hovering a
    point shows the codec, its parameters, rate, value and image count. Lossless
    points sit on a row above the finite ones, labelled "lossless".
    """
    n = len(fig_spec.panels)
    gap = 0.04
    widths = [max(1.0, math.log10(hi / lo) + 0.6) for lo, hi in fig_spec.panels]
    total = sum(widths) + gap * (n - 1) * sum(widths)
    domains, start = [], 0.0
    for w in widths:
        end = start + w / total
        domains.append((start, min(end, 1.0)))
        start = end + gap * sum(widths) / total
    top = fig_spec.lossless_y
    data: list[dict[str, Any]] = []
    shown: set[str] = set()
    for s in fig_spec.series:
        axis = "" if s.panel == 0 else str(s.panel + 1)
        symbol = PLOTLY_SYMBOLS.get(s.style.marker, "circle") + ("-open" if s.overlay else "")
        dash = "dash" if s.overlay else RUN_DASHES[s.dash % len(RUN_DASHES)][1]
        common = {"type": "scatter", "name": s.label, "legendgroup": s.label, "xaxis": f"x{axis}", "yaxis": "y",
                  "hovertemplate": "%{text}<extra></extra>"}
        if s.x.size:
            sizes = [13 if inc else 8 for inc in s.incomplete]
            lines = ["black" if inc else s.style.color for inc in s.incomplete]
            data.append({**common, "mode": "lines+markers", "x": s.x.tolist(), "y": s.y.tolist(), "text": s.hover,
                         "line": {"color": s.style.color, "dash": dash, "width": 1.2 if s.overlay else 1.8},
                         "marker": {"symbol": symbol, "size": sizes, "color": s.style.color,
                                    "line": {"color": lines, "width": [2 if inc else 0 for inc in s.incomplete]}},
                         "showlegend": s.label not in shown})
            shown.add(s.label)
        if s.lossless_x.size:
            data.append({**common, "mode": "markers+text", "x": s.lossless_x.tolist(),
                         "y": [top] * s.lossless_x.size, "text": s.lossless_hover,
                         "texttemplate": "lossless", "textposition": "top center",
                         "marker": {"symbol": PLOTLY_SYMBOLS.get(s.style.marker, "circle"), "size": 11,
                                    "color": s.style.color, "line": {"color": "black", "width": 1}},
                         "showlegend": s.label not in shown})
            shown.add(s.label)
    layout: dict[str, Any] = {
        "title": {"text": fig_spec.title, "x": 0.02, "xanchor": "left"},
        "yaxis": {"title": {"text": metric_title(fig_spec.metric)}, "zeroline": False},
        "hovermode": "closest", "margin": {"l": 60, "r": 20, "t": 50, "b": 60}, "height": 440,
        "legend": {"font": {"size": 11}}, "template": "none",
    }
    shapes = []
    for i, ((lo, hi), dom) in enumerate(zip(fig_spec.panels, domains)):
        left, right = _panel_range(lo, hi)
        ticks = rate_ticks(left, right)
        key = "xaxis" if i == 0 else f"xaxis{i + 1}"
        layout[key] = {"type": "log", "domain": list(dom), "anchor": "y", "showgrid": True,
                       "range": [math.log10(left), math.log10(right)], "tickvals": ticks,
                       "ticktext": [f"{t:g}" for t in ticks],
                       "title": {"text": RATE_TITLES[fig_spec.unit] if i == n // 2 else ""}}
        if fig_spec.has_lossless:
            shapes.append({"type": "line", "xref": f"x{'' if i == 0 else i + 1} domain", "yref": "y", "x0": 0,
                           "x1": 1, "y0": top, "y1": top, "line": {"color": "#888", "dash": "dot", "width": 1}})
    layout["shapes"] = shapes
    return {"data": data, "layout": layout}


def plotly_js() -> str:
    """The plotly.js bundle shipped with the ``plotly`` package (embedded into reports: no CDN)."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def plotly_json(fig_spec: RDFigure) -> str:
    """:func:`plotly_figure` as JSON (non-finite numbers cannot occur: lossless points are placed)."""
    return json.dumps(plotly_figure(fig_spec), allow_nan=False)
