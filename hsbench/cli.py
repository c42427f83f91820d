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


def _cmd_train(args: argparse.Namespace) -> int:
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
        "train",
        help="train a learned codec (sscnet, sscnet-linear, vgg16-baseline) and save a checkpoint",
        description="Train a learned codec on a training set (BCE on the sigmoid output, Adam, cosine "
        "annealing) and save a resumable checkpoint. Train on a train split, never on the images you "
        "evaluate: hsbench refuses to evaluate a checkpoint on its own training images.",
    )
    p.add_argument("codec", help="sscnet, sscnet-linear or vgg16-baseline")
    p.add_argument("--dataset", required=True, help="training data: dataset name or folder:PATH")
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
    p.add_argument("--out", required=True, help="checkpoint file; an unfinished one with the same settings resumes")
    p.set_defaults(func=_cmd_train)
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
