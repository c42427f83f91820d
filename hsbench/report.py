"""``hsbench report RUN_DIR``: one Markdown and one HTML report of a run.

The report is derived from the run's rows (``docs/design.md`` principle 2) and holds:
the rate-distortion plots (with published baselines and reference curves
overlaid, their rate convention in the legend), the BD-rate / BD-quality table
of every codec against an anchor (:mod:`hsbench.bdrate`), how close target-rate
sweeps came to their targets, the rate-distortion and timing tables, the failed
jobs and the manifest. ``report.html`` is self-contained: the static figures are
embedded as PNG, and beside each one an interactive plotly version (hover: codec,
parameters, rate, value, image count) drawn by the plotly.js bundle embedded once
in the page (no network needed to open it). ``report.md`` links the figures in
``plots/`` beside it. The CompressAI JSON export of every codec is written to
``compressai/`` as well. Prose is written in a small Markdown subset that
:func:`inline_markdown` renders for the HTML page.
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from hsbench.analysis import failures, load_rows, rd_table, timing_note, timing_table, to_markdown
from hsbench.bdrate import BD_METRICS, bd_table

#: Preferred anchors, in order, when none is given.
DEFAULT_ANCHORS = ("jpeg2000", "jpeg")
#: Columns of the rd table shown in the report (when present).
RD_SHOWN = ("dataset", "label", "images", "bpppc", "bpp", "cr", "psnr", "ms_ssim_db", "sam_deg", "max_abs_error",
            "targets_reached")


def choose_anchor(rd: pd.DataFrame, anchor: str | None) -> tuple[str | None, str]:
    """The anchor codec and a sentence saying how it was chosen."""
    codecs = sorted({str(c) for c in rd["codec"].unique()}) if not rd.empty else []
    if anchor:
        if anchor not in codecs:
            from hsbench.errors import HsbenchError

            raise HsbenchError(f"--anchor {anchor}: that codec has no successful rows in this run "
                               f"(codecs: {', '.join(codecs) or 'none'})")
        return anchor, f"anchor `{anchor}` (chosen with `--anchor`)"
    for name in DEFAULT_ANCHORS:
        if name in codecs:
            return name, f"anchor `{name}` (default; choose another with `--anchor`)"
    if codecs:
        return codecs[0], f"anchor `{codecs[0]}` (first codec; choose another with `--anchor`)"
    return None, "no anchor: no successful rows"


_MD_INLINE = re.compile(r"`([^`]+)`|\*\*([^*]+)\*\*|\[([^\]]+)\]\(([^)\s]+)\)")


def inline_markdown(text: str) -> str:
    """HTML of one paragraph of the Markdown subset the report's prose uses.

    Backtick spans become ``<code>``, double-asterisk spans ``<strong>``, ``[text](url)``
    links; everything else is HTML-escaped (so no literal backticks reach the page and
    no markup in a run's names or paths is interpreted).
    """
    out: list[str] = []
    pos = 0
    for m in _MD_INLINE.finditer(text):
        out.append(html.escape(text[pos:m.start()]))
        code, bold, link_text, url = m.groups()
        if code is not None:
            out.append(f"<code>{html.escape(code)}</code>")
        elif bold is not None:
            out.append(f"<strong>{html.escape(bold)}</strong>")
        else:
            out.append(f'<a href="{html.escape(url, quote=True)}">{html.escape(link_text)}</a>')
        pos = m.end()
    out.append(html.escape(text[pos:]))
    return "".join(out)


def _fmt_pct(v: float) -> str:
    return "" if math.isnan(v) else f"{v:+.2f} %"


def bd_summary(table: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The BD table as shown: one row per dataset and codec, BD-rate and BD-quality per metric
    side by side (``"PSNR BD-rate"``, ``"PSNR BD-quality"`` ...), and the notes as sentences
    (``"jpeg, PSNR: the curves do not overlap ..."``)."""
    if table.empty:
        return table, []
    rows: dict[tuple[str, str], dict[str, str]] = {}
    notes: list[str] = []
    metrics = list(dict.fromkeys(table["metric"]))
    for r in table.itertuples(index=False):
        row = rows.setdefault((r.dataset, r.codec), {"dataset": r.dataset, "codec": r.codec})
        row[f"{r.metric} BD-rate"] = _fmt_pct(r.bd_rate_pct)
        row[f"{r.metric} BD-quality"] = "" if math.isnan(r.bd_quality) else f"{r.bd_quality:+.3f} {r.unit}"
        if r.note:
            notes.append(f"{r.codec} on {r.dataset}, {r.metric}: {r.note}")
    cols = ["dataset", "codec", *[f"{m} {k}" for m in metrics for k in ("BD-rate", "BD-quality")]]
    out = pd.DataFrame(list(rows.values()))
    out = out[[c for c in cols if c in out]]
    if out["dataset"].nunique() == 1:
        out = out.drop(columns=["dataset"])
    return out, notes


def _target_table(rd: pd.DataFrame) -> pd.DataFrame:
    if rd.empty or "target" not in rd or not (rd["target"] != "").any():
        return pd.DataFrame()
    t = rd[rd["target"] != ""].sort_values(["dataset", "codec", "bpppc"])
    out = pd.DataFrame({"dataset": t["dataset"], "codec": t["codec"], "target": t["target"]})
    if "cr" in t:
        out["mean CR"] = t["cr"]
    out["mean bpppc"] = t["bpppc"]
    if "bpp" in t:
        out["mean bpp"] = t["bpp"]
    out["images"] = t["images"]
    if "targets_reached" in t:
        out["within tolerance"] = [f"{int(r)} of {int(n)}" for r, n in zip(t["targets_reached"], t["images"])]
    return out.reset_index(drop=True)


#: timing-table column -> header shown in the report
TIMING_HEADERS = {"encode_s": "encode (s)", "decode_s": "decode (s)", "encode_mbps": "encode (MB/s)",
                  "decode_mbps": "decode (MB/s)", "worker_peak_rss_mb": "worker peak RSS (MB)",
                  "codec_traced_peak_mb": "codec traced peak (MB)"}
#: rd-table column -> header shown in the report's table of points
RD_HEADERS = {"label": "setting", "images": "images", "bpppc": "bpppc", "bpp": "bpp", "cr": "CR",
              "psnr": "PSNR (dB)", "ms_ssim_db": "MS-SSIM (dB)", "sam_deg": "SAM (deg)",
              "max_abs_error": "max |error|", "targets_reached": "within tolerance"}


class _Doc:
    """A report built as Markdown and HTML side by side."""

    def __init__(self, title: str) -> None:
        self.md: list[str] = [f"# {title}\n"]
        self.html: list[str] = [f"<h1>{html.escape(title)}</h1>"]
        self.plotly = False

    def heading(self, text: str) -> None:
        self.md.append(f"\n## {text}\n")
        self.html.append(f"<h2>{html.escape(text)}</h2>")

    def para(self, text: str) -> None:
        self.md.append(text + "\n")
        self.html.append(f"<p>{inline_markdown(text)}</p>")

    def bullets(self, items: Sequence[str]) -> None:
        self.md.append("\n".join(f"- {i}" for i in items) + "\n")
        self.html.append("<ul class=\"notes\">" + "".join(f"<li>{inline_markdown(i)}</li>" for i in items) + "</ul>")

    def table(self, table: pd.DataFrame, empty: str = "(none)") -> None:
        if table.empty:
            self.para(empty)
            return
        self.md.append(to_markdown(table))
        numeric = [pd.api.types.is_numeric_dtype(table[c]) for c in table.columns]

        def cell(v: Any, num: bool) -> str:
            if isinstance(v, float):
                text = "" if math.isnan(v) else ("inf" if math.isinf(v) else format(v, ".4g"))
            else:
                text = str(v)
            return f'<td class="{"num" if num else "txt"}">{html.escape(text)}</td>'

        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in table.columns)
        body = "".join("<tr>" + "".join(cell(v, n) for v, n in zip(row, numeric)) + "</tr>"
                       for row in table.itertuples(index=False))
        self.html.append(f'<div class="tblwrap"><table class="tbl"><thead><tr>{head}</tr></thead>'
                         f"<tbody>{body}</tbody></table></div>")

    def figure(self, png: Path, rel: str, title: str, caption: str, plotly: str | None) -> None:
        """A static figure and, when given, its interactive plotly version (JSON) beside it."""
        self.md.append(f"![{title}]({rel})\n\n*{caption}*\n")
        data = base64.b64encode(png.read_bytes()).decode("ascii")
        parts = [f'<div class="figpair"><figure class="static"><img src="data:image/png;base64,{data}" '
                 f'alt="{html.escape(title, quote=True)}"><figcaption>static figure ({html.escape(rel)}, '
                 "SVG beside it)</figcaption></figure>"]
        if plotly is not None:
            self.plotly = True
            n = sum(1 for h in self.html if 'class="rdplot"' in h)
            # JSON inside a script element: escape "</" so a name cannot close the element
            payload = plotly.replace("</", "<\\/")
            parts.append(f'<figure class="interactive"><div class="rdplot" id="rdplot-{n}"></div>'
                         f'<script type="application/json" id="rdplot-{n}-data">{payload}</script>'
                         "<figcaption>interactive: hover a point for its codec, parameters and image "
                         "count; drag to zoom, double-click to reset</figcaption></figure>")
        parts.append(f'</div><p class="caption">{inline_markdown(caption)}</p>')
        self.html.append("".join(parts))

    def code(self, text: str) -> None:
        self.md.append("```\n" + text + "\n```\n")
        self.html.append(f"<pre>{html.escape(text)}</pre>")

    def render_html(self, title: str, plotly_js: str | None) -> str:
        style = ("body{font-family:system-ui,sans-serif;max-width:1500px;margin:1.5em auto;padding:0 1em;"
                 "color:#222;line-height:1.45}h2{border-bottom:1px solid #ddd;padding-bottom:0.2em;margin-top:1.6em}"
                 "code{background:#f2f2f2;padding:0 0.25em;border-radius:3px;font-size:0.92em}"
                 ".tblwrap{overflow-x:auto}table.tbl{border-collapse:collapse;font-size:0.85em;margin:0.5em 0}"
                 ".tbl th{background:#f0f0f0;text-align:left;position:sticky;top:0}"
                 ".tbl td,.tbl th{border:1px solid #d6d6d6;padding:3px 8px}.tbl td.num{text-align:right;"
                 "font-variant-numeric:tabular-nums}.tbl td.txt{text-align:left}"
                 ".tbl tbody tr:nth-child(even){background:#fafafa}"
                 ".figpair{display:flex;flex-wrap:wrap;gap:1em;align-items:flex-start}"
                 ".figpair figure{margin:0;flex:1 1 620px;min-width:0}.figpair img{max-width:100%;height:auto}"
                 ".rdplot{width:100%;height:440px}figcaption{font-size:0.8em;color:#666}"
                 "p.caption{font-size:0.9em;color:#333;margin-top:0.3em}ul.notes{font-size:0.85em}"
                 "pre{background:#f4f4f4;padding:0.5em;overflow-x:auto;font-size:0.8em}")
        scripts = ""
        if self.plotly and plotly_js is not None:
            scripts = (f"<script>{plotly_js}</script>\n<script>document.querySelectorAll('div.rdplot')"
                       ".forEach(function(el){var fig=JSON.parse(document.getElementById(el.id+'-data').textContent);"
                       "Plotly.newPlot(el,fig.data,fig.layout,{responsive:true,displaylogo:false});});</script>\n")
        return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
                f"<style>{style}</style></head><body>\n" + "\n".join(self.html) + "\n" + scripts + "</body></html>\n")


