"""From rows to tables: rate-distortion points, timing tables, failures.

Everything here is derived from the rows a run persisted (``docs/design.md``
principle 2). Aggregation convention: a rate-distortion point of a codec at one
parameter set is the **mean over images** of each per-image value (bpppc, PSNR,
SSIM ...), the usual convention of the Kodak tables (``docs/conventions.md``
section 1), taken over the images every point of the dataset finished, so that
every point, curve and BD-rate of a dataset compares the same images
(:func:`rd_table`).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from hsbench.store import ROWS_FILE, ResultStore

#: Quality columns averaged over images into a rate-distortion point.
QUALITY_COLUMNS = (
    "psnr", "psnr_band_mean", "psnr_dr", "psnr_norm", "snr", "ssim", "ms_ssim", "ms_ssim_db", "sam_deg",
    "mse", "mae",
)
#: Rate columns averaged over images; ``estimated_bpppc`` is a learned codec's own likelihood estimate,
#: beside the real rate so that the gap shows (absent, or empty, for the other codecs).
RATE_COLUMNS = ("bpppc", "estimated_bpppc", "bpp", "cr", "bytes")
#: Columns of the timing table (medians over jobs).
TIMING_COLUMNS = ("encode_s", "decode_s", "encode_mbps", "decode_mbps")
#: Columns a codec's ``row_columns`` may carry that the timing table shows (learned codecs:
#: parameter counts and device), first value per (dataset, codec).
MODEL_COLUMNS = ("device", "parameters", "params_encoder", "params_decoder", "n_params",
                 "encoder_params", "decoder_params")


#: Memory columns: the worker process's resident peak over the job (VmHWM: interpreter, libraries,
#: torch and the data included) and the codec's own numpy / Python allocation peak of one encode +
#: decode (tracemalloc, measured in a warm-up run).
MEMORY_COLUMNS = ("worker_peak_rss_mb", "codec_traced_peak_mb")
#: Columns renamed since rows were first written: old name -> new name (old rows still load).
RENAMED_COLUMNS = {"peak_rss_mb": "worker_peak_rss_mb", "traced_peak_mb": "codec_traced_peak_mb"}


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
    for old, new in RENAMED_COLUMNS.items():  # rows written by an older hsbench
        if old in df:
            df[new] = df[new].fillna(df[old]) if new in df else df[old]
            df = df.drop(columns=[old])
    for col in (*QUALITY_COLUMNS, *RATE_COLUMNS, *TIMING_COLUMNS, "max_abs_error", "target_rel_error",
                "target_value", *MEMORY_COLUMNS, "repeat"):
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


#: Parameters that name a model file; tables show the file's stem (:func:`model_name`), not its path.
MODEL_PARAMS = ("checkpoint", "model", "weights")
MODEL_SUFFIXES = (".pt", ".pth", ".ckpt", ".safetensors", ".onnx")


def model_name(params: str) -> str:
    """The short name of the model a parameter set uses: the stem of its ``checkpoint`` (or ``model``,
    ``weights``) file, e.g. ``sscnet-3f2a9c1d0b7e4a21`` for a quick model in the cache; ``""`` without one."""
    try:
        p = json.loads(params)
    except (TypeError, json.JSONDecodeError):
        return ""
    for key in MODEL_PARAMS:
        value = p.get(key) if isinstance(p, dict) else None
        if isinstance(value, str) and value:
            path = Path(value)
            return path.stem if path.suffix.lower() in MODEL_SUFFIXES else path.name
    return ""


def _point_keys(ok: pd.DataFrame) -> list[str]:
    return ["dataset", "codec", "params", *(["target"] if "target" in ok else [])]


def image_sets(df: pd.DataFrame) -> dict[str, dict[str, frozenset[str]]]:
    """Per dataset: ``{"common": images every rate-distortion point finished, "any": images some point finished}``."""
    ok = ok_rows(df)
    out: dict[str, dict[str, frozenset[str]]] = {}
    if ok.empty:
        return out
    ok = ok.assign(image=ok["image"].astype(str), **({"target": ok["target"].fillna("").astype(str)}
                                                      if "target" in ok else {}))
    for key, images in ok.groupby(_point_keys(ok), sort=True)["image"].agg(frozenset).items():
        sets = out.setdefault(str(key[0]), {"common": images, "any": frozenset()})
        sets["common"] = sets["common"] & images
        sets["any"] = sets["any"] | images
    return out


def rd_table(df: pd.DataFrame) -> pd.DataFrame:
    """Rate-distortion points: one row per (dataset, codec, parameter set), means over the **common images**.

    The common images of a dataset are those every point of every codec finished
    (:func:`image_sets`), so that all points, curves and BD-rates of a dataset are
    averaged over the same images. A metric that is undefined (NaN) on one of them
    is undefined for the point. Columns: ``images`` counts the images behind the
    point (the common ones), ``images_finished`` the images this point finished, and
    ``images_incomplete`` is True when the point lacks images that other points of
    its dataset have (it failed or has not run there): such a point, and the images
    dropped because of it, are flagged in ``rd.md`` (:func:`image_set_notes`) and are
    for plots and reports to mark. ``max_abs_error`` is the maximum over the images
    (the bound a user cares about); ``model`` the short name of the model file
    (:func:`model_name`). Jobs of a target-rate sweep (``--ratios`` / ``--bpppc``) form
    one point per target (column ``target``), with ``targets_reached`` counting the
    images whose search met its tolerance.
    """
    ok = ok_rows(df)
    if ok.empty:
        return pd.DataFrame(columns=["dataset", "codec", "params", "label", "images", "images_finished",
                                     "images_incomplete"])
    ok = ok.assign(image=ok["image"].astype(str))
    if "target" in ok:
        ok = ok.assign(target=ok["target"].fillna("").astype(str))
    if "target_reached" in ok:
        ok = ok.assign(target_reached=ok["target_reached"].map(lambda v: v is True or v == "True"))
    keys = _point_keys(ok)
    sets = image_sets(ok)
    groups = ok.groupby(keys, sort=True)
    finished = groups["image"].nunique()
    used = ok[[img in sets[str(d)]["common"] for d, img in zip(ok["dataset"], ok["image"])]]
    ugroups = used.groupby(keys, sort=True)
    mean_cols = [c for c in (*RATE_COLUMNS, *QUALITY_COLUMNS) if c in ok]
    table = ugroups[mean_cols].mean().reindex(finished.index)
    # a value missing on one of the common images makes the mean undefined, never a mean over fewer images
    counts = ugroups[mean_cols].count().reindex(finished.index).fillna(0)
    sizes = ugroups.size().reindex(finished.index).fillna(0)
    table = table.where(counts.eq(sizes, axis=0))
    if "max_abs_error" in ok:
        table["max_abs_error"] = ugroups["max_abs_error"].max().reindex(finished.index)
    if "target_reached" in ok:
        table["targets_reached"] = ugroups["target_reached"].sum().reindex(finished.index).fillna(0).astype(int)
    table["images"] = sizes.astype(int)
    table["images_finished"] = finished.astype(int)
    table["images_incomplete"] = [int(n) < len(sets[str(key[0])]["any"]) for key, n in finished.items()]
    table = table.reset_index()
    labels = [_point_label(c, p) for c, p in zip(table["codec"], table["params"])]
    if "target" in table:
        labels = [f"{lab}@{t}" if t else lab for lab, t in zip(labels, table["target"])]
    table.insert(3, "label", labels)
    models = [model_name(p) for p in table["params"]]
    if any(models):
        table.insert(4, "model", models)
    return table.sort_values(["dataset", "codec", "bpppc"]).reset_index(drop=True)


def image_set_notes(df: pd.DataFrame) -> list[str]:
    """Sentences for ``rd.md``: per dataset whose points are over fewer images than the run finished,
    how many are used and which points lack which images."""
    ok = ok_rows(df)
    notes: list[str] = []
    for dataset, sets in sorted(image_sets(ok).items()):
        common, seen = sets["common"], sets["any"]
        if common == seen:
            continue
        sub = ok[ok["dataset"].astype(str) == dataset]
        lacking = []
        keys = _point_keys(sub)
        for key, images in sub.groupby(keys, sort=True)["image"].agg(lambda s: frozenset(map(str, s))).items():
            missing = sorted(seen - images)
            if missing:
                label = _point_label(str(key[1]), str(key[2])) + (f"@{key[3]}" if len(key) > 3 and key[3] else "")
                shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
                lacking.append(f"{label} lacks {shown}")
        notes.append(f"{dataset}: every point is averaged over the {len(common)} image(s) that all points finished, "
                     f"of {len(seen)} finished by some point ({'; '.join(lacking)}); points with images_incomplete "
                     "= True are the ones lacking images (see failures.csv)")
    return notes


def _warm(value: Any) -> bool:
    """Whether a row's ``warmup`` column says its times are of a warm run (old rows: True / False)."""
    return value in ("job", "process", True, "True", "true")


