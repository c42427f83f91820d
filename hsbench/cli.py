"""The ``hsbench`` command line: run, plot, codecs, datasets (more subcommands join here).

Heavy libraries (torch, numba, dask, matplotlib) are imported inside the
subcommands that need them, so ``hsbench --help`` and ``hsbench codecs`` answer fast.
"""

from __future__ import annotations

import argparse
import sys
from typing import Callable, Sequence

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
    action = getattr(args, "action", None) or "list"
    if action == "list":
        from hsbench.datasets import list_datasets

        for info in list_datasets(args.data_root):
            state = "present" if info.present else "missing"
            where = f" ({info.location})" if info.location else ""
            print(f"{info.name:16s} {info.kind:9s} {state:8s} {info.description}{where}")
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


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="hsbench",
        description="Benchmark image codecs on hyperspectral, multispectral and RGB data.",
    )
    parser.add_argument("--version", action="version", version=f"hsbench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hsbench`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
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