def write_report(
    run_dir: str | Path,
    out: str | Path | None = None,
    anchor: str | None = None,
    method: str = "pchip",
    baselines: Sequence[str] = (),
    references: Sequence[str | Path] = (),
    auto_baselines: bool = True,
) -> dict[str, Any]:
    """Write ``report.md``, ``report.html``, ``bd.csv``, ``plots/`` and ``compressai/`` into ``out``.

    ``out`` defaults to ``RUN_DIR/report``. ``anchor``: the codec BD values are
    measured against (default jpeg2000, else jpeg, else the first codec).
    ``method``: BD interpolation (``"pchip"``, ``"akima"`` or ``"cubic"``, :mod:`hsbench.bdrate`). ``baselines``:
    published baselines to overlay (names of :func:`hsbench.baselines.list_baselines`);
    with ``auto_baselines`` those whose ``applies_to`` matches a dataset of the run
    are added. ``references``: CompressAI JSON files, or folders of them, to overlay.
    """
    from hsbench.baselines import list_baselines, load_baseline
    from hsbench.export import export_run, load_references
    from hsbench.plotting import RD_METRICS, draw_figure, plotly_js, plotly_json, rd_figures

    run_dir = Path(run_dir)
    out = Path(out) if out else run_dir / "report"
    out.mkdir(parents=True, exist_ok=True)
    df = load_rows(run_dir)
    rd = rd_table(df)
    datasets = sorted({str(d) for d in rd["dataset"].unique()}) if not rd.empty else []

    chosen = [load_baseline(b) for b in baselines]
    auto = []
    if auto_baselines:
        for name in list_baselines():
            b = load_baseline(name)
            if name not in baselines and any(b.applies(d) for d in datasets):
                chosen.append(b)
                auto.append(name)
    refs = [curve for r in references for curve in load_references(r)]

    title = f"hsbench report: {run_dir.resolve().name}"
    doc = _Doc(title)
    n_ok = int((df.get("status") == "ok").sum()) if not df.empty else 0
    doc.para(f"Run folder `{run_dir}`: {len(df)} jobs, {n_ok} ok, {len(df) - n_ok} failed. "
             "Rates are real bitstream lengths (framing included); each point is the mean over images.")

    # -- plots -----------------------------------------------------------------------
    doc.heading("Rate-distortion curves")
    metrics = [m for m in RD_METRICS if m in rd]
    figures = rd_figures([(run_dir.name, rd)], metrics, overlays=[*chosen, *refs])
    (out / "plots").mkdir(parents=True, exist_ok=True)
    try:
        js = plotly_js()
    except ImportError:
        js = None
        doc.para("(the interactive figures need the `plotly` package: `pip install plotly`)")
    doc.para("Each figure is shown twice: the static PNG (an SVG is beside it in `plots/`) and an interactive "
             "version. Colours and markers are fixed per codec across every figure and run. Rates are in bits "
             "per pixel (bpp) for 3-band RGB data and in bits per pixel per channel (bpppc) otherwise.")
    if chosen or refs:
        names = [f"`{b.name}`" + (" (applies to this dataset)" if b.name in auto else "") for b in chosen]
        names += [f"`{r.name}` (CompressAI JSON)" for r in refs]
        doc.para("Overlaid (dashed): " + ", ".join(names) + ". Published points carry their rate convention in "
                 "the legend: a nominal rate counts the latent as float32 and is not a bitstream size.")
    files: list[Path] = []
    for fig in figures:
        drawn = draw_figure(fig, out / "plots")
        files.extend(drawn)
        png = next(p for p in drawn if p.suffix == ".png")
        doc.figure(png, f"plots/{png.name}", fig.title, fig.caption(), plotly_json(fig) if js else None)
    if not figures:
        doc.para("(no rate-distortion points to plot)")

    # -- BD-rate ---------------------------------------------------------------------
    doc.heading("BD-rate against the anchor")
    anchor_name, how = choose_anchor(rd, anchor)
    bd = bd_table(rd, anchor_name, [m for m in BD_METRICS if m in rd], method) if anchor_name else pd.DataFrame()
    interp = {"pchip": "piecewise cubic Hermite (PCHIP), as in the JCT-VC / JVET common test conditions",
              "akima": "Akima interpolation (Akima 1970, as in the FAU bjontegaard package)",
              "cubic": "a cubic polynomial fit (VCEG-M33)"}[method]
    doc.para(f"Bjontegaard deltas (VCEG-M33) with {interp}; {how}. BD-rate: average rate difference at equal "
             "quality (negative = fewer bits than the anchor); BD-quality: average quality difference at equal "
             "rate, test minus anchor (for SAM negative is better). Empty cells: no overlap or too few points "
             "(see note). Computed on the dataset-mean curves.")
    if not bd.empty:
        bd.to_csv(out / "bd.csv", index=False)
    shown, notes = bd_summary(bd)
    doc.table(shown, "(no other codec to compare with the anchor)")
    if notes:
        doc.para("Notes:")
        doc.bullets(notes)

    targets = _target_table(rd)
    if not targets.empty:
        doc.heading("Target rates")
        doc.para("Points of `--ratios` / `--bpppc` sweeps: the mean achieved CR and bpppc per target, and on how many "
                 "images the knob search met its tolerance (tolerance, iteration cap and notes are in the rows).")
        doc.table(targets)

    doc.heading("Rate-distortion points")
    doc.para("One row per codec and parameter setting: means over images (max |error|: the largest over "
             "images). All columns are in `rd.csv` of the run folder.")
    shown_rd = rd[[c for c in RD_SHOWN if c in rd]] if not rd.empty else rd
    if not shown_rd.empty and shown_rd["dataset"].nunique() == 1:
        shown_rd = shown_rd.drop(columns=["dataset"])
    doc.table(shown_rd.rename(columns=RD_HEADERS))

    doc.heading("Timing")
    timing = timing_table(df)
    doc.para(timing_note(timing).strip())
    doc.table(timing.rename(columns=TIMING_HEADERS))

    doc.heading("Failures")
    doc.table(failures(df), "No job failed.")

    doc.heading("Published baselines")
    doc.para("Shipped with hsbench (baselines/, installed as hsbench.baselines); overlay any with `--baseline NAME`.")
    rows = []
    for name in list_baselines():
        b = load_baseline(name)
        rows.append({"name": name, "applies to": ", ".join(b.applies_to), "rate": b.meta.get("rate_convention", ""),
                     "citation": b.meta.get("citation", "")})
    doc.table(pd.DataFrame(rows))

    doc.heading("Manifest")
    manifest_path = run_dir / "manifest.json"
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        doc.code(json.dumps(manifest, indent=1, sort_keys=True, default=str)[:20000])
    else:
        doc.para("(no manifest.json in the run folder)")

    exported = export_run(run_dir, out / "compressai")
    md_path, html_path = out / "report.md", out / "report.html"
    md_path.write_text("\n".join(doc.md), encoding="utf-8")
    html_path.write_text(doc.render_html(title, js), encoding="utf-8")
    return {"markdown": md_path, "html": html_path, "plots": files, "bd": bd, "compressai": exported,
            "anchor": anchor_name, "baselines": [b.name for b in chosen]}