def timing_table(df: pd.DataFrame) -> pd.DataFrame:
    """Per (dataset, codec): median encode / decode seconds and MB/s over jobs, peak memory, job count.

    Each job's times are the median of its ``--repeat`` runs, timed warm (after an
    untimed warm-up, :mod:`hsbench.timing`); ``cold_jobs`` (shown when non-zero)
    counts jobs timed without one (``--warmup none``, or rows of an older hsbench
    with ``--repeat 1``), whose times include compilation and model loading. MB/s
    counts raw data at the nominal bit depth. ``worker_peak_rss_mb`` is the largest
    resident set of the worker process over a job (interpreter, libraries, torch and
    the data included), ``codec_traced_peak_mb`` the largest numpy + Python allocation
    peak of one encode + decode by the codec (measured in ``--warmup each`` warm-ups). Learned codecs
    add their parameter counts and device where their rows carry them.
    """
    ok = ok_rows(df)
    if ok.empty:
        return pd.DataFrame(columns=["dataset", "codec", "jobs"])
    if "warmup" in ok:
        ok = ok.assign(cold_jobs=[0 if _warm(v) else 1 for v in ok["warmup"]])
    agg: dict[str, Any] = {c: "median" for c in TIMING_COLUMNS if c in ok}
    for col in (*MEMORY_COLUMNS, "repeat"):
        if col in ok and ok[col].notna().any():
            agg[col] = "max"
    for col in MODEL_COLUMNS:
        if col in ok and ok[col].notna().any():
            agg[col] = "first"
    if "cold_jobs" in ok and ok["cold_jobs"].any():
        agg["cold_jobs"] = "sum"
    agg["image"] = "count"
    table = ok.groupby(["dataset", "codec"], sort=True).agg(agg).rename(columns={"image": "jobs"})
    return table.reset_index()


