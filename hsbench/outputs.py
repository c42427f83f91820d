"""Everything a run folder holds besides its rows: tables, plots and the manifest.

The libraries they need (pandas, matplotlib) are imported when they are written, not when
this module is: :func:`prefetch` can import them in the background while the jobs run.
"""

from __future__ import annotations

import importlib
import threading
from pathlib import Path
from typing import Any, Sequence

#: What :func:`write_run_outputs` imports: the tables (pandas) and manifest, and for the plots matplotlib.
TABLE_MODULES = ("hsbench.analysis", "hsbench.manifest", "hsbench.plotting")
PLOT_MODULES = ("matplotlib.figure", "matplotlib.backends.backend_agg", "matplotlib.backends.backend_svg")


def prefetch(plots: bool = True) -> threading.Thread:
    """Import what :func:`write_run_outputs` needs in a background thread; returns the (daemon) thread.

    About 1.5 s of imports that would otherwise run after the last job. Start it once the
    jobs' own imports are done (``execute_plan(after_first_row=...)``), so the two never
    import the same modules at once. An import that fails here is left to fail, with its
    message, where the outputs are written.
    """

    def _import() -> None:
        for name in TABLE_MODULES + (PLOT_MODULES if plots else ()):
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001 - raised again, and reported, by write_run_outputs
                return

    thread = threading.Thread(target=_import, name="hsbench-prefetch", daemon=True)
    thread.start()
    return thread


def write_run_outputs(
    run_dir: str | Path,
    command: Sequence[str],
    datasets: Sequence[dict[str, Any]],
    options: dict[str, Any],
    started: float,
    plots: bool = True,
) -> dict[str, Any]:
    """Derive rows.csv, rd / timing tables, rate-distortion plots and manifest.json from the rows."""
    from hsbench.analysis import load_rows, ok_rows, rd_table, write_tables
    from hsbench.manifest import build_manifest, write_manifest

    run_dir = Path(run_dir)
    df = load_rows(run_dir)
    written: dict[str, Any] = dict(write_tables(df, run_dir))
    if plots:
        from hsbench.plotting import plot_rd

        # a run resumed with no new row keeps the figures it drew from the same rows
        written["plots"] = plot_rd([(run_dir.name, rd_table(df))], run_dir / "plots", reuse=True)
    hashes: dict[str, dict[str, str]] = {}
    ok = ok_rows(df)
    if not ok.empty and "image_sha256" in ok:
        for dataset, image, sha in ok[["dataset", "image", "image_sha256"]].drop_duplicates().itertuples(index=False):
            hashes.setdefault(str(dataset), {})[str(image)] = str(sha)
    manifest = build_manifest(command, datasets, hashes, options, started)
    written["manifest"] = write_manifest(run_dir / "manifest.json", manifest)
    return written
