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
    from hsbench.datasets import list_datasets

    for info in list_datasets(args.data_root):
        state = "present" if info.present else "missing"
        where = f" ({info.location})" if info.location else ""
        print(f"{info.name:16s} {info.kind:9s} {state:8s} {info.description}{where}")
    return 0


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

    p = sub.add_parser("datasets", help="list datasets and whether they are present locally")
    p.add_argument("--data-root", help="data root (default: $HSBENCH_DATA or ./datasets)")
    p.set_defaults(func=_cmd_datasets)
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
