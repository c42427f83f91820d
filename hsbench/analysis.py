"""From rows to tables: rate-distortion points, timing tables, failures.

Everything here is derived from the rows a run persisted (``DESIGN.md``
principle 2). Aggregation convention: a rate-distortion point of a codec at one
parameter set is the **mean over images** of each per-image value (bpppc, PSNR,
SSIM ...), the usual convention of the Kodak tables (``SPEC.md`` section 1).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from hsbench.runner import ROWS_FILE, ResultStore

#: Quality columns averaged over images into a rate-distortion point.
QUALITY_COLUMNS = (
    "psnr", "psnr_band_mean", "psnr_dr", "psnr_norm", "snr", "ssim", "ms_ssim", "ms_ssim_db", "sam_deg",
    "mse", "mae",
)
#: Rate columns averaged over images.
RATE_COLUMNS = ("bpppc", "bpp", "cr", "bytes")
#: Columns of the timing table (medians over jobs).
TIMING_COLUMNS = ("encode_s", "decode_s", "encode_mbps", "decode_mbps")
#: Columns a codec's ``row_columns`` may carry that the timing table shows (learned codecs:
#: parameter counts and device), first value per (dataset, codec).
MODEL_COLUMNS = ("device", "parameters", "params_encoder", "params_decoder", "n_params",
                 "encoder_params", "decoder_params")


def file_slug(text: str) -> str:
    """``text`` as a file-name part: runs of other characters than ``A-Za-z0-9_.+-`` become ``_``."""
    return re.sub(r"[^A-Za-z0-9_.+-]+", "_", text).strip("_") or "data"


def load_rows(run_dir: str | Path) -> pd.DataFrame:
    """The latest row of every job in a run folder, as a DataFrame (empty if none)."""
    run_dir = Path(run_dir)
    if not (run_dir / ROWS_FILE).exists():
        from hsbench.errors import HsbenchError

        raise HsbenchError(f"{run_dir} is not an hsbench run folder (no {ROWS_FILE}); give the --out of a run")
    rows = list(ResultStore(run_dir).rows().values())
    df = pd.DataFrame(rows)
    for col in (*QUALITY_COLUMNS, *RATE_COLUMNS, *TIMING_COLUMNS, "max_abs_error", "target_rel_error",
                "target_value", "traced_peak_mb", "peak_rss_mb", "repeat"):
        if col in df:
            df[col] = pd.to_numeric(df[col], errors="coerce")
    return df


def ok_rows(df: pd.DataFrame) -> pd.DataFrame:
    """Rows of jobs that succeeded."""
    if df.empty or "status" not in df:
        return df.iloc[0:0]
    return df[df["status"] == "ok"]


def _point_label(codec: str, params: str) -> str:
    try:
        p = json.loads(params)
    except (TypeError, json.JSONDecodeError):
        return codec
    shown = {k: v for k, v in p.items() if k not in ("checkpoint", "device") and v is not None}
    return codec + ("(" + ",".join(f"{k}={v}" for k, v in sorted(shown.items())) + ")" if shown else "")


def rd_table(df: pd.DataFrame) -> pd.DataFrame:
    """Rate-distortion points: one row per (dataset, codec, parameter set), means over images.

    ``max_abs_error`` is the maximum over images (the bound a user cares about);
    ``images`` counts the images behind the point. Jobs of a target-rate sweep
    (``--ratios`` / ``--bpppc``) form one point per target (column ``target``),
    with ``targets_reached`` counting the images whose search met its tolerance.
    """
    ok = ok_rows(df)
    if ok.empty:
        return pd.DataFrame(columns=["dataset", "codec", "params", "label", "images"])
    keys = ["dataset", "codec", "params"]
    if "target" in ok:
        ok = ok.assign(target=ok["target"].fillna("").astype(str))
        keys.append("target")
    mean_cols = [c for c in (*RATE_COLUMNS, *QUALITY_COLUMNS) if c in ok]
    agg: dict[str, Any] = {c: "mean" for c in mean_cols}
    if "max_abs_error" in ok:
        agg["max_abs_error"] = "max"
    if "target_reached" in ok:
        ok = ok.assign(target_reached=ok["target_reached"].map(lambda v: v is True or v == "True"))
        agg["target_reached"] = "sum"
    agg["image"] = "count"
    table = ok.groupby(keys, sort=True).agg(agg).rename(
        columns={"image": "images", "target_reached": "targets_reached"}).reset_index()
    labels = [_point_label(c, p) for c, p in zip(table["codec"], table["params"])]
    if "target" in table:
        labels = [f"{lab}@{t}" if t else lab for lab, t in zip(labels, table["target"])]
    table.insert(3, "label", labels)
    return table.sort_values(["dataset", "codec", "bpppc"]).reset_index(drop=True)


def timing_table(df: pd.DataFrame) -> pd.DataFrame:
    """Per (dataset, codec): median encode / decode seconds and MB/s over jobs, peak memory, job count.

    Each job's times are themselves the median of its ``--repeat`` runs (warm-up
    excluded, :mod:`hsbench.timing`); MB/s counts raw data at the nominal bit depth.
    ``peak_rss_mb`` is the largest resident set of a worker process,
    ``traced_peak_mb`` the largest traced (numpy + Python) allocation peak of one
    encode + decode (measured in the warm-up when ``--repeat`` > 1). Learned codecs
    add their parameter counts and device where their rows carry them.
    """
    ok = ok_rows(df)
    if ok.empty:
        return pd.DataFrame(columns=["dataset", "codec", "jobs"])
    agg: dict[str, Any] = {c: "median" for c in TIMING_COLUMNS if c in ok}
    for col in ("peak_rss_mb", "traced_peak_mb", "repeat"):
        if col in ok and ok[col].notna().any():
            agg[col] = "max"
    for col in MODEL_COLUMNS:
        if col in ok and ok[col].notna().any():
            agg[col] = "first"
    agg["image"] = "count"
    table = ok.groupby(["dataset", "codec"], sort=True).agg(agg).rename(columns={"image": "jobs"})
    return table.reset_index()


def failures(df: pd.DataFrame) -> pd.DataFrame:
    """Rows of failed jobs: codec, params, image and error."""
    if df.empty or "status" not in df:
        return pd.DataFrame(columns=["codec", "params", "image", "error"])
    bad = df[df["status"] != "ok"]
    cols = [c for c in ("dataset", "codec", "params", "image", "error") if c in bad]
    return bad[cols].reset_index(drop=True)


def to_markdown(table: pd.DataFrame, floatfmt: str = ".4g") -> str:
    """A GitHub-flavoured Markdown table (no extra dependency)."""
    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return "" if math.isnan(v) else format(v, floatfmt)
        return str(v).replace("|", "\\|")

    header = "| " + " | ".join(map(str, table.columns)) + " |"
    rule = "|" + "|".join("---" for _ in table.columns) + "|"
    lines = ["| " + " | ".join(fmt(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join([header, rule, *lines]) + "\n"


def write_tables(df: pd.DataFrame, out: str | Path) -> dict[str, Path]:
    """Write rows.csv, rd.csv / rd.md, timing.csv / timing.md and failures.csv into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    ordered = df.sort_values([c for c in ("dataset", "codec", "params", "image") if c in df]) if not df.empty else df
    ordered.to_csv(out / "rows.csv", index=False)
    written["rows"] = out / "rows.csv"
    for name, table in (("rd", rd_table(df)), ("timing", timing_table(df))):
        table.to_csv(out / f"{name}.csv", index=False)
        (out / f"{name}.md").write_text(to_markdown(table), encoding="utf-8")
        written[name] = out / f"{name}.csv"
    fails = failures(df)
    if not fails.empty:
        fails.to_csv(out / "failures.csv", index=False)
        written["failures"] = out / "failures.csv"
    elif (out / "failures.csv").exists():
        (out / "failures.csv").unlink()
    return written


def curves(table: pd.DataFrame, metric: str) -> Iterable[tuple[str, str, pd.DataFrame]]:
    """(dataset, codec, points sorted by bpppc) with finite values of ``metric``."""
    if table.empty or metric not in table:
        return []
    out = []
    for (dataset, codec), group in table.groupby(["dataset", "codec"], sort=True):
        pts = group[["bpppc", metric]].apply(pd.to_numeric, errors="coerce")
        pts = pts[pts.map(lambda v: isinstance(v, float) and math.isfinite(v)).all(axis=1)]
        if not pts.empty:
            out.append((str(dataset), str(codec), pts.sort_values("bpppc")))
    return out
