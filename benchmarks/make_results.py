"""Make the committed reference results (``results/``): run: ``python benchmarks/make_results.py``.

For each dataset it runs ``hsbench run`` with every codec of the default run (the default sweeps;
learned codecs only where a *shipped* model serves every point, so nothing is trained) and writes
``OUT/<dataset>/``:

``rd.md``, ``rd.csv``      rate-distortion points (means over images), from the run folder
``timing.md``              encode / decode times
``bd.md``, ``bd.csv``      BD-rate and BD-quality against jpeg2000 (:func:`hsbench.bdrate.bd_table`)
``compressai/*.json``      one CompressAI-style JSON per codec (:func:`hsbench.export.export_run`)
``plots/*.png``            the rate-distortion figures
``manifest.json``          the run's manifest (command, hsbench commit, machine, libraries, image hashes)
``run.md``                 the command, date, commit, machine, images, codecs, model sources, exclusions

with paths inside the repository written relative to it and the data root as ``DATA_ROOT``

and ``OUT/README.md``. Overlay a folder on a run with ``hsbench plot RUN --reference results/kodak``.

Datasets: ``kodak`` (from ``--data-root``), ``synthetic-hsi`` (embedded) and ``indian-pines-simulated``:
the 224-band simulated Indian Pines cube ``indian_pines_simulated/simu_indian.mat`` of the data root,
stored as float reflectance, scaled to 16-bit integers (as ``benchmarks/measure_ccsds123.py`` does) so
that the integer codecs apply; the scaled cube is written as a CCSDS-named ``.raw`` into the work
folder (never into the repository). The full run folders (rows with every field) stay in ``--work``;
re-running resumes them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: make `benchmarks.` importable
    sys.path.insert(0, str(REPO))

from benchmarks.measure_ccsds123 import INDIAN_PINES, indian_pines  # noqa: E402

DATASETS = ("kodak", "synthetic-hsi", "indian-pines-simulated")
#: Kodak images of the committed run: all 24 (``--max-images N`` takes N of them, evenly spaced, for a
#: quick check)
KODAK_IMAGES = 24
ANCHOR = "jpeg2000"
DEFAULT_DATA_ROOT = REPO.parent / "shared" / "datasets"
DEFAULT_WORK = REPO / "hsbench-runs" / "make-results"


@dataclass
class Selection:
    """The codecs of one dataset's run, and those left out with the reason."""

    codecs: list[str] = field(default_factory=list)
    excluded: dict[str, str] = field(default_factory=dict)


def select_codecs(dataset: Any) -> Selection:
    """The default run's codecs for ``dataset``; learned ones only when a shipped model serves each point."""
    from hsbench.codecs.learned.models import has_shipped_model, is_model_codec
    from hsbench.codecs.registry import codec_names, get_codec
    from hsbench.errors import HsbenchError
    from hsbench.planning import codec_points

    sel = Selection()
    for name in codec_names():
        cls = get_codec(name)
        try:
            cls.check_available()
        except HsbenchError as exc:
            sel.excluded[name] = f"unavailable: {exc}"
            continue
        if cls.default_run is not None:
            sel.excluded[name] = f"not in the default run: {cls.default_run}"
            continue
        if is_model_codec(cls):
            missing = [", ".join(f"{k}={v}" for k, v in point.items()) for point in codec_points(cls, {})
                       if not has_shipped_model(cls, point, dataset)]
            if missing:
                sel.excluded[name] = "no shipped model (nothing is trained here): " + "; ".join(missing)
                continue
        sel.codecs.append(name)
    return sel


def dataset_spec(name: str, data_root: Path, work: Path) -> str:
    """The ``hsbench run --dataset`` spec of ``name`` (the Indian Pines cube: scaled and written into ``work``)."""
    if name != "indian-pines-simulated":
        return name
    from hsbench.datasets.raw import write_raw

    cube = indian_pines(data_root)
    if cube is None:
        raise SystemExit(f"make_results: {data_root / INDIAN_PINES} not found; pass --data-root the folder that "
                         "holds indian_pines_simulated/ (the shared datasets), or leave this dataset out with "
                         "--datasets")
    from hsbench.datasets.raw import raw_name

    path = work / "data" / raw_name("simu_indian_u16", cube.dtype, cube.shape, "be")
    if not (path.is_file() and path.read_bytes() == cube.data.astype(">u2").tobytes()):  # a resumed run reads it
        path = write_raw(cube, work / "data", "simu_indian_u16")
    return f"file:{path}"


