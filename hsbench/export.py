"""Rate-distortion curves as JSON in the CompressAI results layout, both ways.

CompressAI (``compressai/utils/eval_model``, ``results/<dataset>/*.json`` and
``compressai.utils.plot``) stores one file per codec::

    {"name": "bmshj2018-factorized", "description": "...",
     "results": {"bpp": [...], "psnr-rgb": [...], "ms-ssim-rgb": [...], ...}}

with parallel lists, one entry per rate point, ``bpp`` in bits per pixel over all
channels (``bpppc * bands``, ``docs/conventions.md`` section 1). :func:`export_run` writes
such a file per (dataset, codec) of an hsbench run, with hsbench's extra columns
(``bpppc``, ``cr``, ``ms-ssim-db``, ``sam-deg`` ...) beside CompressAI's keys, and
:func:`load_compressai` reads any such file as a reference curve to overlay.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from hsbench.errors import HsbenchError

#: hsbench rd-table column -> key in the CompressAI ``results`` dict.
EXPORT_KEYS: dict[str, str] = {
    "bpp": "bpp",
    "bpppc": "bpppc",
    "cr": "cr",
    "psnr": "psnr",
    "psnr_band_mean": "psnr-band-mean",
    "psnr_dr": "psnr-dr",
    "ssim": "ssim",
    "ms_ssim": "ms-ssim",
    "ms_ssim_db": "ms-ssim-db",
    "sam_deg": "sam-deg",
}
#: CompressAI keys of RGB results -> hsbench columns (what CompressAI's own files carry).
RGB_KEYS = {"psnr-rgb": "psnr", "ms-ssim-rgb": "ms_ssim"}


def _finite(values: pd.Series) -> list[float | None]:
    return [float(v) if v is not None and math.isfinite(float(v)) else None for v in values]


def to_compressai(points: pd.DataFrame, name: str, description: str = "", bands: int | None = None) -> dict[str, Any]:
    """One codec's rate-distortion points (rows of an rd table) as a CompressAI results dict.

    Points are sorted by rate. Non-finite values (PSNR of a lossless point) become
    ``null``. For 3-band data the RGB keys ``psnr-rgb`` / ``ms-ssim-rgb`` are added so
    CompressAI's plotting script reads the file as is.
    """
    pts = points.sort_values("bpppc")
    results: dict[str, list[float | None]] = {}
    for col, key in EXPORT_KEYS.items():
        if col in pts and pd.to_numeric(pts[col], errors="coerce").notna().any():
            results[key] = _finite(pd.to_numeric(pts[col], errors="coerce"))
    if bands == 3:
        for key, col in RGB_KEYS.items():
            if col in pts:
                results[key] = _finite(pd.to_numeric(pts[col], errors="coerce"))
    if "bpp" not in results and bands:
        results["bpp"] = [float(v) * bands for v in pts["bpppc"]]
    out: dict[str, Any] = {"name": name, "description": description, "results": results}
    if bands:
        out["bands"] = int(bands)
    return out


def export_run(run_dir: str | Path, out: str | Path | None = None) -> list[Path]:
    """Write ``<out>/<dataset>/<codec>.json`` (default ``out``: ``RUN_DIR/compressai``) for every codec of a run."""
    from hsbench.analysis import file_slug, load_rows, ok_rows, rd_table

    run_dir = Path(run_dir)
    out = Path(out) if out else run_dir / "compressai"
    df = load_rows(run_dir)
    rd = rd_table(df)
    ok = ok_rows(df)
    written: list[Path] = []
    for (dataset, codec), points in rd.groupby(["dataset", "codec"], sort=True):
        sub = ok[(ok["dataset"] == dataset) & (ok["codec"] == codec)]
        bands = sorted({int(b) for b in sub["bands"].dropna()}) if "bands" in sub else []
        labels = sorted(set(points["label"]))
        desc = (f"hsbench run {run_dir.name}: {codec} on {dataset}, {int(points['images'].max())} image(s); "
                f"points: {', '.join(labels)}; rate from real bitstreams, means over images")
        data = to_compressai(points, str(codec), desc, bands[0] if len(bands) == 1 else None)
        path = out / file_slug(str(dataset)) / f"{file_slug(str(codec))}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        written.append(path)
    return written


@dataclass
class ReferenceCurve:
    """A curve read from a CompressAI-style JSON file: name, description, points (hsbench column
    names) and the band count of its data when the file says or implies it (RGB keys: 3)."""

    name: str
    description: str
    points: pd.DataFrame
    bands: int | None = None

    def curves(self, metric: str) -> list[tuple[str, pd.DataFrame]]:
        """``[(legend label, bpppc (and bpp when known) + metric points)]`` (empty when the file has no such metric)."""
        if metric not in self.points or self.points[metric].isna().all():
            return []
        cols = ["bpppc", *(["bpp"] if "bpp" in self.points else []), metric]
        pts = self.points[cols].dropna(subset=["bpppc", metric]).sort_values("bpppc")
        return [(f"{self.name} (reference)", pts)]


def load_compressai(path: str | Path, bands: int | None = None) -> ReferenceCurve:
    """Read a CompressAI results JSON as a reference curve.

    The rate comes from ``bpppc`` when the file has it, else from ``bpp / bands``:
    ``bands`` is the argument, else the file's ``bands`` field, else 3 when the file
    uses CompressAI's RGB keys (``psnr-rgb``), else an error. ``ms-ssim-db`` is
    derived as ``-10 log10(1 - ms-ssim)`` (``docs/conventions.md`` section 1) when absent.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise HsbenchError(f"cannot read reference curve {path}: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("results"), dict):
        raise HsbenchError(f"{path} is not in the CompressAI results layout "
                           '({"name", "description", "results": {"bpp": [...], ...}})')
    results = data["results"]
    lengths = {k: len(v) for k, v in results.items() if isinstance(v, list)}
    if len(set(lengths.values())) > 1:
        raise HsbenchError(f"{path}: the result lists have different lengths {lengths}")
    back = {v: k for k, v in EXPORT_KEYS.items()}
    cols: dict[str, list[Any]] = {}
    for key, values in results.items():
        col = back.get(key) or RGB_KEYS.get(key)
        if col and isinstance(values, list) and col not in cols:
            cols[col] = [math.nan if v is None else float(v) for v in values]
    for key, col in RGB_KEYS.items():  # explicit RGB keys win over generic ones of the same column
        if isinstance(results.get(key), list):
            cols[col] = [math.nan if v is None else float(v) for v in results[key]]
    b = bands or data.get("bands") or (3 if any(k in results for k in RGB_KEYS) else None)
    if "bpppc" not in cols:
        if "bpp" not in cols or not b:
            raise HsbenchError(f"{path}: no 'bpppc' list, and 'bpp' cannot be converted without the band count "
                               "(pass bands=, or add \"bands\" to the file)")
        cols["bpppc"] = [v / float(b) for v in cols["bpp"]]
    points = pd.DataFrame(cols)
    if "ms_ssim_db" not in points and "ms_ssim" in points:
        points["ms_ssim_db"] = [-10 * math.log10(1 - v) if v < 1 else math.nan for v in points["ms_ssim"]]
    name = str(data.get("name") or path.stem)
    return ReferenceCurve(name, str(data.get("description", "")), points, int(b) if b else None)


def is_compressai(data: Any) -> bool:
    """Whether parsed JSON ``data`` has the CompressAI results layout (a ``results`` dict of lists)."""
    return (isinstance(data, dict) and isinstance(data.get("results"), dict)
            and any(isinstance(v, list) for v in data["results"].values()))


def load_references(path: str | Path, bands: int | None = None) -> list[ReferenceCurve]:
    """The reference curves of ``path``: one CompressAI JSON file, or every one in a folder.

    A folder (e.g. ``results/kodak`` of the committed reference runs) is searched recursively and
    every ``*.json`` in the CompressAI layout is read in path order; other JSON files there (a run's
    ``manifest.json``) are left out. A folder holding none is an error.
    """
    path = Path(path)
    if not path.exists():
        raise HsbenchError(f"reference {path}: no such file or folder (give a CompressAI-style JSON file, or a "
                           "folder of them such as results/kodak)")
    if not path.is_dir():
        return [load_compressai(path, bands)]
    curves = []
    for f in sorted(path.rglob("*.json")):
        try:
            data = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue
        if is_compressai(data):
            curves.append(load_compressai(f, bands))
    if not curves:
        raise HsbenchError(f"reference folder {path} holds no CompressAI-style JSON file "
                           '({"name", "results": {"bpp": [...], ...}}); write some with `hsbench export RUN_DIR`, '
                           "or point --reference at a results/<dataset> folder")
    return curves
