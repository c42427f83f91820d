"""Training one model for one operating point: what recipes and the planner's quick training share.

:func:`train_point` trains a learned codec's network for one knob value on a training
dataset with fixed *settings* (the same dictionary a recipe holds, :mod:`.models`):

1. the training images are at most ``max_images`` images of the dataset (evenly spaced), each
   cut to its centred ``crop x crop`` window (:func:`centre_crop`, so no single large image
   dominates); the last ``val_images`` of them are held out for validation (when at least two);
2. the autoencoders (``sscnet``, ``sscnet-linear``, ``vgg16-baseline``) train with
   :func:`.train.train_codec` (MSE, Adam with warm-up and cosine, gradient clipping), the
   rate-distortion codecs (``factorized``, ``hyperprior``, and the autoencoders with
   ``entropy=factorized``) with :func:`.rdtrain.train_rd` (``R + lambda D``);
3. the run is bounded by ``steps`` optimiser steps only (never by time), seeded, on ``threads``
   torch threads with deterministic algorithms (:func:`.device.deterministic`), on the CPU: the
   same command gives the same model, whatever the machine's speed. Progress lines go to stderr.

Quick models (no shipped or cached model for a job) use :data:`QUICK_AE` / :data:`QUICK_RD` with
``HSBENCH_QUICK_TRAIN_STEPS`` steps and are cached under ``<user cache>/hsbench/models/``
(``HSBENCH_CACHE_DIR`` moves it), keyed by a hash of everything that defines the model.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hsbench import __version__
from hsbench.codecs.learned.checkpoint import TABLE_REVISION
from hsbench.errors import DatasetError

if TYPE_CHECKING:  # pragma: no cover
    from hsbench.cube import Cube
    from hsbench.datasets import Dataset

STEPS_ENV = "HSBENCH_QUICK_TRAIN_STEPS"
CACHE_ENV = "HSBENCH_CACHE_DIR"
#: settings of quick autoencoder models (MSE: what PSNR measures; lr 5e-3 or the codec's ``quick_lr``)
QUICK_AE: dict[str, Any] = {"steps": 1000, "batch": 8, "lr": 5e-3, "loss": "mse", "warmup": 0.05, "clip": 1.0,
                            "crop": 512, "max_images": 16, "val_images": 1, "seed": 0, "threads": 1}
#: settings of quick rate-distortion models (:mod:`.rdtrain`)
QUICK_RD: dict[str, Any] = {"steps": 1000, "batch": 8, "patch": 64, "lr": 1e-3, "aux_lr": 1e-3, "warmup": 0.02,
                            "distortion": "mse", "quantise": "noise", "crop": 512, "max_images": 16,
                            "val_images": 1, "seed": 0, "threads": 1}
#: dataset options that change what an image is and so must also apply to the training images
_SHARED_OPTIONS = ("bands",)


def cache_dir() -> Path:
    """Where trained models are cached: ``$HSBENCH_CACHE_DIR`` or ``platformdirs.user_cache_dir("hsbench")``, + ``/models``."""
    root = os.environ.get(CACHE_ENV)
    if not root:
        import platformdirs

        root = platformdirs.user_cache_dir("hsbench")
    return Path(root).expanduser() / "models"


def quick_steps(default: int) -> int:
    """``HSBENCH_QUICK_TRAIN_STEPS`` (a positive integer) or ``default``."""
    text = os.environ.get(STEPS_ENV)
    if not text:
        return int(default)
    try:
        value = int(text)
    except ValueError:
        raise DatasetError(f"{STEPS_ENV}={text!r} is not an integer") from None
    if value <= 0:
        raise DatasetError(f"{STEPS_ENV} must be positive, got {text!r}")
    return value


def training_dataset(dataset: "Dataset") -> "Dataset":
    """The dataset a model for ``dataset`` trains on (its ``train_spec``), or a clear refusal."""
    from hsbench.datasets import open_dataset

    spec = getattr(dataset, "train_spec", None)
    if not spec:
        raise DatasetError(
            f"dataset {dataset.name!r} names no training split for learned codecs, and hsbench never trains "
            "on the images it evaluates. Train a model on other data (`hsbench train CODEC --dataset NAME "
            "--out CKPT`, or `hsbench train --recipe NAME`) and pass it as checkpoint=CKPT"
        )
    options = {k: v for k, v in dataset.ref.options if k in _SHARED_OPTIONS}
    return open_dataset(spec, dataset.ref.data_root, **options)


def centre_crop(cube: "Cube", size: int) -> "Cube":
    """The centred ``size x size`` window of ``cube`` (the whole cube where it is smaller).

    Balances the training set: without it one large image (``retina``, 1411 x 1411, mostly black
    border) gives 84 % of the tiles of ``samples-train``.
    """
    r0, c0 = max(0, (cube.rows - size) // 2), max(0, (cube.cols - size) // 2)
    if cube.rows <= size and cube.cols <= size:
        return cube
    return cube.with_data(np.ascontiguousarray(cube.data[:, r0 : r0 + size, c0 : c0 + size]))


def select_ids(ids: list[str], limit: int) -> list[str]:
    """At most ``limit`` of ``ids``, evenly spaced (all of them when there are few)."""
    if len(ids) <= limit:
        return ids
    step = len(ids) / limit
    return [ids[int(i * step)] for i in range(limit)]


def training_images(train_ds: "Dataset", settings: dict[str, Any]) -> tuple[list["Cube"], list["Cube"]]:
    """``(train, validation)`` cubes of ``train_ds`` under ``settings`` (module docstring, step 1)."""
    ids = select_ids(train_ds.image_ids(), int(settings["max_images"]))
    if not ids:
        raise DatasetError(f"training dataset {train_ds.name!r} has no images")
    cubes = [centre_crop(train_ds.load(i), int(settings["crop"])) for i in ids]
    n_val = int(settings.get("val_images", 1)) if len(cubes) >= 2 else 0
    n_val = min(n_val, len(cubes) - 1)
    return (cubes[: len(cubes) - n_val], cubes[len(cubes) - n_val :]) if n_val else (cubes, [])


def is_rd(codec: type, arch: dict[str, Any] | None = None) -> bool:
    """Whether ``codec`` (with architecture ``arch``) trains on ``R + lambda D``: a rate-distortion codec
    (:class:`.transform.LearnedTransformCodec`) or an autoencoder with ``entropy=factorized``."""
    from hsbench.codecs.learned.transform import LearnedTransformCodec

    return issubclass(codec, LearnedTransformCodec) or (arch or {}).get("entropy") == "factorized"


def train_point(codec: type, arch: dict[str, Any], knob_value: Any, train_ds: "Dataset", settings: dict[str, Any],
                *, recipe: str | None = None, quick: bool = False, device: str = "cpu",
                init: dict[str, Any] | None = None, validate: bool = True) -> dict[str, Any]:
    """Train ``codec`` (architecture ``arch``, knob value ``knob_value``) on ``train_ds``; the checkpoint dict.

    ``init``: a trained checkpoint to start from (rate-distortion codecs only; :func:`.rdtrain.train_rd`).
    ``validate=False`` skips the validation through the real codec (the held-out images are still
    held out): for a recipe's warm-start base model, whose figures no manifest lists.
    """
    from hsbench.codecs.learned.device import deterministic

    train, val = training_images(train_ds, settings)
    if not validate:
        val = []
    steps = int(settings["steps"])
    knob = codec.knob_for(arch)
    label = f"{codec.name} {knob.name}={knob_value:g}" if knob else codec.name
    start = "" if init is None else f", from the {init['lmbda']:g} model"
    print(f"hsbench: training {label} {arch} on {train_ds.name} ({len(train)} images, {steps} steps{start}, "
          f"{settings['threads']} thread(s), recipe {recipe or 'quick'})", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    if is_rd(codec, arch):
        from hsbench.codecs.learned.rdtrain import train_rd

        ckpt = train_rd(codec, arch, float(knob_value), train, train_spec=train_ds.ref.spec, steps=steps,
                        batch=int(settings["batch"]), patch=int(settings["patch"]), lr=float(settings["lr"]),
                        aux_lr=float(settings["aux_lr"]), warmup=float(settings["warmup"]),
                        distortion=settings["distortion"], quantise=settings["quantise"], seed=int(settings["seed"]),
                        threads=int(settings["threads"]), device=device, val_cubes=val, recipe=recipe, quick=quick,
                        progress=False, log_every=max(1, steps // 5), init=init,
                        weights=str(settings.get("weights", "float32")))
        t = ckpt["training"]
    else:
        from hsbench.codecs.learned.train import train_codec

        if init is not None:
            raise DatasetError(f"{codec.name}: warm starts are for the rate-distortion codecs only")
        if settings.get("weights", "float32") != "float32":
            raise DatasetError(f"{codec.name}: float16 weights are for the rate-distortion codecs only; "
                               "leave `weights` out of this recipe's settings")
        lr = float(settings["lr"]) if codec.quick_lr is None or recipe else float(codec.quick_lr)
        with deterministic(int(settings["threads"])):
            ckpt = train_codec(codec, arch, train, train_spec=train_ds.ref.spec, epochs=1_000_000,
                               batch=int(settings["batch"]), lr=lr, loss=settings["loss"],
                               warmup=float(settings["warmup"]), clip=settings["clip"], val_cubes=val or None,
                               seed=int(settings["seed"]), device=device, out=None, max_steps=steps, quick=quick,
                               progress=sys.stderr.isatty())
        t = ckpt["training"]
        t["recipe"] = recipe
    figures = (f"validation PSNR {t['val_psnr']:.2f} dB" + (f", {t['val_bpppc']:.3f} bpppc" if "val_bpppc" in t else "")
               if "val_psnr" in t else "not validated")
    print(f"hsbench: trained {label} in {time.perf_counter() - t0:.0f} s: {figures}", file=sys.stderr, flush=True)
    return ckpt


def model_digest(key: dict[str, Any]) -> str:
    """16-hex-digit hash of a model's defining settings (cache file names)."""
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:16]


