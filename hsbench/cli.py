"""The ``hsbench`` command line: run, plot, report, export, codecs, datasets, compress, decompress.

Heavy libraries (torch, numba, dask, matplotlib) are imported inside the
subcommands that need them, so ``hsbench --help`` and ``hsbench codecs`` answer fast.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from hsbench import __version__
from hsbench.errors import HsbenchError

if TYPE_CHECKING:  # pragma: no cover
    from hsbench.codecs.base import Codec
    from hsbench.cube import Cube


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
    action = getattr(args, "action", None) or "list"
    if action == "list":
        from hsbench.datasets import list_datasets

        for info in list_datasets(args.data_root):
            state = "present" if info.present else "missing"
            where = f" ({info.location})" if info.location else ""
            print(f"{info.name:20s} {info.kind:9s} {state:8s} {info.description}{where}")
        return 0
    if action == "info":
        from hsbench.datasets import EMBEDDED, resolve_data_root
        from hsbench.datasets.catalog import get_entry, mirror_env

        if args.name in EMBEDDED:
            print(f"{args.name}: {EMBEDDED[args.name][1]} (embedded, no download)")
            return 0
        entry = get_entry(args.name)
        root = resolve_data_root(args.data_root)
        missing = entry.missing(root)
        print(f"{entry.name}: {entry.title}")
        print(f"  {entry.description}")
        for key in ("format", "bit_depth", "bands", "band_selection", "value_range", "split_policy",
                    "paper_tile", "license", "citation", "homepage", "notes"):
            value = getattr(entry, key)
            if value not in (None, ""):
                print(f"  {key.replace('_', ' ')}: {value}")
        print(f"  location: {entry.folder(root)} ({'present' if not missing else f'{len(missing)} of {len(entry.files)} missing'})")
        print(f"  mirror: {entry.mirror() or 'none'} (set {mirror_env(entry.name)})")
        print("  files:")
        for f in entry.files:
            digest = f"sha256 {f.sha256}" if f.sha256 else f"md5 {f.md5}" if f.md5 else "no published hash"
            print(f"    {f.path}  [{digest}]  {f.url}")
        return 0
    if action == "download":
        from hsbench.datasets.download import download_dataset

        folder = download_dataset(args.name, args.data_root, mirror=args.mirror, retries=args.retries,
                                  progress=not args.quiet)
        print(f"{args.name}: downloaded and verified in {folder}")
        return 0
    if action == "verify":
        from hsbench.datasets.download import verify_dataset

        results = verify_dataset(args.name, args.data_root)
        for r in results:
            print(f"{r.status:10s} {r.path}  {r.detail}")
        bad = [r for r in results if r.status in ("missing", "mismatch")]
        print(f"{args.name}: {len(results) - len(bad)} of {len(results)} files pass" + (f", {len(bad)} FAIL" if bad else ""))
        return 1 if bad else 0
    raise AssertionError(action)


DEFAULT_DATASETS = "samples,synthetic-hsi"
#: Images per dataset of the default run (no --dataset): keeps `hsbench run` to a few minutes.
DEFAULT_MAX_IMAGES = 1
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
    for name in ("split", "max_images", "bands", "tile", "crop", "bit_depth", "key", "layout", "dtype"):
        value = getattr(args, name, None)
        if value is not None:
            options[name] = value
    return options


def _positive_float(text: str) -> float:
    """argparse type: a number of seconds > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def _cmd_run(args: argparse.Namespace) -> int:
    import time

    from hsbench.store import ResultStore

    started = time.time()
    codecs = _split(args.codecs)
    datasets = _split(args.dataset)
    if datasets is None:
        datasets = _split(DEFAULT_DATASETS)
        if args.max_images is None:
            args.max_images = DEFAULT_MAX_IMAGES
    params = list(args.param or [])
    if args.checkpoint:
        params.append(f"checkpoint={args.checkpoint}")
    if args.device:
        params.append(f"device={args.device}")
    out = args.out or _default_out(codecs, datasets)
    options = _dataset_options(args)
    targets = _rate_targets(args)
    run_options = {"codecs": codecs, "datasets": datasets, "params": params, "workers": args.workers,
                   "scheduler": args.scheduler, "retries": args.retries, "job_timeout": args.job_timeout,
                   "dataset_options": options, "data_root": args.data_root,
                   "targets": [f"{m}={v:g}" for m, v in targets], "rate_tolerance": args.rate_tolerance,
                   "rate_max_iter": args.rate_max_iter, "repeat": args.repeat, "warmup": args.warmup}
    # The run folder is locked and checked writable before planning (which may train models) and jobs.
    with ResultStore(out) as store:
        for note in store.notes:
            print(f"hsbench run: {note}", file=sys.stderr)
        store.notes.clear()
        return _run_in_store(args, store, run_options, started)


