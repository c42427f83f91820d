"""Training of the rate-distortion codecs (``factorized``, ``hyperprior``, the seed systems and the SSCNet
autoencoders with ``entropy=factorized``): ``R + lambda D``, bounded by steps.

Loss (Ballé et al. 2018, eq. 3 / 13; the convention CompressAI's published lambdas use)::

    L = R + lambda * D,    R = sum(-log2 p(y~)) / (n P^2)        (bits per pixel of a cluster patch)
                           D = 255^2 * mean((x^ - x)^2)           ("mse", on the [0, 1]-scaled data)
                           D = 1 - MS-SSIM(x^, x)                 ("ms-ssim", Wang et al. 2003)

over batches of ``n`` random ``P x P`` patches of random band clusters of the training images, each
image scaled per band by its own min / max exactly as the codec does (:func:`.transform.scale_bands`).
``y~ = y + U(-1/2, 1/2)`` (``quantise="noise"``) or, with ``quantise="ste"``, rounding with a
straight-through gradient for the decoder while the rate still sees the noise. Adam on the network
(lr with linear warm-up and cosine decay, :func:`.train.lr_factor`), a second Adam (lr 1e-3) on the
factorized priors' quantiles for the auxiliary loss, gradient norm clipped to 1 (CompressAI's
example recipe). A larger lambda weighs distortion more, so the rate of the trained model rises.

Determinism: a run is bounded by ``steps`` (never by time), seeded (weights, patch positions,
noise), on a fixed number of CPU threads with ``torch.use_deterministic_algorithms(True)``: the same
call gives the same weights on the same software stack. At the end the integer coding tables are
built (``update()``), and the model is validated through the real codec (real bytes, benchmark PSNR)
on the held-out images.
"""

from __future__ import annotations

import math
import sys
import time
from typing import Any, Sequence

import numpy as np

from hsbench import __version__
from hsbench.codecs.learned import checkpoint as ckpt_io
from hsbench.codecs.learned.device import deterministic
from hsbench.cube import Cube
from hsbench.errors import CodecParameterError, DatasetError

DISTORTIONS = ("mse", "ms-ssim")
QUANTISERS = ("noise", "ste")
#: MS-SSIM weights of the five scales (Wang, Simoncelli, Bovik 2003, section 3.1)
_MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def ms_ssim(x: Any, y: Any, scales: int | None = None) -> Any:
    """Multi-scale SSIM of batches in ``[0, 1]`` (Wang et al. 2003; 11-tap Gaussian window, sigma 1.5).

    ``scales`` defaults to as many of the five as the patch size allows (each halves the size and
    the window needs 11 pixels); the weights are renormalised over the scales used.
    """
    import torch
    import torch.nn.functional as F

    size = min(x.shape[-2:])
    if scales is None:
        scales = max(1, min(5, 1 + int(math.floor(math.log2(size / 11)))))
    weights = torch.tensor(_MS_SSIM_WEIGHTS[:scales], dtype=x.dtype, device=x.device)
    weights = weights / weights.sum()
    g = torch.exp(-((torch.arange(11, dtype=x.dtype, device=x.device) - 5) ** 2) / (2 * 1.5**2))
    g = g / g.sum()
    c = x.shape[1]
    win_h = g.reshape(1, 1, 1, 11).repeat(c, 1, 1, 1)
    win_v = g.reshape(1, 1, 11, 1).repeat(c, 1, 1, 1)

    def blur(t: Any) -> Any:
        return F.conv2d(F.conv2d(t, win_h, groups=c), win_v, groups=c)

    c1, c2 = 0.01**2, 0.03**2
    values = []
    for i in range(scales):
        mx, my = blur(x), blur(y)
        sxx, syy, sxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
        cs = (2 * sxy + c2) / (sxx + syy + c2)
        if i == scales - 1:
            values.append(torch.relu(((2 * mx * my + c1) / (mx * mx + my * my + c1) * cs).mean(dim=(1, 2, 3))))
        else:
            values.append(torch.relu(cs.mean(dim=(1, 2, 3))))
            x, y = F.avg_pool2d(x, 2), F.avg_pool2d(y, 2)
    stack = torch.stack(values, dim=0)  # (scales, batch)
    return torch.prod(stack ** weights[:, None], dim=0).mean()