def run_dataset(name: str, spec: str, codecs: list[str], run_dir: Path, data_root: Path, max_images: int | None,
                workers: int) -> list[str]:
    """Run ``hsbench run`` for one dataset (resuming ``run_dir``); returns the command."""
    cmd = [sys.executable, "-m", "hsbench", "run", "--dataset", spec, "--codecs", ",".join(codecs),
           "--data-root", str(data_root), "--out", str(run_dir), "--workers", str(workers), "--quiet"]
    if max_images:
        cmd += ["--max-images", str(max_images)]
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", NUMBA_NUM_THREADS="1", MPLBACKEND="Agg")
    print(f"make_results: {name}: {' '.join(cmd[1:])}", file=sys.stderr, flush=True)
    rc = subprocess.run(cmd, env=env, check=False).returncode
    if rc not in (0, 1):  # 1: some jobs failed (listed in the tables); anything else: the run did not finish
        raise SystemExit(f"make_results: hsbench run on {name} exited with status {rc}")
    return cmd


def model_sources(run_dir: Path) -> dict[str, list[str]]:
    """``{learned codec: sorted model_source values}`` of the run's ok rows."""
    from hsbench.analysis import load_rows, ok_rows

    ok = ok_rows(load_rows(run_dir))
    if "model_source" not in ok:
        return {}
    learned = ok[ok["model_source"].notna()]
    return {str(c): sorted({str(s) for s in g["model_source"]}) for c, g in learned.groupby("codec")}


def write_folder(name: str, run_dir: Path, dest: Path) -> dict[str, Any]:
    """Copy / derive the committed files of one run into ``dest``; returns facts for run.md."""
    from hsbench.analysis import load_rows, rd_table, to_markdown
    from hsbench.bdrate import bd_table
    from hsbench.export import export_run
    from hsbench.report import BD_METRICS, bd_summary

    if dest.exists():
        shutil.rmtree(dest)
    (dest / "plots").mkdir(parents=True)
    for f in ("rd.md", "rd.csv", "timing.md", "manifest.json"):
        shutil.copy2(run_dir / f, dest / f)
    for png in sorted((run_dir / "plots").glob("*.png")):
        shutil.copy2(png, dest / "plots" / png.name)
    df = load_rows(run_dir)
    rd = rd_table(df)
    if ANCHOR in set(rd["codec"]):
        bd = bd_table(rd, ANCHOR, [m for m in BD_METRICS if m in rd])
        bd.to_csv(dest / "bd.csv", index=False)
        shown, notes = bd_summary(bd)
        text = (f"# BD-rate / BD-quality against {ANCHOR}: {name}\n\nBjontegaard deltas (PCHIP) on the dataset-mean "
                "curves; negative BD-rate = fewer bits than the anchor. Empty cells: no overlap or too few points.\n\n"
                + to_markdown(shown) + "\n")
        if notes:
            text += "\nNotes:\n\n" + "".join(f"- {n}\n" for n in notes)
        (dest / "bd.md").write_text(text, encoding="utf-8")
    exported = run_dir / "compressai-export"
    if exported.exists():
        shutil.rmtree(exported)
    files = export_run(run_dir, exported)
    (dest / "compressai").mkdir()
    for f in files:
        shutil.copy2(f, dest / "compressai" / f.name)
    status = df["status"].value_counts().to_dict() if "status" in df else {}
    return {"jobs": len(df), "status": {str(k): int(v) for k, v in status.items()},
            "images": sorted({str(i) for i in df.get("image", [])}), "json": sorted(f.name for f in files)}


def portable_paths(dest: Path, data_root: Path) -> None:
    """Rewrite this machine's absolute paths in the text files of ``dest``: the repository's as
    repository-relative paths (a shipped model reads ``hsbench/codecs/learned/shipped/...``), the data
    root's as ``DATA_ROOT``, so a committed folder names no one's home or checkout."""
    prefixes = sorted({(str(REPO.resolve()) + os.sep, ""), (str(REPO) + os.sep, ""),
                       (str(data_root.resolve()), "DATA_ROOT"), (str(data_root), "DATA_ROOT")},
                      key=lambda pair: -len(pair[0]))
    for f in sorted(dest.rglob("*")):
        if f.suffix in (".csv", ".md", ".json"):
            text = f.read_text(encoding="utf-8")
            new = text
            for old, repl in prefixes:
                new = new.replace(old, repl)
            if new != text:
                f.write_text(new, encoding="utf-8")


