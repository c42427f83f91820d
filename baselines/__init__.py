"""Published reference results (``docs/conventions.md`` section 7) shipped with hsbench as CSV files.

Each ``*.csv`` in this package starts with ``# key: value`` lines (title, citation,
dataset, ``applies_to`` dataset names, metric definitions, ``rate_convention``:
nominal or real) followed by a table with at least ``method``, ``rate_convention``,
``bpppc`` and one metric column (``psnr``, ``ssim`` ...). A ``psnr`` column comes with a
``psnr_definition`` column saying, row by row, which PSNR the number is: the name of the
hsbench row column it matches (``psnr``, ``psnr_norm`` ...) or a name of its own when
hsbench computes no such PSNR (``psnr_band_peak_max``). :func:`load_baseline`
reads one; :meth:`Baseline.curves` averages per-band rows into one point per
method and rate, ready to overlay on hsbench's rate-distortion plots
(``hsbench plot --baseline NAME``) with the rate convention in the legend; a published
PSNR is drawn only on the figure of the hsbench column with its definition.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from importlib import resources

import pandas as pd

from hsbench.errors import HsbenchError


@dataclass
class Baseline:
    """One published results table: its metadata and rows."""

    name: str
    meta: dict[str, str]
    table: pd.DataFrame = field(repr=False)

    @property
    def applies_to(self) -> list[str]:
        """Dataset names (lower case) the numbers were measured on."""
        return [s.strip().lower() for s in self.meta.get("applies_to", "").split(",") if s.strip()]

    def applies(self, dataset: str) -> bool:
        """Whether ``dataset`` (a run's dataset name) is one this baseline was measured on."""
        d = dataset.lower()
        return any(a == d or d.startswith(a) or a in d for a in self.applies_to)

    def curves(self, metric: str) -> list[tuple[str, pd.DataFrame]]:
        """``(legend label, points)`` per method: ``bpppc`` and ``metric``, mean over bands where listed per band.

        The label names the method, the source and the rate convention, e.g.
        ``"SSCNet (sscnet_virtis, nominal rate)"``. PSNR metrics (``psnr``, ``psnr_norm`` ...) take
        the ``psnr`` values of the rows whose ``psnr_definition`` is ``metric``, so a published PSNR
        is never drawn against an hsbench PSNR of another definition.
        """
        table = self.table
        if "psnr_definition" in table and metric.startswith("psnr"):
            table = table[table["psnr_definition"] == metric].rename(columns={"psnr": metric})
        if metric not in table or table.empty:
            return []
        out = []
        for method, group in table.groupby("method", sort=False):
            conv = "/".join(sorted(set(map(str, group["rate_convention"]))))
            pts = group.groupby("bpppc", as_index=False)[metric].mean().sort_values("bpppc")
            out.append((f"{method} ({self.name}, {conv} rate)", pts[["bpppc", metric]]))
        return out


def _read(text: str, name: str) -> Baseline:
    meta: dict[str, str] = {}
    body = []
    for line in text.splitlines():
        if line.startswith("#"):
            key, sep, value = line[1:].partition(":")
            if sep:
                meta[key.strip()] = value.strip()
        elif line.strip():
            body.append(line)
    table = pd.read_csv(io.StringIO("\n".join(body)))
    missing = {"method", "rate_convention", "bpppc"} - set(table.columns)
    if "psnr" in table.columns and "psnr_definition" not in table.columns:
        missing.add("psnr_definition (which PSNR each row is: psnr, psnr_norm ... as the hsbench row columns)")
    if missing or "citation" not in meta:
        raise HsbenchError(f"baseline {name}: needs a '# citation:' line and columns method, rate_convention, "
                           f"bpppc (missing: {', '.join(sorted(missing)) or 'citation'})")
    return Baseline(name, meta, table)


def list_baselines() -> list[str]:
    """Names of the baselines that ship with hsbench."""
    return sorted(p.name[:-4] for p in resources.files(__name__).iterdir() if p.name.endswith(".csv"))


def load_baseline(name: str) -> Baseline:
    """The baseline ``name`` (a file stem of this package, or a path to a CSV in the same layout)."""
    from pathlib import Path

    if name in list_baselines():
        return _read(resources.files(__name__).joinpath(f"{name}.csv").read_text(encoding="utf-8"), name)
    path = Path(name)
    if path.suffix == ".csv" and path.is_file():
        return _read(path.read_text(encoding="utf-8"), path.stem)
    raise HsbenchError(f"unknown baseline {name!r}; shipped baselines: {', '.join(list_baselines())} "
                       "(or give the path of a CSV with '# citation:' lines and method, rate_convention, bpppc columns)")