def quick_model(codec: type, arch: dict[str, Any], knob_value: Any, train_ds: "Dataset", device: str = "cpu") -> tuple[str, str]:
    """``(path, source)`` of the cached quick model for one point, trained now (``"trained"``) if absent."""
    from hsbench.codecs.learned.checkpoint import save_checkpoint

    settings = {**(QUICK_RD if is_rd(codec, arch) else QUICK_AE), **getattr(codec, "quick_settings", {})}
    if is_rd(codec, arch) and "tile" in arch and settings["patch"] % int(arch["tile"]):
        settings["patch"] = int(arch["tile"])  # networks of a fixed tile train on whole tiles
    settings["steps"] = quick_steps(settings["steps"])
    key = {
        "codec": codec.name, "codec_version": codec.version, "network_revision": getattr(codec, "network_revision", 1),
        "arch": arch, "knob": knob_value, "settings": settings,
        "train": {"spec": train_ds.ref.spec, "options": list(train_ds.ref.options), "ids": train_ds.image_ids(),
                  "info": train_ds.info()},
        "hsbench": __version__, "table_revision": TABLE_REVISION,
    }
    path = cache_dir() / f"{codec.name}-{model_digest(key)}.pt"
    if path.is_file():
        return str(path), "cache"
    ckpt = train_point(codec, arch, knob_value, train_ds, settings, quick=True, device=device)
    save_checkpoint(ckpt, path)  # only a finished model lands in the cache
    return str(path), "trained"
