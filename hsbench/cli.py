"""The ``hsbench`` command line: run, plot, codecs, datasets, compress, decompress (more join here).

Heavy libraries (torch, numba, dask, matplotlib) are imported inside the
subcommands that need them, so ``hsbench --help`` and ``hsbench codecs`` answer fast.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Callable, Sequence

from hsbench import __version__
from hsbench.errors import HsbenchError

if TYPE_CHECKING:  # pragma: no cover
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
    from hsbench.datasets import list_datasets

    for info in list_datasets(args.data_root):
        state = "present" if info.present else "missing"
        where = f" ({info.location})" if info.location else ""
        print(f"{info.name:16s} {info.kind:9s} {state:8s} {info.description}{where}")
    return 0


def _read_input(path: str, bit_depth: int | None) -> "Cube":
    """A cube from a CCSDS/GICI-named .raw file, a .npy array or any image read_image reads."""
    from pathlib import Path

    import numpy as np

    from hsbench.cube import Cube
    from hsbench.datasets.raw import read_raw
    from hsbench.datasets.readers import read_image
    from hsbench.errors import DatasetError

    p = Path(path)
    if p.suffix.lower() == ".raw":
        return read_raw(p, bit_depth=bit_depth)
    if p.suffix.lower() == ".npy":
        if not p.is_file():
            raise DatasetError(f"{p}: no such file")
        array = np.load(p, allow_pickle=False)
        if array.ndim == 2:
            array = array[np.newaxis]
        return Cube(np.ascontiguousarray(array), bit_depth=bit_depth, name=p.stem)
    cube = read_image(p)
    return cube if bit_depth is None else cube.with_data(cube.data, bit_depth=bit_depth)


def _parse_params(items: Sequence[str] | None) -> dict[str, object]:
    from hsbench.codecs.base import parse_value

    params: dict[str, object] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise HsbenchError(f"--param expects KEY=VALUE, got {item!r}")
        params[key.strip()] = parse_value(value)
    return params


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
    return 0


def _cmd_decompress(args: argparse.Namespace) -> int:
    from pathlib import Path

    import numpy as np

    from hsbench.codecs import container
    from hsbench.codecs.registry import create_codec
    from hsbench.cube import Cube
    from hsbench.datasets.raw import parse_raw_name, write_raw

    src = Path(args.input)
    if not src.is_file():
        raise HsbenchError(f"{src}: no such file")
    data = src.read_bytes()
    framed = data.startswith(container.MAGIC[:3])
    if not framed and args.codec not in (None, "ccsds123"):
        raise HsbenchError(
            f"{src} is not an hsbench stream; only ccsds123 has a bare format (--codec ccsds123)"
        )
    if not framed:  # a bare CCSDS 123.0-B-2 compressed image
        from hsbench.codecs.ccsds123 import decompress
        from hsbench.errors import CorruptStreamError

        try:
            array, header = decompress(data)
        except CorruptStreamError as exc:
            raise CorruptStreamError(
                f"{src} is neither an hsbench stream nor a readable CCSDS 123 compressed image ({exc})"
            ) from exc
        depth = header.dynamic_range
        if depth <= 8:
            array = array.astype(np.int8 if header.signed else np.uint8)
        cube = Cube(array, bit_depth=depth, name=src.stem)
    else:
        codec_name = container.peek_codec(data)
        if args.codec is not None and args.codec != codec_name:
            raise HsbenchError(f"{src} was written by codec {codec_name!r}, not {args.codec!r}")
        cube = create_codec(codec_name).decode(data)
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

    p = sub.add_parser(
        "compress",
        help="code one image file into a standalone compressed file",
        description="Code INPUT (CCSDS-named .raw, .npy, PNG / TIFF / ...) with one codec. Writes the "
        "hsbench-framed stream (.hsb), or with --ccsds the bare CCSDS 123.0-B-2 image (.c123).",
    )
    p.add_argument("input", metavar="INPUT")
    p.add_argument("--codec", required=True, help="codec name (see `hsbench codecs`)")
    p.add_argument("--param", action="append", metavar="KEY=VALUE", help="codec parameter (repeatable)")
    p.add_argument("--bit-depth", type=int, help="nominal bit depth of the input (default: its storage size)")
    p.add_argument("--ccsds", action="store_true", help="ccsds123 only: write the bare CCSDS 123 compressed image")
    p.add_argument("-o", "--output", help="output file (default: INPUT with .hsb / .c123)")
    p.set_defaults(func=_cmd_compress)

    p = sub.add_parser(
        "decompress",
        help="decode a compressed file into a raw (CCSDS-named) or .npy file",
        description="Decode an hsbench stream (the codec is read from it) or a bare CCSDS 123 image. "
        "Writes NAME-u16be-ZxYxX.raw next to INPUT unless -o names a folder, a .raw or a .npy file.",
    )
    p.add_argument("input", metavar="INPUT")
    p.add_argument("--codec", help="codec of a bare stream (ccsds123); checked against framed streams")
    p.add_argument("--little-endian", action="store_true", help="write raw samples little-endian")
    p.add_argument("-o", "--output", help="output folder, .raw or .npy file")
    p.set_defaults(func=_cmd_decompress)
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