class PatchSampler:
    """Seeded random ``P x P`` patches of random band clusters of scaled training images."""

    def __init__(self, cubes: Sequence[Cube], cluster: int, patch: int, seed: int) -> None:
        from hsbench.codecs.learned.transform import band_scaling, clusters, scale_bands

        if not cubes:
            raise DatasetError("no training images")
        self.groups: list[np.ndarray] = []
        for cube in cubes:
            lo, hi = band_scaling(cube.data)
            g = clusters(scale_bands(cube.data, lo, hi), cluster)
            pad_r, pad_c = max(0, patch - cube.rows), max(0, patch - cube.cols)
            if pad_r or pad_c:
                g = np.pad(g, ((0, 0), (0, 0), (0, pad_r), (0, pad_c)), mode="edge")
            self.groups.append(g)
        self.patch = int(patch)
        weights = np.array([g.shape[0] * g.shape[2] * g.shape[3] for g in self.groups], dtype=np.float64)
        self.weights = weights / weights.sum()
        self.rng = np.random.default_rng(seed)

    def batch(self, n: int) -> np.ndarray:
        """``(n, cluster, P, P)`` float32 patches."""
        out = []
        p = self.patch
        for i in self.rng.choice(len(self.groups), size=n, p=self.weights):
            g = self.groups[int(i)]
            k = int(self.rng.integers(g.shape[0]))
            r = int(self.rng.integers(g.shape[2] - p + 1))
            c = int(self.rng.integers(g.shape[3] - p + 1))
            patch = g[k, :, r : r + p, c : c + p]
            if self.rng.random() < 0.5:  # horizontal flip: cheap augmentation of a small set
                patch = patch[:, :, ::-1]
            out.append(patch)
        return np.ascontiguousarray(np.stack(out), dtype=np.float32)


def rd_loss(model: Any, x: Any, lmbda: float, distortion: str, quantise: str) -> tuple[Any, float, float]:
    """``(loss, bpp, D)`` of one batch (module docstring)."""
    import torch
    import torch.nn.functional as F

    x_hat, likelihoods = model(x, quantise)
    pixels = x.shape[0] * x.shape[2] * x.shape[3]
    bpp = sum(-torch.log2(v).sum() for v in likelihoods.values()) / pixels
    if distortion == "mse":
        d = 255.0**2 * F.mse_loss(x_hat, x)
    else:
        d = 1.0 - ms_ssim(torch.clamp(x_hat, 0, 1), x)
    return bpp + lmbda * d + model.extra_loss(x, lmbda), float(bpp.detach()), float(d.detach())


def train_rd(
    codec: Any,
    arch: dict[str, Any],
    lmbda: float,
    cubes: Sequence[Cube],
    *,
    train_spec: str,
    steps: int,
    batch: int = 8,
    patch: int = 64,
    lr: float = 1e-3,
    aux_lr: float = 1e-3,
    warmup: float = 0.02,
    distortion: str = "mse",
    quantise: str = "noise",
    seed: int = 0,
    threads: int = 1,
    device: str = "cpu",
    val_cubes: Sequence[Cube] | None = None,
    recipe: str | None = None,
    quick: bool = False,
    progress: bool = True,
    log_every: int = 0,
    init: dict[str, Any] | None = None,
    weights: str = "float32",
) -> dict[str, Any]:
    """Train ``codec``'s network ``arch`` at ``lmbda`` for ``steps`` steps; return the checkpoint dict.

    ``weights="float16"`` exports a half-size checkpoint: the trained model is rounded to float16
    before its coding tables are built and it is validated (:func:`.checkpoint.round_weights`).

    ``init`` (a checkpoint dict of the same codec and architecture) starts from its weights instead
    of a random initialisation: a recipe's *warm start*, fine-tuning one trained point to another
    lambda (as CompressAI-style training schedules do), recorded as ``training.init_from``.

    ``log_every > 0`` prints a progress line every that many steps to stderr (training from
    ``hsbench run`` prints, so the run is never silent); ``progress`` shows a tqdm bar instead.
    """
    import torch
    from tqdm.auto import tqdm

    from hsbench.codecs.learned.device import resolve_device
    from hsbench.codecs.learned.rdmodels import build_model
    from hsbench.codecs.learned.train import describe_training_data, lr_factor

    if distortion not in DISTORTIONS:
        raise CodecParameterError(f"distortion must be one of {', '.join(DISTORTIONS)}, got {distortion!r}")
    if quantise not in QUANTISERS:
        raise CodecParameterError(f"quantise must be one of {', '.join(QUANTISERS)}, got {quantise!r}")
    if steps < 1 or batch < 1:
        raise CodecParameterError("steps and batch must be at least 1")
    if not (lmbda > 0 and math.isfinite(lmbda)):
        raise CodecParameterError(f"lmbda must be a positive number, got {lmbda!r}")
    codec.check_arch(arch)
    ckpt_io.check_weight_storage(weights)
    model_kind = codec.model_kind
    dev = resolve_device(device)
    t0 = time.perf_counter()
    with deterministic(threads):
        torch.manual_seed(seed)
        model = build_model(model_kind, arch)
        if init is not None:
            if init.get("codec") != codec.name or dict(init.get("arch", {})) != dict(arch):
                raise CodecParameterError(f"warm start from a {init.get('codec')} {init.get('arch')} model cannot "
                                          f"initialise {codec.name} {arch}")
            model.load_state_dict(init["state_dict"])
        if patch % model.downsampling:
            raise CodecParameterError(f"patch={patch} must be a multiple of {model.downsampling} for {codec.name}")
        model.to(dev).train()
        sampler = PatchSampler(cubes, int(arch["cluster"]), patch, seed)
        if init is None:  # a warm start fine-tunes a trained model: its pre-training (S2C-Net's) is done
            model.pretrain(sampler, steps, batch, lr)
        opt = torch.optim.Adam(model.main_parameters(), lr=lr)
        aux_opt = torch.optim.Adam(model.aux_parameters(), lr=aux_lr)
        history: list[dict[str, float]] = []
        bar = tqdm(total=steps, disable=not progress, desc=f"train {codec.name} lmbda={lmbda:g}", unit="step",
                   leave=False)
        run_loss = run_bpp = run_d = 0.0
        try:
            for step in range(steps):
                for group in opt.param_groups:
                    group["lr"] = lr * lr_factor(step / steps, warmup)
                x = torch.from_numpy(sampler.batch(batch)).to(dev)
                loss, bpp, d = rd_loss(model, x, lmbda, distortion, quantise)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.main_parameters(), 1.0)
                opt.step()
                aux = model.aux_loss()
                aux_opt.zero_grad(set_to_none=True)
                aux.backward()
                aux_opt.step()
                run_loss, run_bpp, run_d = run_loss + float(loss.detach()), run_bpp + bpp, run_d + d
                bar.update(1)
                done = step + 1
                if log_every and (done % log_every == 0 or done == steps):
                    k = log_every if done % log_every == 0 else done % log_every
                    history.append({"steps": done, "loss": run_loss / k, "bpp": run_bpp / k, "distortion": run_d / k})
                    print(f"  {codec.name} lmbda={lmbda:g}: step {done}/{steps}  loss {run_loss / k:.4g}  "
                          f"bpp {run_bpp / k:.3f}  D {run_d / k:.4g}  ({time.perf_counter() - t0:.0f} s)",
                          file=sys.stderr, flush=True)
                    run_loss = run_bpp = run_d = 0.0
        finally:
            bar.close()
        model.eval()
        ckpt_io.round_weights(model, weights)
        model.update()
        model.to("cpu")
        seconds = time.perf_counter() - t0
        state = copy_state(model.state_dict())
        val = validate(codec, model, cubes=val_cubes or (), arch=arch) if val_cubes else {}
    return {
        "format": ckpt_io.FORMAT,
        "format_version": ckpt_io.FORMAT_VERSION,
        "codec": codec.name,
        "arch": dict(arch),
        "lmbda": float(lmbda),
        "state_dict": state,
        "table_revision": ckpt_io.TABLE_REVISION,
        "weights": weights,
        "normalisation": "per-image per-band min/max (in the stream)",
        "data": describe_training_data(train_spec, cubes),
        "training": {
            "recipe": recipe, "quick": bool(quick), "steps": int(steps), "batch": int(batch), "patch": int(patch),
            "lr": float(lr), "aux_lr": float(aux_lr), "warmup": float(warmup), "distortion": distortion,
            "quantise": quantise, "seed": int(seed), "threads": int(threads), "device": str(dev),
            "seconds": seconds, "history": history, "finished": True,
            "init_from": None if init is None else {"lmbda": init.get("lmbda"), "steps": init["training"]["steps"],
                                                    "recipe": init["training"].get("recipe")},
            **val,
        },
        "hsbench_version": __version__,
    }