def timing_note(table: pd.DataFrame) -> str:
    """The paragraph ``timing.md`` opens with: what the times measure."""
    text = ("Encode / decode times are medians over jobs of warm runs: each worker process first codes every "
            "codec configuration once, untimed, on a corner of the image (imports, numba compilation, model "
            "loading and library set-up excluded; --warmup each warms up on the whole image before every job, "
            "--warmup none times cold). MB/s: raw data at the nominal bit depth. worker_peak_rss_mb: the "
            "worker process's resident peak over a job (interpreter, libraries, torch and the data included); "
            "codec_traced_peak_mb: the codec's numpy / Python allocation peak of one encode + decode (measured "
            "in the whole-image warm-ups of --warmup each, the default with --repeat > 1).")
    if "cold_jobs" in table and table["cold_jobs"].fillna(0).sum() > 0:
        text += (f" {int(table['cold_jobs'].fillna(0).sum())} job(s) were timed cold (cold_jobs): their times "
                 "include those one-time costs.")
    return text + "\n\n"


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
    rd = rd_table(df)
    rd.to_csv(out / "rd.csv", index=False)
    notes = image_set_notes(df)
    shown = rd.drop(columns=["params"])  # the label (and model) say it; rd.csv keeps the full parameters
    (out / "rd.md").write_text("".join(f"> **Note:** {n}\n\n" for n in notes) + to_markdown(shown),
                               encoding="utf-8")
    written["rd"] = out / "rd.csv"
    timing = timing_table(df)
    timing.to_csv(out / "timing.csv", index=False)
    (out / "timing.md").write_text(timing_note(timing) + to_markdown(timing), encoding="utf-8")
    written["timing"] = out / "timing.csv"
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


def overlay_labels(runs: list[tuple[str, pd.DataFrame]]) -> tuple[list[str], list[str]]:
    """Legend labels for overlaid runs (``(label, rows)``), and notes, saying where their image sets differ.

    Curves of runs over different images are not comparable point by point: where a
    dataset's common images (:func:`image_sets`) differ between the runs, each run's
    label gets its image count and ``"other images"``, and a note names the dataset.
    """
    sets = [image_sets(df) for _, df in runs]
    labels = [label for label, _ in runs]
    notes = []
    for dataset in sorted({d for s in sets for d in s}):
        present = [(i, s[dataset]["common"]) for i, s in enumerate(sets) if dataset in s]
        if len({images for _, images in present}) <= 1:
            continue
        for i, images in present:
            if "other images" not in labels[i]:
                labels[i] = f"{labels[i]} ({len(images)} images; other images than the other runs)"
        counts = ", ".join(f"{runs[i][0]}: {len(images)}" for i, images in present)
        notes.append(f"{dataset}: the runs' curves are over different images ({counts} images); "
                     "their points are not averages over the same images, the legend says so")
    return labels, notes

