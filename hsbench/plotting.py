"""Rate-distortion figures (matplotlib, written as PNG and SVG).

One figure per dataset and metric: the metric against bpppc (bits per pixel per
channel, from the real bitstream length), one line per codec, one marker per
rate point. Several runs can be overlaid; their labels prefix the legend.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from hsbench.analysis import curves, file_slug

#: metric column -> axis label
RD_METRICS: dict[str, str] = {
    "psnr": "PSNR (dB, peak 2^D - 1)",
    "psnr_norm": "PSNR (dB, normalised domain: bands in [0, 1], mean over 64-px tiles)",
    "ssim": "SSIM (per band, mean)",
    "ms_ssim": "MS-SSIM (per band, mean)",
    "ms_ssim_db": "MS-SSIM (dB, -10 log10(1 - MS-SSIM))",
    "sam_deg": "SAM (degrees, lower is better)",
}


def plot_rd(
    tables: Sequence[tuple[str, pd.DataFrame]],
    out: str | Path,
    metrics: Sequence[str] = tuple(RD_METRICS),
    formats: Sequence[str] = ("png", "svg"),
    overlays: Sequence[Any] = (),
) -> list[Path]:
    """Draw rate-distortion figures for ``(run label, rd table)`` pairs into ``out``.

    With one run the legend shows codecs; with several it shows ``label: codec``.
    Points whose value is not finite (PSNR of a lossless job) are left out.
    ``overlays`` are reference curves drawn dashed on every figure of a metric they
    have: objects with ``curves(metric) -> [(legend label, points with bpppc and
    metric)]``, e.g. published baselines (:mod:`hsbench.baselines`, whose labels
    carry the rate convention) or CompressAI JSON files (:mod:`hsbench.export`).
    Returns the files written.
    """
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    datasets = sorted({str(d) for _, t in tables if not t.empty for d in t["dataset"].unique()})
    written: list[Path] = []
    for dataset in datasets:
        for metric in metrics:
            fig, ax = plt.subplots(figsize=(6.4, 4.4), constrained_layout=True)
            drawn = 0
            for label, table in tables:
                sub = table[table["dataset"] == dataset] if not table.empty else table
                for _, codec, pts in curves(sub, metric):
                    name = codec if len(tables) == 1 else f"{label}: {codec}"
                    params = sub.loc[sub["codec"] == codec, "params"].astype(str)
                    if params.str.contains('"quick_trained": true').any():
                        name += " (quick-trained)"
                    ax.plot(pts["bpppc"], pts[metric], marker="o", markersize=4, linewidth=1.4, label=name)
                    drawn += 1
            if drawn:
                for overlay in overlays:
                    for name, pts in overlay.curves(metric):
                        ax.plot(pts["bpppc"], pts[metric], linestyle="--", marker="s", markersize=4,
                                markerfacecolor="none", linewidth=1.0, label=name)
            if not drawn:
                plt.close(fig)
                continue
            ax.set_xscale("log")
            ax.set_xlabel("bits per pixel per channel (bpppc, real bitstream)")
            ax.set_ylabel(RD_METRICS.get(metric, metric))
            ax.set_title(f"{dataset}: {metric} vs rate")
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize="small")
            for fmt in formats:
                path = out / f"rd_{metric}_{file_slug(dataset)}.{fmt}"
                fig.savefig(path, dpi=120)
                written.append(path)
            plt.close(fig)
    return written