def _run_in_store(args: argparse.Namespace, store: Any, options: dict[str, Any], started: float) -> int:
    """``hsbench run`` once its run folder is open: plan, execute, write the outputs, summarise."""
    from hsbench.executors import ProcessExecutor, make_executor
    from hsbench.outputs import prefetch, write_run_outputs

    # A local process pool starts before this process imports the runner and plans, so its
    # processes import their libraries meanwhile (on the other cores) instead of afterwards.
    # (Other executors are made by execute_plan, and only when a job is left to run.)
    executor = None
    if args.workers > 1 and not args.scheduler:
        executor = make_executor(args.workers, retries=args.retries, job_timeout=args.job_timeout)
        assert isinstance(executor, ProcessExecutor)
        executor.start()
    try:
        from hsbench.runner import execute_plan, plan_run

        codecs, datasets = options["codecs"], options["datasets"]
        print(f"hsbench run: planning {', '.join(codecs or ['all available codecs'])} on {', '.join(datasets)}",
              file=sys.stderr)
        plan = plan_run(codecs, datasets, store.folder, params=options["params"], data_root=args.data_root,
                        dataset_options=options["dataset_options"], targets=_rate_targets(args),
                        tolerance=args.rate_tolerance, max_iter=args.rate_max_iter, repeat=args.repeat,
                        warmup=args.warmup)
        for note in plan.notes:
            print(f"hsbench run: {note}", file=sys.stderr)
        try:
            # The tables' and plots' libraries are imported while the jobs run, not after the last.
            summary = execute_plan(plan, workers=args.workers, progress=not args.quiet, executor=executor,
                                   scheduler=args.scheduler, retries=args.retries, job_timeout=args.job_timeout,
                                   store=store, after_first_row=lambda: prefetch(plots=not args.no_plots))
        except KeyboardInterrupt:
            print(f"hsbench run: interrupted; the rows finished so far are in {plan.out}/rows.jsonl. Run the "
                  "same command again to resume with the jobs not yet done.", file=sys.stderr)
            raise
    finally:
        if executor is not None:
            executor.close()
    for note in summary.notes:
        print(f"hsbench run: {note}", file=sys.stderr)
    try:
        written = write_run_outputs(plan.out, command=["hsbench", *args.argv],
                                    datasets=[d.info() for d in plan.datasets], options=options,
                                    started=started, plots=not args.no_plots)
    except OSError as exc:
        raise HsbenchError(
            f"the jobs are done and their rows are in {plan.out}/rows.jsonl, but the tables and plots could not "
            f"be written there ({exc.strerror or exc}); free some space and run the same command again to write "
            "them (no job is recomputed)"
        ) from None
    print(
        f"hsbench run: {summary.total} jobs: {summary.skipped} already done, {summary.ok} ran ok, "
        f"{len(summary.failed)} failed{f' ({summary.timed_out} timed out)' if summary.timed_out else ''}; "
        f"results in {plan.out}/ (rd.md, timing.md, plots/, manifest.json)",
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
    from hsbench.export import load_references

    return [*(load_baseline(b) for b in (args.baseline or [])),
            *(curve for r in (args.reference or []) for curve in load_references(r))]


def _cmd_plot(args: argparse.Namespace) -> int:
    from hsbench.analysis import load_rows, overlay_labels, rd_table
    from hsbench.plotting import plot_rd

    runs = [Path(r) for r in args.runs]
    overlays = _overlays(args)
    frames = [(run.resolve().name, load_rows(run)) for run in runs]
    labels, notes = overlay_labels(frames)
    for note in notes:
        print(f"hsbench plot: {note}", file=sys.stderr)
    tables = [(label, rd_table(df)) for label, (_, df) in zip(labels, frames)]
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
    p.add_argument("--reference", action="append", metavar="JSON_OR_FOLDER",
                   help="overlay a curve from a CompressAI-style results JSON, or every such JSON in a folder "
                   "(e.g. results/kodak, the committed reference runs; repeatable)")


def _read_input(path: str, bit_depth: int | None) -> "Cube":
    """A cube from a CCSDS/GICI-named .raw file, a .npy array or any other file read_image reads."""
    from hsbench.datasets.readers import read_image

    return read_image(path) if bit_depth is None else read_image(path, bit_depth=bit_depth)


def _parse_params(items: Sequence[str] | None) -> dict[str, object]:
    from hsbench.codecs.base import parse_value

    params: dict[str, object] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise HsbenchError(f"--param expects KEY=VALUE, got {item!r}")
        params[key.strip()] = parse_value(value)
    return params


def _sidecar(path: Path) -> Path:
    """The SHA-256 sidecar of a bare (unframed) stream: ``FILE.sha256`` in ``sha256sum`` format."""
    return Path(str(path) + ".sha256")


def _write_sidecar(path: Path, data: bytes) -> Path:
    """Write ``HEX  NAME`` for ``path`` (checkable with ``sha256sum -c FILE.sha256``)."""
    import hashlib

    side = _sidecar(path)
    side.write_text(f"{hashlib.sha256(data).hexdigest()}  {path.name}\n")
    return side


def _check_sidecar(path: Path, data: bytes) -> bool:
    """Compare ``data`` with the sidecar of ``path``: True when it matches, False when there is none.

    Raises :class:`CorruptStreamError` naming the file when the digests differ.
    """
    import hashlib

    from hsbench.errors import CorruptStreamError

    side = _sidecar(path)
    if not side.is_file():
        return False
    fields = side.read_text().split()
    expected = fields[0].lower() if fields else ""
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise CorruptStreamError(
            f"{path}: SHA-256 {actual} differs from {expected or '(empty)'} in {side.name}; the file was "
            "damaged or altered after it was written"
        )
    return True


def _decode_file(src: Path, data: bytes, codec_name: str | None) -> "Cube":
    """Decode the bytes of ``src``: an hsbench stream (codec read from it), or a bare CCSDS 123 image."""
    import numpy as np

    from hsbench.codecs import container
    from hsbench.codecs.registry import create_codec
    from hsbench.cube import Cube
    from hsbench.errors import CorruptStreamError

    framed = data.startswith(container.MAGIC[:3])
    if not framed and codec_name not in (None, "ccsds123"):
        raise HsbenchError(
            f"{src} is not an hsbench stream; only ccsds123 has a bare format (--codec ccsds123)"
        )
    if framed:
        written_by = container.peek_codec(data)
        if codec_name is not None and codec_name != written_by:
            raise HsbenchError(f"{src} was written by codec {written_by!r}, not {codec_name!r}")
        return create_codec(written_by).decode(data)
    from hsbench.codecs.ccsds123 import decompress

    try:
        array, header = decompress(data)
    except CorruptStreamError as exc:
        raise CorruptStreamError(
            f"{src} is neither an hsbench stream nor a readable CCSDS 123 compressed image ({exc})"
        ) from exc
    depth = header.dynamic_range
    if depth <= 8:
        array = array.astype(np.int8 if header.signed else np.uint8)
    return Cube(array, bit_depth=depth, name=src.stem)


def _verify(out: Path, cube: "Cube", codec: "Codec") -> str:
    """Read ``out`` back, decode it and compare with ``cube``; a line saying what was checked.

    Lossless and near-lossless coding must stay within the codec's bound (0 = exact); lossy
    coding must give back the geometry and sample type. Raises :class:`CorruptStreamError`.
    """
    import numpy as np

    from hsbench.errors import CorruptStreamError

    decoded = _decode_file(out, out.read_bytes(), codec.name)
    if decoded.shape != cube.shape:
        raise CorruptStreamError(f"{out}: verification failed: decodes to {decoded.shape}, not {cube.shape}")
    error = float(np.max(np.abs(decoded.data.astype(np.float64) - cube.data.astype(np.float64))))
    bound = codec.max_error(cube)
    if bound is not None and error > bound:
        raise CorruptStreamError(
            f"{out}: verification failed: max |error| = {error:g} exceeds the guaranteed {bound:g}"
        )
    limit = "exact" if bound == 0 else (f"bound {bound:g}" if bound is not None else "lossy, no bound")
    return f"verified {out}: decodes to {decoded.shape}, max |error| = {error:g} ({limit})"


def _cmd_compress(args: argparse.Namespace) -> int:
    from pathlib import Path

    from hsbench.codecs.registry import create_codec

    cube = _read_input(args.input, args.bit_depth)
    codec = create_codec(args.codec, **_parse_params(args.param))
    if args.ccsds:
        if args.codec != "ccsds123":
            raise HsbenchError("--ccsds writes a bare CCSDS 123 image and needs --codec ccsds123")
        codec.supports(cube)
        data = codec.encode_payload(cube)
        suffix = ".c123"
    else:
        data = codec.encode(cube)
        suffix = ".hsb"
    out = Path(args.output) if args.output else Path(args.input).with_suffix(suffix)
    out.write_bytes(data)
    bpppc = 8 * len(data) / cube.num_samples
    ratio = cube.nominal_bytes / len(data)
    print(f"{out}: {len(data)} bytes, {bpppc:.4f} bpppc, CR {ratio:.3f} ({codec.label}, {cube!r})")
    if args.ccsds:  # a bare stream has no CRC: the sidecar is its checksum (hsbench decompress checks it)
        print(f"{_write_sidecar(out, data)}: SHA-256 of {out.name} (check: sha256sum -c, or hsbench decompress)")
    if args.verify:
        print(_verify(out, cube, codec))
    return 0


def _cmd_decompress(args: argparse.Namespace) -> int:
    from pathlib import Path

    import numpy as np

    from hsbench.codecs import container
    from hsbench.datasets.raw import parse_raw_name, write_raw

    src = Path(args.input)
    if not src.is_file():
        raise HsbenchError(f"{src}: no such file")
    data = src.read_bytes()
    if not data.startswith(container.MAGIC[:3]) and not _check_sidecar(src, data):
        print(f"hsbench decompress: warning: {src} is a bare CCSDS 123 image without a {_sidecar(src).name} "
              "sidecar; it has no checksum, so damage would decode to wrong samples unnoticed", file=sys.stderr)
    cube = _decode_file(src, data, args.codec)
    if args.output and args.output.lower().endswith(".npy"):
        out = Path(args.output)
        np.save(out, cube.data)
    elif args.output and args.output.lower().endswith(".raw"):
        out = Path(args.output)
        byteorder = ">" if not args.little_endian else "<"
        cube.data.astype(cube.dtype.newbyteorder(byteorder)).tofile(out)
    else:
        if cube.is_float:
            out = Path(args.output or src.with_suffix(".npy"))
            np.save(out, cube.data)
        else:
            folder = Path(args.output) if args.output else src.parent
            try:  # scene-u16be-224x512x680.hsb -> scene-u16be-224x512x680.raw, not a doubled suffix
                stem = parse_raw_name(src.stem + ".raw").name
            except HsbenchError:
                stem = src.stem
            out = write_raw(cube, folder, stem, byteorder="le" if args.little_endian else "be")
    print(f"{out}: {cube!r}")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    if args.recipe:
        from hsbench.codecs.learned.models import train_recipe

        for e in train_recipe(args.recipe, out=args.out, ship=args.ship, data_root=args.data_root,
                              device="cpu" if args.device == "auto" else args.device, points=args.point):
            val = ("not validated (val_images 0)" if e.get("val_psnr") is None
                   else f"validation PSNR {e['val_psnr']:.2f} dB"
                   + (f" at {e['val_bpppc']:.3f} bpppc" if e.get("val_bpppc") is not None else ""))
            print(f"{e['file']}: {e['codec']} {e['knob_name']}={e['knob']:g} on {e['train_data']}, {e['steps']} steps "
                  f"in {e['train_seconds']:.0f} s, {val} -> {e['path']}")
        return 0
    if not (args.codec and args.dataset and args.out):
        raise HsbenchError("hsbench train needs either --recipe NAME, or CODEC --dataset NAME --out CKPT")
    from hsbench.codecs.learned.train import train_command

    ckpt = train_command(
        args.codec,
        args.dataset,
        args.out,
        data_root=args.data_root,
        split=args.split,
        max_images=args.max_images,
        paper=args.paper,
        arch_overrides={"latent": args.latent, "tile": args.tile, "width": args.width, "fc": args.fc},
        epochs=args.epochs,
        batch=args.batch,
        lr=args.lr,
        loss=args.loss,
        seed=args.seed,
        device=args.device,
        max_seconds=args.max_seconds,
    )
    t = ckpt["training"]
    print(
        f"{args.codec} {ckpt['arch']} trained on {ckpt['data']['spec']} ({len(ckpt['data']['images'])} images, "
        f"{t['train_tiles']} tiles): {t['epochs_done']} epochs, {t['steps']} steps, loss {t['train_loss']:.4g}, "
        f"validation PSNR {t['val_psnr']:.2f} dB -> {args.out}"
    )
    return 0


def _cmd_models(args: argparse.Namespace) -> int:
    from hsbench.codecs.learned.models import describe_models, load_recipe, rebuild_tables, recipe_names

    if args.rebuild_tables:
        done = rebuild_tables(ship=args.ship)
        for e in done:
            print(f"{e['file']}: tables rebuilt ({e['bytes'] / 1e6:.2f} MB), validation PSNR {e['val_psnr']:.2f} dB "
                  f"at {e['val_bpppc']:.4f} bpppc (model estimate {e['val_estimated_bpppc']:.4f})")
        print(f"{len(done)} model(s) rebuilt; the others' tables and weights are current")
        return 0
    if args.recipes:
        for name in recipe_names():
            r = load_recipe(name)
            print(f"{name:28s} {r['codec']:16s} points {r['points']} on {r['train']}, "
                  f"{r['settings']['steps']} steps  {r.get('description', '')}")
        return 0
    rows = describe_models()
    if not rows:
        print("no shipped or cached models; train some with `hsbench train --recipe NAME`")
    for e in rows:
        val = f"val {e['val_psnr']:.2f} dB" if e.get("val_psnr") is not None else "val -"
        if e.get("val_bpppc") is not None:
            val += f" @ {e['val_bpppc']:.3f} bpppc (model estimate {e['val_estimated_bpppc']:.3f})"
        print(f"{e['where']:7s} {e['codec']:14s} {e['knob_name']}={e['knob']:<8g} {e['recipe']:24s} "
              f"data {e['train_data']} ({len(e.get('train_images', []))} images)  {e['steps']} steps "
              f"{e['train_seconds']:.0f} s  {val}  {e['bytes'] / 1e6:.2f} MB  {e['file']}")
    return 0


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
    p.add_argument("--dataset", help="comma-separated dataset specs: a name (see `hsbench datasets`), "
                   "folder:PATH (every image file in a folder), file:PATH or a bare path to one image file "
                   f"(default: {DEFAULT_DATASETS}, {DEFAULT_MAX_IMAGES} image of each)")
    p.add_argument("--param", action="append", metavar="[CODEC.]NAME=V1,V2",
                   help="parameter values to sweep (repeatable), e.g. quality=50,75 or jpeg2000.ratio=8,16")
    p.add_argument("--checkpoint", help="model checkpoint for the learned codecs (same as --param checkpoint=PATH)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), help="device of the learned codecs")
    p.add_argument("--workers", type=int, default=1, help="parallel worker processes (default 1: serial)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="run the jobs on a Dask cluster: tcp://HOST:PORT of a running scheduler, or local:N to "
                   "start N local Dask workers (needs `pip install hsbench[dask]`; see docs/cluster.md)")
    p.add_argument("--retries", type=int, default=1,
                   help="extra tries of a job whose worker process died (default 1); then it is recorded as failed")
    p.add_argument("--job-timeout", type=_positive_float, metavar="SECONDS",
                   help="stop a job that runs longer and record it with status timeout (default: no limit)")
    p.add_argument("--out", help="run folder (default: hsbench-runs/<datasets>[__<codecs>]); re-running resumes it")
    p.add_argument("--data-root", help="data root (default: $HSBENCH_DATA or ./datasets)")
    p.add_argument("--split", help="dataset split to use (train / val / test, where the dataset defines them)")
    p.add_argument("--max-images", type=int, help="use at most N images of each dataset")
    p.add_argument("--bands", help="band selection, e.g. 0:100 or 3,2,1")
    p.add_argument("--tile", help="cut images into N x N tiles (e.g. 64)")
    p.add_argument("--crop", help="crop each image, e.g. 256x256")
    files = p.add_argument_group("reading files (folder:PATH, file:PATH and bare-path datasets; recorded in the "
                                 "rows' dataset_options)")
    files.add_argument("--bit-depth", type=int, metavar="N",
                       help="nominal bit depth of integer samples, e.g. 12 for 12-bit data stored in uint16: it "
                       "sets the PSNR / SSIM peak 2^N - 1 and the compression ratio (default: the storage size)")
    files.add_argument("--key", metavar="NAME", help="variable of a MATLAB .mat file (default: its largest 3-D "
                       "numeric array)")
    files.add_argument("--layout", choices=("hwb", "bhw"),
                       help="axis order of .mat / .npy arrays: hwb = rows x cols x bands (MATLAB's usual; the "
                       ".mat default), bhw = bands x rows x cols (the .npy default)")
    files.add_argument("--dtype", metavar="TYPE",
                       help="integer sample type, and so signedness, of integral data a .mat file stores as "
                       "floating point: e.g. int16 (signed) or uint16 (unsigned); the cast must be exact")
    p.add_argument("--ratios", metavar="CR1,CR2", help="target compression ratios, e.g. 4,8,16,32: each codec's knob "
                   "is searched by bisection per image so that every curve has points at these rates")
    p.add_argument("--bpppc", metavar="R1,R2", help="target rates in bits per pixel per channel (like --ratios)")
    p.add_argument("--rate-tolerance", type=float, metavar="REL",
                   help="relative tolerance of the target-rate search (default 0.02 = 2 %%)")
    p.add_argument("--rate-max-iter", type=int, metavar="N",
                   help="at most N encodes per target-rate search (default 16)")
    p.add_argument("--repeat", type=int, default=1, metavar="N",
                   help="time N encode / decode runs per job and report the median (default 1)")
    p.add_argument("--warmup", choices=("once", "each", "none"),
                   help="untimed warm-up encode + decode (compilation, model loading): once per codec "
                   "configuration and image shape in each worker process (default with --repeat 1), before "
                   "each job (default with --repeat > 1), or none (times include the one-time costs)")
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
    p.add_argument("--bd-method", choices=("pchip", "akima", "cubic"), default="pchip",
                   help="BD interpolation: pchip (piecewise cubic Hermite of the JVET sheet; default), akima "
                   "(Akima 1970, found more stable by the FAU bjontegaard study) or cubic (the classic cubic "
                   "polynomial fit of VCEG-M33)")
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

    data_root_help = "data root (default: $HSBENCH_DATA or ./datasets)"
    p = sub.add_parser("datasets", help="list, describe, download and verify datasets")
    p.add_argument("--data-root", help=data_root_help)
    p.set_defaults(func=_cmd_datasets, action="list")
    dsub = p.add_subparsers(dest="action", metavar="ACTION")
    q = dsub.add_parser("list", help="every dataset and whether it is present in the data root")
    q.add_argument("--data-root", default=argparse.SUPPRESS, help=data_root_help)
    q = dsub.add_parser("info", help="files, hashes, licence, citation, bit depth, bands, splits of one dataset")
    q.add_argument("name")
    q.add_argument("--data-root", default=argparse.SUPPRESS, help=data_root_help)
    q = dsub.add_parser("download", help="download, hash-check and unpack a catalog dataset into the data root")
    q.add_argument("name")
    q.add_argument("--data-root", default=argparse.SUPPRESS, help=data_root_help)
    q.add_argument("--mirror", help="base URL to fetch the files from instead (also: HSBENCH_MIRROR_<NAME>)")
    q.add_argument("--retries", type=int, default=3, help="extra attempts per file (default 3)")
    q.add_argument("--quiet", action="store_true", help="no progress bar")
    q = dsub.add_parser("verify", help="recheck the hashes (and Kodak's pixels) of a downloaded dataset")
    q.add_argument("name")
    q.add_argument("--data-root", default=argparse.SUPPRESS, help=data_root_help)

    p = sub.add_parser(
        "compress",
        help="code one image file into a standalone compressed file",
        description="Code INPUT (CCSDS-named .raw, .npy, PNG / TIFF / ...) with one codec. Writes the "
        "hsbench-framed stream (.hsb, CRC-protected), or with --ccsds the bare CCSDS 123.0-B-2 image (.c123) "
        "and its SHA-256 sidecar (.c123.sha256). --verify decodes the written file and checks it.",
    )
    p.add_argument("input", metavar="INPUT")
    p.add_argument("--codec", required=True, help="codec name (see `hsbench codecs`)")
    p.add_argument("--param", action="append", metavar="KEY=VALUE", help="codec parameter (repeatable)")
    p.add_argument("--bit-depth", type=int, help="nominal bit depth of the input (default: its storage size)")
    p.add_argument("--ccsds", action="store_true", help="ccsds123 only: write the bare CCSDS 123 compressed image "
                   "and its SHA-256 in OUTPUT.sha256 (a bare image has no CRC; decompress checks the sidecar)")
    p.add_argument("--verify", action="store_true", help="read the written file back, decode it and check it "
                   "against the input (exact / within the error bound; geometry for lossy codecs)")
    p.add_argument("-o", "--output", help="output file (default: INPUT with .hsb / .c123)")
    p.set_defaults(func=_cmd_compress)

    p = sub.add_parser(
        "decompress",
        help="decode a compressed file into a raw (CCSDS-named) or .npy file",
        description="Decode an hsbench stream (the codec is read from it; its CRC is checked) or a bare "
        "CCSDS 123 image (checked against INPUT.sha256 when that sidecar exists). "
        "Writes NAME-u16be-ZxYxX.raw next to INPUT unless -o names a folder, a .raw or a .npy file.",
    )
    p.add_argument("input", metavar="INPUT")
    p.add_argument("--codec", help="codec of a bare stream (ccsds123); checked against framed streams")
    p.add_argument("--little-endian", action="store_true", help="write raw samples little-endian")
    p.add_argument("-o", "--output", help="output folder, .raw or .npy file")
    p.set_defaults(func=_cmd_decompress)

    p = sub.add_parser(
        "train",
        help="train a learned codec and save a checkpoint, or every model of a recipe (--recipe)",
        description="Train an autoencoder codec (sscnet, sscnet-linear, vgg16-baseline) on a training set "
        "(BCE on the sigmoid output, Adam, cosine annealing) and save a resumable checkpoint; or, with "
        "--recipe NAME, train every model of a recipe (any learned codec, factorized and hyperprior included; "
        "`hsbench models --recipes`). Train on a train split, never on the images you evaluate: hsbench "
        "refuses to evaluate a checkpoint on its own training images.",
    )
    p.add_argument("codec", nargs="?", help="sscnet, sscnet-linear or vgg16-baseline (not with --recipe)")
    p.add_argument("--recipe", help="train every model of a recipe (see `hsbench models --recipes`); "
                   "into the cache, or --out DIR")
    p.add_argument("--ship", action="store_true", help="with --recipe: write into the package's shipped models")
    p.add_argument("--point", type=float, action="append",
                   help="with --recipe: train only this point (repeatable), e.g. one process per point and GPU")
    p.add_argument("--dataset", help="training data: dataset name or folder:PATH")
    p.add_argument("--split", help="dataset split to train on (e.g. train), where the dataset defines splits")
    p.add_argument("--data-root", help="data root (default: $HSBENCH_DATA or ./datasets)")
    p.add_argument("--max-images", type=int, help="train on the first N images only")
    p.add_argument("--paper", action="store_true", help="the published architecture sizes (needs a GPU to train)")
    p.add_argument("--latent", type=int, help="latent channels (sscnet) or units (sscnet-linear, vgg16-baseline)")
    p.add_argument("--tile", type=int, help="tile size in pixels (multiple of 8; 16 for vgg16-baseline)")
    p.add_argument("--width", type=int, help="base number of channels of the network")
    p.add_argument("--fc", type=int, help="vgg16-baseline: width of the fully connected layers (paper 4096)")
    p.add_argument("--epochs", type=int, default=50, help="epochs (default 50)")
    p.add_argument("--batch", type=int, default=32, help="tiles per batch (default 32)")
    p.add_argument("--lr", type=float, default=1e-4, help="Adam learning rate (default 1e-4, the paper's)")
    p.add_argument("--loss", choices=("bce", "mse"), default="bce", help="loss (default bce, the paper's)")
    p.add_argument("--seed", type=int, default=0, help="random seed (same seed, same model on the CPU)")
    p.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda or cuda:N")
    p.add_argument("--max-seconds", type=float, help="stop after this many seconds")
    p.add_argument("--out", help="checkpoint file (an unfinished one with the same settings resumes); "
                   "with --recipe a folder")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("models", help="list the shipped and cached learned models (recipe, data, steps, validation)")
    p.add_argument("--recipes", action="store_true", help="list the training recipes instead")
    p.add_argument("--rebuild-tables", action="store_true",
                   help="rewrite the cached recipe models whose coding tables an older hsbench built, or whose "
                   "weights are stored otherwise than their recipe's `weights` setting says (same weights, rounded "
                   "to float16 for such a recipe; today's tables); models of another folder are rebuilt when loaded")
    p.add_argument("--ship", action="store_true", help="with --rebuild-tables: the package's shipped models")
    p.set_defaults(func=_cmd_models)
    return parser


def _format_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                    line: str | None = None) -> str:
    """hsbench's own warnings (e.g. :class:`hsbench.store.StoreWarning`) as one line for users."""
    if category.__module__.startswith("hsbench"):
        return f"hsbench: warning: {message}\n"
    return _python_format_warning(message, category, filename, lineno, line)


_python_format_warning = warnings.formatwarning


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hsbench`` console script."""
    warnings.formatwarning = _format_warning
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
