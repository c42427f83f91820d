"""``hsbench report RUN_DIR``: one Markdown and one HTML report of a run.

The report is derived from the run's rows (``DESIGN.md`` principle 2) and holds:
the rate-distortion plots (with published baselines and reference curves
overlaid, their rate convention in the legend), the BD-rate / BD-quality table
of every codec against an anchor (:mod:`hsbench.bdrate`), how close target-rate
sweeps came to their targets, the rate-distortion and timing tables, the failed
jobs and the manifest. ``report.html`` is self-contained (figures embedded);
``report.md`` links the figures in ``plots/`` beside it. The CompressAI JSON
export of every codec is written to ``compressai/`` as well.
"""

from __future__ import annotations

import base64
import html
import json
import math
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from hsbench.analysis import failures, load_rows, rd_table, timing_table, to_markdown
from hsbench.bdrate import BD_METRICS, bd_table

#: Preferred anchors, in order, when none is given.
DEFAULT_ANCHORS = ("jpeg2000", "jpeg")
#: Columns of the rd table shown in the report (when present).
RD_SHOWN = ("dataset", "label", "images", "bpppc", "cr", "psnr", "ms_ssim_db", "sam_deg", "max_abs_error",
            "targets_reached")


def choose_anchor(rd: pd.DataFrame, anchor: str | None) -> tuple[str | None, str]:
    """The anchor codec and a sentence saying how it was chosen."""
    codecs = sorted({str(c) for c in rd["codec"].unique()}) if not rd.empty else []
    if anchor:
        if anchor not in codecs:
            from hsbench.errors import HsbenchError

            raise HsbenchError(f"--anchor {anchor}: that codec has no successful rows in this run "
                               f"(codecs: {', '.join(codecs) or 'none'})")
        return anchor, f"anchor `{anchor}` (chosen with --anchor)"
    for name in DEFAULT_ANCHORS:
        if name in codecs:
            return name, f"anchor `{name}` (default; choose another with --anchor)"
    if codecs:
        return codecs[0], f"anchor `{codecs[0]}` (first codec; choose another with --anchor)"
    return None, "no anchor: no successful rows"


def _fmt_bd(table: pd.DataFrame) -> pd.DataFrame:
    if table.empty:
        return table
    out = table.copy()
    out["bd_rate_pct"] = [("" if math.isnan(v) else f"{v:+.2f} %") for v in out["bd_rate_pct"]]
    out["bd_quality"] = [("" if math.isnan(v) else f"{v:+.3f} {u}") for v, u in zip(out["bd_quality"], out["unit"])]
    return out.drop(columns=["unit"]).rename(columns={"bd_rate_pct": "BD-rate", "bd_quality": "BD-quality"})


def _target_table(rd: pd.DataFrame) -> pd.DataFrame:
    if rd.empty or "target" not in rd or not (rd["target"] != "").any():
        return pd.DataFrame()
    t = rd[rd["target"] != ""]
    cols = [c for c in ("dataset", "codec", "target", "cr", "bpppc", "images", "targets_reached") if c in t]
    return t[cols].sort_values(["dataset", "codec", "bpppc"]).reset_index(drop=True)


