"""Everything a run folder holds besides its rows: tables, plots and the manifest."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from hsbench.analysis import load_rows, ok_rows, rd_table, write_tables
from hsbench.manifest import build_manifest, write_manifest
from hsbench.plotting import plot_rd


def write_run_outputs(
    run_dir: str | Path,
    command: Sequence[str],
    datasets: Sequence[dict[str, Any]],
    options: dict[str, Any],
    started: float,
    plots: bool = True,
) -> dict[str, Any]:
    """Derive rows.csv, rd / timing tables, rate-distortion plots and manifest.json from the rows."""
    run_dir = Path(run_dir)
    df = load_rows(run_dir)
    written: dict[str, Any] = dict(write_tables(df, run_dir))
    if plots:
        written["plots"] = plot_rd([(run_dir.name, rd_table(df))], run_dir / "plots")
    hashes: dict[str, dict[str, str]] = {}
    ok = ok_rows(df)
    if not ok.empty and "image_sha256" in ok:
        for dataset, image, sha in ok[["dataset", "image", "image_sha256"]].drop_duplicates().itertuples(index=False):
            hashes.setdefault(str(dataset), {})[str(image)] = str(sha)
    manifest = build_manifest(command, datasets, hashes, options, started)
    written["manifest"] = write_manifest(run_dir / "manifest.json", manifest)
    return written
