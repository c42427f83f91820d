"""Training of the learned codecs (``hsbench train`` and the quick models of ``hsbench run``).

The recipe is the SSCNet paper's (seed 001, section 2 and Algorithm 1): inputs
normalised per band to ``[0, 1]`` with the training set's min / max (in units of each
image's nominal peak, so one model may learn 12- and 16-bit data: :mod:`.checkpoint`), cut into
``T x T`` tiles (section 3.2), binary cross-entropy between the sigmoid output
and the input (equation 1; mean squared error as an option, as the HySpecNet-11k
reimplementations use), Adam with learning rate 1e-4 (Kingma and Ba 2014),
cosine annealing of the learning rate to 0 over the run (Loshchilov and Hutter,
SGDR, 2017), tiles visited in a random order each epoch.

A fixed ``seed`` fixes the initial weights, the train / validation split of the
tiles and the order of every epoch, so the same call gives the same model on the
CPU (with the same torch thread count, and unless ``max_seconds`` ends the run). After
every epoch the state (weights, optimiser, epoch, step) is saved atomically to ``out``;
calling again with the same settings resumes from there and ends with the same weights
as an uninterrupted run. The learning rate follows :func:`lr_factor` (optional linear
warm-up, then cosine), set at every step from the step count, so resuming needs no
scheduler state; ``clip`` bounds the gradient norm (``torch.nn.utils.clip_grad_norm_``).

Validation PSNR, shown in the progress bar and stored in the checkpoint, is computed
the way the benchmark computes PSNR (``10 log10(P^2 / MSE)``, SPEC section 1) with the
MSE pooled over the whole validation set in units of the nominal peak ``P``: on whole
held-out images (``val_cubes``) through the codec's own path (:func:`.base.forward_cube`,
unquantised latent), or, without them, on a random tenth of the tiles (an estimate:
those tiles come from the training images).
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from hsbench import __version__
from hsbench.codecs.learned import checkpoint as ckpt_io
from hsbench.codecs.learned.base import LearnedCodec, normalised_tiles
from hsbench.codecs.learned.device import resolve_device
from hsbench.cube import Cube
from hsbench.errors import CodecParameterError, DatasetError, HsbenchError

#: the settings that must agree for a saved run to be resumed
#: tiles per forward pass when validating (no gradients, so larger batches than training are cheap)
_VAL_BATCH = 64
_RESUME_KEYS = ("codec", "arch", "loss", "lr", "batch", "epochs", "seed", "max_steps", "val_fraction", "warmup", "clip")


def training_tiles(cubes: Sequence[Cube], tile_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Normalised ``(N, B, T, T)`` float32 tiles of ``cubes`` and the per-band ``(low, high)`` used."""
    if not cubes:
        raise DatasetError("no training images")
    first = cubes[0]
    for c in cubes[1:]:
        if c.bands != first.bands or c.is_float != first.is_float:
            raise DatasetError(
                f"training images differ: {first.name!r} is {first.bands} bands {first.dtype}, "
                f"{c.name!r} is {c.bands} bands {c.dtype}; train one model per kind of data"
            )
    scales = [ckpt_io.peak_scale(c.bit_depth, c.is_float) for c in cubes]  # type: ignore[arg-type]
    low, high = ckpt_io.band_range([c.data / s for c, s in zip(cubes, scales)])
    tiles = np.concatenate([normalised_tiles(c, low, high, tile_size) for c in cubes], axis=0)
    return tiles, low, high