class _Doc:
    """A report built as Markdown and HTML side by side."""

    def __init__(self, title: str) -> None:
        self.md: list[str] = [f"# {title}\n"]
        self.html: list[str] = [f"<h1>{html.escape(title)}</h1>"]

    def heading(self, text: str) -> None:
        self.md.append(f"\n## {text}\n")
        self.html.append(f"<h2>{html.escape(text)}</h2>")

    def para(self, text: str) -> None:
        self.md.append(text + "\n")
        self.html.append(f"<p>{html.escape(text)}</p>")

    def table(self, table: pd.DataFrame, empty: str = "(none)") -> None:
        if table.empty:
            self.para(empty)
            return
        self.md.append(to_markdown(table))
        self.html.append(table.to_html(index=False, na_rep="", float_format=lambda v: format(v, ".4g"),
                                       border=0, classes="tbl"))

    def figure(self, png: Path, rel: str, caption: str) -> None:
        self.md.append(f"![{caption}]({rel})\n")
        data = base64.b64encode(png.read_bytes()).decode("ascii")
        self.html.append(f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(caption)}">'
                         f"<figcaption>{html.escape(caption)}</figcaption></figure>")

    def code(self, text: str) -> None:
        self.md.append("```\n" + text + "\n```\n")
        self.html.append(f"<pre>{html.escape(text)}</pre>")

    def render_html(self, title: str) -> str:
        style = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
                 "table.tbl{border-collapse:collapse;font-size:0.85em;margin:0.5em 0}"
                 ".tbl td,.tbl th{border:1px solid #ccc;padding:2px 6px;text-align:right}"
                 "img{max-width:100%}pre{background:#f4f4f4;padding:0.5em;overflow-x:auto;font-size:0.8em}")
        return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
                f"<style>{style}</style></head><body>\n" + "\n".join(self.html) + "\n</body></html>\n")


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
    are added. ``references``: CompressAI JSON files to overlay.
    """
    from hsbench.baselines import list_baselines, load_baseline
    from hsbench.export import export_run, load_compressai
    from hsbench.plotting import plot_rd

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
    refs = [load_compressai(r) for r in references]

    title = f"hsbench report: {run_dir.resolve().name}"
    doc = _Doc(title)
    n_ok = int((df.get("status") == "ok").sum()) if not df.empty else 0
    doc.para(f"Run folder `{run_dir}`: {len(df)} jobs, {n_ok} ok, {len(df) - n_ok} failed. "
             "Rates are real bitstream lengths (framing included); each point is the mean over images.")

    # -- plots -----------------------------------------------------------------------
    doc.heading("Rate-distortion curves")
    metrics = [m for m in ("psnr", "ms_ssim_db", "sam_deg", "ssim", "ms_ssim") if m in rd]
    files = plot_rd([(run_dir.name, rd)], out / "plots", metrics=metrics, overlays=[*chosen, *refs])
    if chosen or refs:
        names = [f"`{b.name}`" + (" (applies to this dataset)" if b.name in auto else "") for b in chosen]
        names += [f"`{r.name}` (CompressAI JSON)" for r in refs]
        doc.para("Overlaid (dashed): " + ", ".join(names) + ". Published points carry their rate convention in "
                 "the legend: a nominal rate counts the latent as float32 and is not a bitstream size.")
    for png in sorted(p for p in files if p.suffix == ".png"):
        doc.figure(png, f"plots/{png.name}", png.stem.replace("rd_", "").replace("_", " "))
    if not files:
        doc.para("(no finite rate-distortion points to plot)")

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
    doc.table(_fmt_bd(bd), "(no other codec to compare with the anchor)")

    targets = _target_table(rd)
    if not targets.empty:
        doc.heading("Target rates")
        doc.para("Points of --ratios / --bpppc sweeps: the mean achieved CR and bpppc per target, and on how many "
                 "images the knob search met its tolerance (tolerance, iteration cap and notes are in the rows).")
        doc.table(targets)

    doc.heading("Rate-distortion points")
    doc.table(rd[[c for c in RD_SHOWN if c in rd]] if not rd.empty else rd)

    doc.heading("Timing")
    doc.para("Median over jobs of each job's median of --repeat encode / decode runs (warm-up excluded when "
             "--repeat > 1); MB/s of raw data at the nominal bit depth; peak_rss_mb: largest worker resident set; "
             "traced_peak_mb: numpy / Python allocation peak of one encode + decode.")
    doc.table(timing_table(df))

    doc.heading("Failures")
    doc.table(failures(df), "No job failed.")

    doc.heading("Published baselines")
    doc.para("Shipped with hsbench (hsbench/baselines); overlay any with --baseline NAME.")
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
    html_path.write_text(doc.render_html(title), encoding="utf-8")
    return {"markdown": md_path, "html": html_path, "plots": files, "bd": bd, "compressai": exported,
            "anchor": anchor_name, "baselines": [b.name for b in chosen]}
