"""Quick-trained models for runs without a checkpoint, cached per configuration and training data.

``hsbench run`` calls ``LearnedCodec.prepare(params, dataset)`` once per parameter
set. Without a checkpoint, :func:`quick_checkpoint`:

1. takes the training images from ``dataset.train_spec`` (Kodak trains on
   ``samples``, ...), never from the evaluated images; a dataset that names no
   training split is refused with a message saying what to do;
2. checks they have the evaluated data's band count and sample type (each job then
   checks that its image's bit depth is one the model was trained on);
3. holds the last of those images out for validation (when there are at least two) and
   trains the codec's reduced default architecture (``tile`` / ``width`` / ``latent``
   params) on the others for at most ``HSBENCH_QUICK_TRAIN_STEPS`` optimiser steps
   (default 2000) and at most ``HSBENCH_QUICK_TRAIN_SECONDS`` seconds (default 12; on a
   quiet CPU the time bound is the one reached), on at most ``HSBENCH_QUICK_TRAIN_IMAGES``
   images (default 16, evenly spaced), each cut to its centred 512 x 512 window
   (:func:`centre_crop`, so no single large image dominates). The recipe is tuned for
   a short budget, not the paper's (``hsbench train`` keeps the paper's BCE, lr 1e-4,
   cosine): mean squared error (what PSNR measures; in development runs at 1500 steps it
   gave about +0.5 to 0.7 dB over BCE on held-out photographs, not reproduced by a test),
   batch 8, Adam at lr 5e-3 (or the codec's ``quick_lr``) with a linear warm-up
   over the first 5 % of the run, then cosine annealing to 0 at the step or the time
   bound, whichever comes first, gradient norm clipped to 1, seed 0, on
   ``HSBENCH_QUICK_TRAIN_THREADS`` torch threads (default 1: these networks are too small
   to gain from more, on a busy machine two threads were seen to run far slower than one, and results
   then depend on the thread count; the process's setting is restored afterwards). The
   checkpoint records the loss, and its ``val_psnr`` is the PSNR of the held-out image(s)
   exactly as the benchmark computes it (``10 log10(P^2 / MSE)`` over all their samples,
   original units, nominal peak), so the progress bar no longer overstates the quality;
4. saves it under ``<user cache>/hsbench/models/<codec>-<hash>.pt`` (``HSBENCH_CACHE_DIR``
   overrides the folder), the hash covering the architecture, training settings and
   budget, the training dataset (spec, image ids, ``info()``) and the hsbench version,
   so the second run with the same settings reuses it at once.

Rows of such models carry ``quick_trained = True``: they show that the pipeline
works and how the rate is counted, not the quality of a fully trained model. A time
bound makes the model depend on the machine's speed; for a reproducible model set
``HSBENCH_QUICK_TRAIN_SECONDS`` high and bound by ``HSBENCH_QUICK_TRAIN_STEPS``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np

from hsbench import __version__
from hsbench.errors import DatasetError

if TYPE_CHECKING:  # pragma: no cover
    from hsbench.codecs.learned.base import LearnedCodec
    from hsbench.cube import Cube
    from hsbench.datasets import Dataset

log = logging.getLogger(__name__)

SECONDS_ENV = "HSBENCH_QUICK_TRAIN_SECONDS"
STEPS_ENV = "HSBENCH_QUICK_TRAIN_STEPS"
IMAGES_ENV = "HSBENCH_QUICK_TRAIN_IMAGES"
THREADS_ENV = "HSBENCH_QUICK_TRAIN_THREADS"
CACHE_ENV = "HSBENCH_CACHE_DIR"
DEFAULT_SECONDS = 12.0
DEFAULT_STEPS = 2000
DEFAULT_IMAGES = 16
DEFAULT_THREADS = 1
QUICK_BATCH = 8
QUICK_LR = 5e-3
QUICK_LOSS = "mse"
QUICK_WARMUP = 0.05  # fraction of the run (steps or seconds, whichever ends it first)
QUICK_CLIP = 1.0
#: training images larger than this are cut to their centred QUICK_CROP x QUICK_CROP window
QUICK_CROP = 512
QUICK_SEED = 0
#: dataset options that change what an image is and so must also apply to the training images
_SHARED_OPTIONS = ("bands",)


def cache_dir() -> Path:
    """Where quick models are cached: ``$HSBENCH_CACHE_DIR`` or ``platformdirs.user_cache_dir("hsbench")``, + ``/models``."""
    root = os.environ.get(CACHE_ENV)
    if not root:
        import platformdirs

        root = platformdirs.user_cache_dir("hsbench")
    return Path(root).expanduser() / "models"


def _env_number(name: str, default: float, kind: type = float) -> Any:
    text = os.environ.get(name)
    if not text:
        return kind(default)
    try:
        value = kind(text)
    except ValueError:
        raise DatasetError(f"{name}={text!r} is not a number") from None
    if value <= 0:
        raise DatasetError(f"{name} must be positive, got {text!r}")
    return value


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the body with ``torch.set_num_threads(n)`` and restore the previous count afterwards."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def training_dataset(dataset: "Dataset") -> "Dataset":
    """The dataset a quick model of ``dataset`` trains on (its ``train_spec``), or a clear refusal."""
    from hsbench.datasets import open_dataset

    spec = getattr(dataset, "train_spec", None)
    if not spec:
        raise DatasetError(
            f"dataset {dataset.name!r} names no training split for learned codecs, and hsbench never trains "
            "on the images it evaluates. Train a model on other data with `hsbench train CODEC --dataset "
            "NAME --out CKPT` and pass it as checkpoint=CKPT"
        )
    options = {k: v for k, v in dataset.ref.options if k in _SHARED_OPTIONS}
    return open_dataset(spec, dataset.ref.data_root, **options)


def centre_crop(cube: "Cube", size: int) -> "Cube":
    """The centred ``size x size`` window of ``cube`` (the whole cube where it is smaller).

    Balances the quick training set: without it one large image (``retina``, 1411 x 1411, mostly
    black border) gives 84 % of the tiles of ``samples-train``; with it each image gives at most
    ``(size / T)^2`` tiles (in a development run, about +1 dB on held-out photographs at the same step
    count; not reproduced by a test).
    """
    r0, c0 = max(0, (cube.rows - size) // 2), max(0, (cube.cols - size) // 2)
    if cube.rows <= size and cube.cols <= size:
        return cube
    return cube.with_data(np.ascontiguousarray(cube.data[:, r0 : r0 + size, c0 : c0 + size]))


def _select(ids: list[str], limit: int) -> list[str]:
    if len(ids) <= limit:
        return ids
    step = len(ids) / limit
    return [ids[int(i * step)] for i in range(limit)]


def quick_checkpoint(codec: "type[LearnedCodec]", params: dict[str, Any], dataset: "Dataset") -> dict[str, Any]:
    """Find or train the cached quick model for ``params`` on ``dataset``'s training split; return params with it."""
    from hsbench.codecs.learned.checkpoint import save_checkpoint
    from hsbench.codecs.learned.train import train_codec

    train_ds = training_dataset(dataset)
    ids = _select(train_ds.image_ids(), _env_number(IMAGES_ENV, DEFAULT_IMAGES, int))
    if not ids:
        raise DatasetError(f"training dataset {train_ds.name!r} of {dataset.name!r} has no images")
    probe_train = train_ds.load(ids[0])
    eval_ids = dataset.image_ids()
    if eval_ids:
        probe_eval = dataset.load(eval_ids[0])
        if probe_eval.bands != probe_train.bands or probe_eval.is_float != probe_train.is_float:
            raise DatasetError(
                f"{codec.name}: the training split {train_ds.name!r} of {dataset.name!r} has "
                f"{probe_train.bands} bands of {probe_train.dtype}, the evaluated images "
                f"{probe_eval.bands} bands of {probe_eval.dtype}; give a checkpoint trained on "
                "matching data"
            )
    arch = codec.arch_from_params(params, probe_train.bands)
    steps = _env_number(STEPS_ENV, DEFAULT_STEPS, int)
    seconds = _env_number(SECONDS_ENV, DEFAULT_SECONDS, float)
    lr = QUICK_LR if codec.quick_lr is None else float(codec.quick_lr)
    key = {
        "codec": codec.name,
        "codec_version": codec.version,
        "network_revision": codec.network_revision,
        "arch": arch,
        "steps": steps,
        "seconds": seconds,
        "batch": QUICK_BATCH,
        "lr": lr,
        "loss": QUICK_LOSS,
        "warmup": QUICK_WARMUP,
        "clip": QUICK_CLIP,
        "crop": QUICK_CROP,
        "seed": QUICK_SEED,
        "train": {"spec": train_ds.ref.spec, "options": list(train_ds.ref.options), "ids": ids,
                  "info": train_ds.info()},
        "hsbench": __version__,
    }  # fmt: skip
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:16]
    path = cache_dir() / f"{codec.name}-{digest}.pt"
    if not path.is_file():
        log.info("quick-training %s %s on %s for at most %s s (cache: %s)", codec.name, arch, train_ds.name, seconds, path)
        cubes = [centre_crop(c, QUICK_CROP) for c in [probe_train] + [train_ds.load(i) for i in ids[1:]]]
        train_cubes, val_cubes = (cubes[:-1], cubes[-1:]) if len(cubes) >= 2 else (cubes, None)
        with torch_threads(_env_number(THREADS_ENV, DEFAULT_THREADS, int)):
            ckpt = train_codec(
                codec,
                arch,
                train_cubes,
                train_spec=train_ds.ref.spec,
                epochs=10_000,
                batch=QUICK_BATCH,
                lr=lr,
                loss=QUICK_LOSS,
                warmup=QUICK_WARMUP,
                clip=QUICK_CLIP,
                val_cubes=val_cubes,
                seed=QUICK_SEED,
                device=str(params.get("device", "auto")),
                out=None,
                max_steps=steps,
                max_seconds=seconds,
                quick=True,
                progress=sys.stderr.isatty(),  # no bar in logs and captured output
            )
        save_checkpoint(ckpt, path)  # only a finished model lands in the cache
    return {**params, "checkpoint": str(path), "quick_trained": True, **{k: arch[k] for k in codec.arch_params}}
