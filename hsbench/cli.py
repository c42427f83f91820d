"""The ``hsbench`` command line: run, plot, report, export, codecs, datasets (more subcommands join here).

Heavy libraries (torch, numba, dask, matplotlib) are imported inside the
subcommands that need them, so ``hsbench --help`` and ``hsbench codecs`` answer fast.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

from hsbench import __version__
from hsbench.errors import HsbenchError


def _cmd_codecs(args: argparse.Namespace) -> int:
    from hsbench.codecs.registry import describe_codecs

    for info in describe_codecs():
        state = "available" if info.available else f"UNAVAILABLE: {info.reason}"
        versions = ", ".join(f"{k} {v}" for k, v in info.versions.items())
        print(f"{info.name:16s} {info.kind:14s} {info.knob}")
        print(f"{'':16s} {state}{'; ' + versions if versions else ''}")
        if info.description:
            print(f"{'':16s} {info.description}")
    return 0


def _cmd_datasets(args: argparse.Namespace) -> int:
    from hsbench.datasets import list_datasets

    for info in list_datasets(args.data_root):
        state = "present" if info.present else "missing"
        where = f" ({info.location})" if info.location else ""
        print(f"{info.name:16s} {info.kind:9s} {state:8s} {info.description}{where}")
    return 0


DEFAULT_DATASETS = "samples,synthetic-hsi"
RUNS_FOLDER = "hsbench-runs"


def _split(text: str | None) -> list[str] | None:
    if text is None:
        return None
    items = [t.strip() for t in text.split(",") if t.strip()]
    return items or None


def _default_out(codecs: list[str] | None, datasets: list[str]) -> str:
    import re

    name = "+".join(datasets) + ("__" + "+".join(codecs) if codecs else "")
    return str(Path(RUNS_FOLDER) / re.sub(r"[^A-Za-z0-9_.+-]+", "_", name))


def _dataset_options(args: argparse.Namespace) -> dict[str, Any]:
    options = {}
    for name in ("split", "max_images", "bands", "tile", "crop"):
        value = getattr(args, name, None)
        if value is not None:
            options[name] = value
    return options


def _cmd_run(args: argparse.Namespace) -> int:
    import time

    from hsbench.outputs import write_run_outputs
    from hsbench.runner import execute_plan, plan_run

    started = time.time()
    codecs = _split(args.codecs)
    datasets = _split(args.dataset) or _split(DEFAULT_DATASETS)
    params = list(args.param or [])
    if args.checkpoint:
        params.append(f"checkpoint={args.checkpoint}")
    if args.device:
        params.append(f"device={args.device}")
    out = args.out or _default_out(codecs, datasets)
    options = _dataset_options(args)
    targets = _rate_targets(args)
    print(f"hsbench run: planning {', '.join(codecs or ['all available codecs'])} on {', '.join(datasets)}",
          file=sys.stderr)
    plan = plan_run(codecs, datasets, out, params=params, data_root=args.data_root, dataset_options=options,
                    targets=targets, tolerance=args.rate_tolerance, max_iter=args.rate_max_iter,
                    repeat=args.repeat)
    for note in plan.notes:
        print(f"hsbench run: {note}", file=sys.stderr)
    summary = execute_plan(plan, workers=args.workers, progress=not args.quiet)
    written = write_run_outputs(
        plan.out,
        command=["hsbench", *args.argv],
        datasets=[d.info() for d in plan.datasets],
        options={"codecs": codecs, "datasets": datasets, "params": params, "workers": args.workers,
                 "dataset_options": options, "data_root": args.data_root,
                 "targets": [f"{m}={v:g}" for m, v in targets], "rate_tolerance": args.rate_tolerance,
                 "rate_max_iter": args.rate_max_iter, "repeat": args.repeat},
        started=started,
        plots=not args.no_plots,
    )
    print(
        f"hsbench run: {summary.total} jobs: {summary.skipped} already done, {summary.ok} ran ok, "
        f"{len(summary.failed)} failed; results in {plan.out}/ (rd.md, timing.md, plots/, manifest.json)",
        file=sys.stderr,
    )
    if summary.failed:
        print("hsbench run: failed jobs:", file=sys.stderr)
        for row in summary.failed[:20]:
            print(f"  {row.get('codec')} {row.get('params')} {row.get('image')}: {row.get('error')}", file=sys.stderr)
        if len(summary.failed) > 20:
            print(f"  ... and {len(summary.failed) - 20} more (see {written.get('failures')})", file=sys.stderr)
    return summary.exit_status


def _rate_targets(args: argparse.Namespace) -> list[tuple[str, float]]:
    from hsbench.ratecontrol import parse_targets

    targets = [("cr", v) for v in parse_targets(args.ratios, "ratios")]
    targets += [("bpppc", v) for v in parse_targets(args.bpppc, "bpppc")]
    if args.repeat < 1:
        raise HsbenchError(f"--repeat must be at least 1, got {args.repeat}")
    return targets


def _overlays(args: argparse.Namespace) -> list[Any]:
    from hsbench.baselines import load_baseline
    from hsbench.export import load_compressai

    return [*(load_baseline(b) for b in (args.baseline or [])), *(load_compressai(r) for r in (args.reference or []))]


def _cmd_plot(args: argparse.Namespace) -> int:
    from hsbench.analysis import load_rows, rd_table
    from hsbench.plotting import plot_rd

    runs = [Path(r) for r in args.runs]
    overlays = _overlays(args)
    tables = [(run.resolve().name, rd_table(load_rows(run))) for run in runs]
    out = Path(args.out) if args.out else runs[0] / "plots"
    files = plot_rd(tables, out, overlays=overlays)
    print(f"hsbench plot: wrote {len(files)} files to {out}/", file=sys.stderr)
    return 0 if files else 1


def _cmd_report(args: argparse.Namespace) -> int:
    from hsbench.report import write_report

    result = write_report(args.run, out=args.out, anchor=args.anchor, method=args.bd_method,
                          baselines=args.baseline or [], references=args.reference or [],
                          auto_baselines=not args.no_auto_baselines)
    print(f"hsbench report: wrote {result['markdown']} and {result['html']} (anchor {result['anchor']}; "
          f"{len(result['compressai'])} CompressAI JSON files)", file=sys.stderr)
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from hsbench.export import export_run

    files = export_run(args.run, args.out)
    for path in files:
        print(path)
    return 0 if files else 1


def _add_overlay_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--baseline", action="append", metavar="NAME",
                   help="overlay published results (repeatable): hyspecnet11k, sscnet_lombardia, sscnet_virtis, "
                   "or a CSV in the same layout; the legend says whether their rate is nominal or real")
    p.add_argument("--reference", action="append", metavar="JSON",
                   help="overlay a curve from a CompressAI-style results JSON (repeatable)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="hsbench",
        description="Benchmark image codecs on hyperspectral, multispectral and RGB data.",
    )
    parser.add_argument("--version", action="version", version=f"hsbench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser(
        "run",
        help="code a dataset with codecs at several rates; write rows, tables, plots and a manifest",
        description="Build the grid codec x rate point x image, run it (resuming a previous run in the same "
        "--out folder) and write rows.jsonl / rows.csv, rd.csv / rd.md, timing.csv / timing.md, plots/ and "
        "manifest.json. With no arguments: every available codec on the embedded data.",
    )
    p.add_argument("--codecs", help="comma-separated codec names (default: every available codec; see `hsbench codecs`)")
    p.add_argument("--dataset", help=f"comma-separated dataset specs: a name or folder:PATH (default: {DEFAULT_DATASETS})")
    p.add_argument("--param", action="append", metavar="[CODEC.]NAME=V1,V2",
                   help="parameter values to sweep (repeatable), e.g. quality=50,75 or jpeg2000.ratio=8,16")
    p.add_argument("--checkpoint", help="model checkpoint for the learned codecs (same as --param checkpoint=PATH)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), help="device of the learned codecs")
    p.add_argument("--workers", type=int, default=1, help="parallel worker processes (default 1: serial)")
    p.add_argument("--out", help="run folder (default: hsbench-runs/<datasets>[__<codecs>]); re-running resumes it")
    p.add_argument("--data-root", help="data root (default: $HSBENCH_DATA or ./datasets)")
    p.add_argument("--split", help="dataset split to use (train / val / test, where the dataset defines them)")
    p.add_argument("--max-images", type=int, help="use at most N images of each dataset")
    p.add_argument("--bands", help="band selection, e.g. 0:100 or 3,2,1")
    p.add_argument("--tile", help="cut images into N x N tiles (e.g. 64)")
    p.add_argument("--crop", help="crop each image, e.g. 256x256")
    p.add_argument("--ratios", metavar="CR1,CR2", help="target compression ratios, e.g. 4,8,16,32: each codec's knob "
                   "is searched by bisection per image so that every curve has points at these rates")
    p.add_argument("--bpppc", metavar="R1,R2", help="target rates in bits per pixel per channel (like --ratios)")
    p.add_argument("--rate-tolerance", type=float, metavar="REL",
                   help="relative tolerance of the target-rate search (default 0.02 = 2 %%)")
    p.add_argument("--rate-max-iter", type=int, metavar="N",
                   help="at most N encodes per target-rate search (default 16)")
    p.add_argument("--repeat", type=int, default=1, metavar="N",
                   help="time N encode / decode runs per job and report the median; with N > 1 a warm-up run "
                   "comes first and is not counted (default 1)")
    p.add_argument("--no-plots", action="store_true", help="skip the figures")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("plot", help="redraw and overlay the rate-distortion plots of run folders")
    p.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run folders (the --out of hsbench run)")
    p.add_argument("--out", help="folder for the figures (default: RUN_DIR/plots of the first run)")
    _add_overlay_options(p)
    p.set_defaults(func=_cmd_plot)

    p = sub.add_parser("report", help="write a Markdown and HTML report of a run: plots, BD-rate, timing, failures",
                       description="Write RUN_DIR/report/report.md and report.html (plots with published baselines "
                       "overlaid where they apply, BD-rate / BD-quality against an anchor, target-rate table, "
                       "timing table, failures, manifest), bd.csv and the CompressAI JSON of every codec.")
    p.add_argument("run", metavar="RUN_DIR", help="run folder (the --out of hsbench run)")
    p.add_argument("--anchor", help="codec the BD values are measured against (default: jpeg2000, else jpeg, "
                   "else the first codec)")
    p.add_argument("--bd-method", choices=("pchip", "cubic"), default="pchip",
                   help="BD interpolation: pchip (piecewise cubic, current practice; default) or cubic "
                   "(the classic cubic polynomial fit of VCEG-M33)")
    p.add_argument("--out", help="report folder (default: RUN_DIR/report)")
    p.add_argument("--no-auto-baselines", action="store_true",
                   help="do not overlay the published baselines whose dataset matches the run's")
    _add_overlay_options(p)
    p.set_defaults(func=_cmd_report)

    p = sub.add_parser("export", help="write each codec's curve as CompressAI-style JSON")
    p.add_argument("run", metavar="RUN_DIR", help="run folder (the --out of hsbench run)")
    p.add_argument("--out", help="folder (default: RUN_DIR/compressai); files are <dataset>/<codec>.json")
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser("codecs", help="list codecs with kind, rate knob, availability and library versions")
    p.set_defaults(func=_cmd_codecs)

    p = sub.add_parser("datasets", help="list datasets and whether they are present locally")
    p.add_argument("--data-root", help="data root (default: $HSBENCH_DATA or ./datasets)")
    p.set_defaults(func=_cmd_datasets)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hsbench`` console script."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    args.argv = argv
    func: Callable[[argparse.Namespace], int] | None = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return func(args)
    except HsbenchError as exc:
        print(f"hsbench: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("hsbench: interrupted", file=sys.stderr)
        return 130