def describe_training_data(spec: str, cubes: Sequence[Cube], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``data`` entry of a checkpoint: spec, ids, SHA-256s, bands, bit depths and dtypes of the images."""
    first = cubes[0]
    return {
        "spec": spec,
        "images": [c.name for c in cubes],
        "sha256": [c.sha256() for c in cubes],
        "bands": first.bands,
        "bit_depths": sorted({int(c.bit_depth) for c in cubes}),  # type: ignore[arg-type]
        "dtypes": sorted({str(c.dtype) for c in cubes}),
        "float": bool(first.is_float),
        **(extra or {}),
    }


def _psnr_tiles(model: Any, tiles: np.ndarray, span: np.ndarray, batch: int, device: Any) -> float:
    """PSNR of held-out normalised tiles, in units of the nominal peak, over the whole set.

    A normalised error ``e_n`` in band ``b`` is ``e_n (max_b - min_b)`` peak units
    (:func:`.checkpoint.denormalise`), so ``PSNR = 10 log10(1 / mean((e_n span_b)^2))``: the benchmark's
    ``10 log10(P^2 / MSE)`` (SPEC section 1) before rounding, pooled over all tiles (not a mean of
    per-tile PSNRs, which dark tiles inflate).
    """
    import torch

    total, count = 0.0, 0
    scale = torch.as_tensor(np.where(span > 0, span, 1.0), dtype=torch.float32, device=device)[None, :, None, None]
    model.eval()
    with torch.inference_mode():
        for i in range(0, tiles.shape[0], batch):
            x = torch.from_numpy(tiles[i : i + batch]).to(device)
            y = model["decoder"](model["encoder"](x))
            total += float((((y - x) * scale) ** 2).double().sum())
            count += x.numel()
    model.train()
    return _psnr_of_mse(total / max(count, 1))


def _psnr_images(model: Any, cubes: Sequence[Cube], tile_size: int, low: np.ndarray, high: np.ndarray,
                 batch: int, device: Any) -> float:
    """PSNR of held-out images as the benchmark measures it (SPEC section 1), pooled over the images.

    Each image goes through :func:`.base.forward_cube` (the codec's path with an unquantised latent,
    rounded to the image's integer type) and ``PSNR = 10 log10(1 / MSE_P)`` with ``MSE_P`` the mean
    of ``((x - x^) / P)^2`` over every sample of every image, ``P`` each image's nominal peak
    (:attr:`hsbench.cube.Cube.peak`). For one image, or images of one bit depth, this is exactly
    ``hsbench.metrics.psnr`` of the reconstruction.
    """
    from hsbench.codecs.learned.base import forward_cube
    from hsbench.metrics import mse

    total, count = 0.0, 0
    for cube in cubes:
        rec = forward_cube(model, tile_size, low, high, cube, batch, device)
        total += mse(cube.data, rec) / float(cube.peak) ** 2 * cube.num_samples
        count += cube.num_samples
    return _psnr_of_mse(total / max(count, 1))


def _psnr_of_mse(value: float) -> float:
    """``10 log10(1 / MSE)`` for an MSE in peak units (infinite for a perfect reconstruction)."""
    return float("inf") if value <= 0 else float(10 * math.log10(1.0 / value))


def train_codec(
    codec: type[LearnedCodec],
    arch: dict[str, Any],
    cubes: Sequence[Cube],
    *,
    train_spec: str,
    epochs: int = 10,
    batch: int = 32,
    lr: float = 1e-4,
    loss: str = "bce",
    seed: int = 0,
    device: str = "auto",
    out: str | os.PathLike[str] | None = None,
    max_steps: int | None = None,
    max_seconds: float | None = None,
    val_fraction: float = 0.1,
    warmup: float = 0.0,
    clip: float | None = None,
    val_cubes: Sequence[Cube] | None = None,
    quick: bool = False,
    progress: bool = True,
    data_extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train ``codec``'s network with architecture ``arch`` on ``cubes``; return (and save to ``out``) the checkpoint.

    ``max_steps`` caps the optimiser steps (the cosine schedule then spans them);
    ``max_seconds`` stops early at a step boundary (recorded as ``stopped_by_time``) and the
    schedule then also runs on the elapsed fraction of the time (:func:`lr_factor`).
    ``warmup`` is the warm-up fraction of the run, ``clip`` the gradient-norm bound (None: off).
    ``val_cubes`` are whole held-out images for the validation PSNR (then every tile of ``cubes``
    trains); without them a ``val_fraction`` of the tiles is held out instead.
    An existing ``out`` with the same settings is resumed; one with other settings is refused.
    """
    import torch
    import torch.nn.functional as F
    from tqdm.auto import tqdm

    if loss not in ("bce", "mse"):
        raise CodecParameterError(f"loss must be 'bce' or 'mse', got {loss!r}")
    if epochs < 1 or batch < 1:
        raise CodecParameterError("epochs and batch must be at least 1")
    codec.check_arch(arch)
    tiles, low, high = training_tiles(cubes, int(arch["tile"]))
    if tiles.shape[1] != int(arch["bands"]):
        raise DatasetError(f"architecture has {arch['bands']} bands, the training images {tiles.shape[1]}")
    dev = resolve_device(device)

    rng = np.random.default_rng(seed)
    order = rng.permutation(tiles.shape[0])
    if val_cubes:
        n_val = 0  # validation on whole held-out images; every tile of ``cubes`` trains
        val_tiles = tiles[:0]
        for c in val_cubes:
            if c.bands != tiles.shape[1]:
                raise DatasetError(f"validation image {c.name!r} has {c.bands} bands, the training images {tiles.shape[1]}")
    else:
        n_val = int(round(tiles.shape[0] * val_fraction)) if tiles.shape[0] >= 10 else 0
        val_tiles = tiles[order[:n_val]] if n_val else tiles[order[: min(8, len(order))]]
    train_tiles = tiles[order[n_val:]]
    steps_per_epoch = math.ceil(train_tiles.shape[0] / batch)
    total_steps = epochs * steps_per_epoch if max_steps is None else min(max_steps, epochs * steps_per_epoch)

    settings = {
        "codec": codec.name,
        "arch": dict(arch),
        "loss": loss,
        "lr": float(lr),
        "batch": int(batch),
        "epochs": int(epochs),
        "seed": int(seed),
        "max_steps": None if max_steps is None else int(max_steps),
        "val_fraction": float(val_fraction),
        "warmup": float(warmup),
        "clip": None if clip is None else float(clip),
    }
    data = describe_training_data(train_spec, cubes, data_extra)

    torch.manual_seed(seed)
    net = codec.build_network(arch).to(dev)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    start_epoch, step, history = 0, 0, []
    if out is not None and Path(out).is_file():
        prev = ckpt_io.load_checkpoint(out)
        prev_settings = prev.get("training", {}).get("settings", {})
        if prev_settings != settings or prev.get("data", {}).get("sha256") != data["sha256"]:
            raise HsbenchError(
                f"{out} holds a checkpoint trained with other settings or data; choose another --out "
                "or delete it to start again"
            )
        if prev["training"].get("finished"):
            return prev
        net.load_state_dict(prev["state_dict"])
        opt.load_state_dict(prev["resume"]["optimizer"])
        start_epoch = int(prev["training"]["epochs_done"])
        step = int(prev["training"]["steps"])
        history = list(prev["training"].get("history", []))

    loss_fn = F.binary_cross_entropy if loss == "bce" else F.mse_loss
    t0 = time.perf_counter()
    stopped_by_time = False
    val_psnr = float("nan")
    bar = tqdm(
        total=total_steps, initial=step, disable=not progress, desc=f"train {codec.name}", unit="step", leave=False
    )
    net.train()
    epoch = start_epoch
    train_loss = float("nan")
    ckpt: dict[str, Any] | None = None
    try:
        while epoch < epochs and step < total_steps and not stopped_by_time:
            perm = np.random.default_rng([seed, epoch]).permutation(train_tiles.shape[0])
            torch.manual_seed(seed * 100_003 + epoch)  # dropout masks: same per epoch on resume
            running, seen = 0.0, 0
            for i in range(0, len(perm), batch):
                if step >= total_steps:
                    break
                progress = step / max(total_steps, 1)
                if max_seconds is not None:
                    progress = max(progress, (time.perf_counter() - t0) / max_seconds)
                for group in opt.param_groups:
                    group["lr"] = lr * lr_factor(progress, warmup)
                x = torch.from_numpy(train_tiles[np.sort(perm[i : i + batch])]).to(dev)
                y = net["decoder"](net["encoder"](x))
                value = loss_fn(y, x)
                opt.zero_grad(set_to_none=True)
                value.backward()
                if clip is not None:
                    torch.nn.utils.clip_grad_norm_(net.parameters(), clip)
                opt.step()
                step += 1
                running += float(value.detach()) * x.shape[0]
                seen += x.shape[0]
                bar.update(1)
                bar.set_postfix(loss=f"{running / seen:.4g}", val_psnr="-" if math.isnan(val_psnr) else f"{val_psnr:.2f}")
                if max_seconds is not None and time.perf_counter() - t0 > max_seconds:
                    stopped_by_time = True
                    break
            epoch += 1
            train_loss = running / max(seen, 1)
            if val_cubes:
                val_psnr = _psnr_images(net, val_cubes, int(arch["tile"]), low, high, max(batch, _VAL_BATCH), dev)
            else:
                val_psnr = _psnr_tiles(net, val_tiles, high - low, max(batch, _VAL_BATCH), dev)
            history.append({"epoch": epoch, "steps": step, "loss": train_loss, "val_psnr": val_psnr})
            bar.set_postfix(loss=f"{train_loss:.4g}", val_psnr=f"{val_psnr:.2f}")
            finished = epoch >= epochs or step >= total_steps or stopped_by_time
            ckpt = _checkpoint(codec, arch, net, opt, low, high, data, settings, finished)
            ckpt["training"].update(
                epochs_done=epoch,
                steps=step,
                total_steps=total_steps,
                train_loss=train_loss,
                val_psnr=val_psnr,
                val_tiles=int(val_tiles.shape[0]),
                val_images=[c.name for c in val_cubes or ()],
                val_held_out=bool(n_val or val_cubes),
                train_tiles=int(train_tiles.shape[0]),
                stopped_by_time=stopped_by_time,
                seconds=time.perf_counter() - t0,
                device=str(dev),
                quick=quick,
                history=history,
            )
            if out is not None:
                ckpt_io.save_checkpoint(ckpt, out)
    finally:
        bar.close()
    if ckpt is None:  # nothing left to do (e.g. total_steps already reached)
        raise HsbenchError(f"training of {codec.name} made no step: no training tiles or max_steps=0")
    return ckpt


def lr_factor(progress: float, warmup: float = 0.0) -> float:
    """Learning-rate multiplier at ``progress`` (0..1) of a run: linear warm-up, then cosine annealing to 0.

    ``f(p) = p / w`` for ``p < w`` (warm-up over the fraction ``w`` of the run; Goyal et al.,
    "Accurate, large minibatch SGD", 2017), else ``(1 + cos(pi (p - w) / (1 - w))) / 2`` (Loshchilov
    and Hutter, SGDR, ICLR 2017). With ``w = 0`` and ``p = step / total_steps`` this is
    ``CosineAnnealingLR(T_max=total_steps, eta_min=0)``. Quick training measures ``p`` as the larger of
    the step and the time fractions, so the schedule completes within a time budget too.
    """
    p = min(max(progress, 0.0), 1.0)
    if warmup > 0 and p < warmup:
        return max(p / warmup, 1e-3)
    return 0.5 * (1.0 + math.cos(math.pi * (p - warmup) / max(1.0 - warmup, 1e-12)))


def _checkpoint(
    codec: type[LearnedCodec],
    arch: dict[str, Any],
    net: Any,
    opt: Any,
    low: np.ndarray,
    high: np.ndarray,
    data: dict[str, Any],
    settings: dict[str, Any],
    finished: bool,
) -> dict[str, Any]:
    state = {k: v.detach().to("cpu").clone() for k, v in net.state_dict().items()}
    ckpt: dict[str, Any] = {
        "format": ckpt_io.FORMAT,
        "format_version": ckpt_io.FORMAT_VERSION,
        "codec": codec.name,
        "arch": dict(arch),
        "state_dict": state,
        "normalisation": {"low": [float(v) for v in low], "high": [float(v) for v in high]},
        "data": data,
        "training": {"settings": settings, "finished": finished, **settings},
        "hsbench_version": __version__,
    }
    if not finished:  # optimiser state doubles the file; it is only needed to resume
        ckpt["resume"] = {"optimizer": _to_cpu(opt.state_dict())}
    return ckpt


def _to_cpu(obj: Any) -> Any:
    import torch

    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu")
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_cpu(v) for v in obj)
    return obj


def train_command(
    codec_name: str,
    dataset_spec: str,
    out: str | os.PathLike[str],
    *,
    data_root: str | None = None,
    split: str | None = None,
    max_images: int | None = None,
    paper: bool = False,
    arch_overrides: dict[str, int | None] | None = None,
    **train_options: Any,
) -> dict[str, Any]:
    """``hsbench train``: build the architecture, load the training images, train, save to ``out``.

    The architecture is the codec's quick default, or the paper's with ``paper=True``;
    ``arch_overrides`` (latent, tile, width, fc) change single entries. ``split`` is passed to
    the dataset (``split="train"``) where the dataset defines splits.
    """
    from hsbench.codecs.registry import get_codec
    from hsbench.datasets import open_dataset

    codec = get_codec(codec_name)
    if not (isinstance(codec, type) and issubclass(codec, LearnedCodec)):
        raise CodecParameterError(f"`hsbench train {codec_name}` trains the autoencoders sscnet, sscnet-linear and "
                                  "vgg16-baseline; rate-distortion codecs (factorized, hyperprior) train from a recipe: "
                                  "`hsbench train --recipe NAME` (list: `hsbench models --recipes`)")  # fmt: skip
    codec.check_available()
    options = {"split": split} if split else {}
    dataset = open_dataset(dataset_spec, data_root, **options)
    ids = dataset.image_ids()
    if max_images is not None:
        ids = ids[:max_images]
    if not ids:
        raise DatasetError(f"dataset {dataset.name!r} has no images to train on")
    cubes = [dataset.load(i) for i in ids]
    bands = cubes[0].bands
    overrides = {k: v for k, v in (arch_overrides or {}).items() if v is not None}
    if paper:
        arch = codec.paper_arch(bands, overrides.get("latent"))
        arch.update(overrides)
    else:
        arch = codec.arch_from_params({**codec.params, **overrides}, bands)
    unknown = set(overrides) - set(codec.arch_params)
    if unknown:
        raise CodecParameterError(f"{codec.name} has no architecture parameter {', '.join(sorted(unknown))}")
    codec.check_arch(arch)
    spec = dataset_spec + (f"[split={split}]" if split else "")
    return train_codec(codec, arch, cubes, train_spec=spec, out=out, **train_options)