def write_run_md(name: str, dest: Path, cmd: list[str], sel: Selection, facts: dict[str, Any],
                 sources: dict[str, list[str]], seconds: float, argv: list[str]) -> None:
    manifest = json.loads((dest / "manifest.json").read_text(encoding="utf-8"))
    m = manifest.get("machine", {})
    lines = [f"# Reference run: {name}", "",
             f"- made by: `{' '.join(['python', 'benchmarks/make_results.py', *argv])}`",
             f"- hsbench run command: `hsbench {' '.join(cmd[3:])}`",
             f"- date: {manifest.get('finished')} (started {manifest.get('started')}); wall time {seconds:.0f} s "
             "of this invocation (0 when the run folder was already complete)",
             f"- hsbench {manifest.get('hsbench_version')}, commit {manifest.get('git_commit')}",
             f"- machine: {m.get('processor')}, {m.get('cpu_count')} CPUs, {m.get('platform')}, Python "
             f"{m.get('python')}; 1 thread per worker",
             f"- jobs: {facts['jobs']} ({', '.join(f'{v} {k}' for k, v in sorted(facts['status'].items()))})",
             f"- images ({len(facts['images'])}): {', '.join(facts['images'])}",
             f"- codecs ({len(sel.codecs)}): {', '.join(sel.codecs)}", ""]
    if sources:
        lines += ["Model source of the learned codecs (every row):", ""]
        lines += [f"- {c}: {', '.join(s)}" for c, s in sorted(sources.items())]
        lines.append("")
    if sel.excluded:
        lines += ["Left out:", ""] + [f"- {c}: {why}" for c, why in sorted(sel.excluded.items())] + [""]
    (dest / "run.md").write_text("\n".join(lines), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-root", type=Path, default=DEFAULT_DATA_ROOT,
                   help=f"folder holding kodak/ and indian_pines_simulated/ (default {DEFAULT_DATA_ROOT})")
    p.add_argument("--out", type=Path, default=REPO / "results", help="results folder (default: results/)")
    p.add_argument("--datasets", default=",".join(DATASETS), help=f"comma-separated subset of {', '.join(DATASETS)}")
    p.add_argument("--max-images", type=int,
                   help=f"at most N images per dataset (a quick check; default: Kodak {KODAK_IMAGES}, the others all)")
    p.add_argument("--workers", type=int, default=1, help="hsbench run worker processes (default 1)")
    p.add_argument("--work", type=Path, default=DEFAULT_WORK,
                   help=f"full run folders, resumed when re-run (default {DEFAULT_WORK})")
    args = p.parse_args(argv)
    names = [d.strip() for d in args.datasets.split(",") if d.strip()]
    unknown = sorted(set(names) - set(DATASETS))
    if unknown or not names:
        p.error(f"--datasets: unknown {', '.join(unknown) or '(none given)'}; choose from {', '.join(DATASETS)}")
    os.environ.setdefault("HSBENCH_CACHE_DIR", str(args.work / "cache"))
    from hsbench.datasets import open_dataset

    args.work.mkdir(parents=True, exist_ok=True)
    for name in names:
        started = time.time()
        spec = dataset_spec(name, args.data_root, args.work)
        limit = args.max_images or (KODAK_IMAGES if name == "kodak" else None)
        sel = select_codecs(open_dataset(spec, str(args.data_root)))
        run_dir = args.work / (name + (f"-max{limit}" if limit else ""))
        cmd = run_dataset(name, spec, sel.codecs, run_dir, args.data_root, limit, args.workers)
        sources = model_sources(run_dir)
        bad = {c: s for c, s in sources.items() if s != ["shipped"]}
        if bad:
            raise SystemExit(f"make_results: {name}: learned codecs ran with non-shipped models {bad}")
        dest = args.out / name
        facts = write_folder(name, run_dir, dest)
        write_run_md(name, dest, cmd, sel, facts, sources, time.time() - started, argv)
        portable_paths(dest, args.data_root)
        print(f"make_results: {name}: wrote {dest}/ ({facts['jobs']} jobs)", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