def copy_state(state: dict[str, Any]) -> dict[str, Any]:
    """A CPU copy of a state dict in which keys that alias one tensor (the seed models' ``encoder`` is also
    ``g_a.0``) share one copy, so the checkpoint stores each weight once (a tiny cascade's file: 0.9, not 1.8 MB)."""
    copies: dict[tuple[Any, ...], Any] = {}
    out = {}
    for k, v in state.items():
        v = v.detach()
        key = (v.device, v.data_ptr(), v.dtype, tuple(v.shape), v.stride(), v.storage_offset())
        if key not in copies or v.numel() == 0:
            copies[key] = v.to("cpu").clone()
        out[k] = copies[key]
    return out


def validate(codec: Any, model: Any, cubes: Sequence[Cube], arch: dict[str, Any]) -> dict[str, Any]:
    """Real-codec figures of ``model`` on held-out images: PSNR, bytes-based and estimated bpppc.

    PSNR pools the MSE over all images in units of each image's nominal peak (SPEC section 1), as
    :func:`.train._psnr_images` does; rates are pooled over all samples.
    """
    from hsbench.codecs.learned.transform import encode_cube, estimate_bits
    from hsbench.metrics import mse

    t = codec.coding_tile(arch)
    total_err = bits = est = samples = 0.0
    for cube in cubes:
        body, rec = encode_cube(model, cube, int(arch["cluster"]), t, 8, "cpu", exact=False, reconstruct=True)
        total_err += mse(cube.data, rec) / float(cube.peak) ** 2 * cube.num_samples
        bits += 8.0 * (len(body) + 8)
        est += estimate_bits(model, cube, int(arch["cluster"]), t, 8, "cpu")
        samples += cube.num_samples
    err = total_err / max(samples, 1)
    return {
        "val_psnr": float("inf") if err <= 0 else 10 * math.log10(1.0 / err),
        "val_bpppc": bits / max(samples, 1),
        "val_estimated_bpppc": est / max(samples, 1),
        "val_images": [c.name for c in cubes],
    }
