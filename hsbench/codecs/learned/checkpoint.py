"""Checkpoints of learned codecs, and the per-band normalisation they carry.

A checkpoint is one ``torch.save`` file holding a plain dictionary (loadable with
``torch.load(weights_only=True)``, so opening one never runs code)::

    format, format_version   "hsbench.learned", 1
    codec                    registry name ("sscnet", "sscnet-linear", "vgg16-baseline")
    arch                     architecture config (bands, tile, latent, width ...)
    state_dict               the weights, on the CPU
    normalisation            {"low": [...], "high": [...]}: per-band min / max of the training set
    data                     what it was trained on: spec, image ids and SHA-256s, bands,
                             bit depth, dtype
    training                 loss, optimiser settings, seed, epochs / steps done, validation PSNR,
                             whether it is a quick-trained model
    resume                   optimiser and scheduler state while training is unfinished
    weights                  how the float weights are stored: ``float32`` (absent: the same) or
                             ``float16`` (half the file; the model was rounded to float16 before
                             its coding tables were built, so what loads is exactly what was
                             exported: :func:`round_weights`)
    hsbench_version

Normalisation (SSCNet paper, section 3.1.3 and Algorithm 1): every band is mapped
to ``[0, 1]`` with the minimum and maximum of that band over the *training set*;
the same constants invert the sigmoid output. They belong to the codec, not to the
image, so they are not in the stream. To let one model serve integer data of
several nominal bit depths (e.g. 12- and 16-bit scenes of one sensor family),
samples are first expressed as fractions of their image's nominal peak
``P = 2**D - 1`` (``P = 1`` for float data; ``D`` travels in the stream header),
and min / max are taken in those units::

    x_n = (x / P - min_b) / (max_b - min_b)

For training data of one bit depth this is exactly the paper's ``(x - min) / (max - min)``.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from hsbench.errors import CodecUnavailableError

FORMAT = "hsbench.learned"
FORMAT_VERSION = 1
#: how the rate-distortion codecs build their coding tables (``update()``); a checkpoint records the
#: revision it was exported with, and one of an older revision gets its tables rebuilt when loaded.
#: 2: a factorized prior's table support follows its learned density, not its aux-fitted quantiles
TABLE_REVISION = 2


def peak_scale(bit_depth: int, is_float: bool) -> float:
    """``P``: ``2**D - 1`` for integer data of nominal bit depth ``D``, 1 for float data."""
    return 1.0 if is_float else float((1 << int(bit_depth)) - 1)


def band_range(scaled: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per-band minimum and maximum over a list of peak-scaled ``(B, H, W)`` arrays (float64)."""
    low = np.min([d.reshape(d.shape[0], -1).min(axis=1) for d in scaled], axis=0).astype(np.float64)
    high = np.max([d.reshape(d.shape[0], -1).max(axis=1) for d in scaled], axis=0).astype(np.float64)
    return low, high


def normalise(data: np.ndarray, low: np.ndarray, high: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """``(x / P - min_b) / (max_b - min_b)`` per band as float32 (a constant band maps to ``x / P - min_b``)."""
    span = np.where(high > low, high - low, 1.0)
    out = (data.astype(np.float64) / scale - low[:, None, None]) / span[:, None, None]
    return out.astype(np.float32)


def denormalise(norm: np.ndarray, low: np.ndarray, high: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """Inverse of :func:`normalise`: ``x = (x_n * (max_b - min_b) + min_b) * P`` (float64)."""
    span = np.where(high > low, high - low, 1.0)
    return (norm.astype(np.float64) * span[:, None, None] + low[:, None, None]) * scale


#: how a checkpoint may store its float32 weights (``weights``)
WEIGHT_STORAGE = ("float32", "float16")


def check_weight_storage(weights: str) -> str:
    """``weights`` if it is one of :data:`WEIGHT_STORAGE`, else a clear error."""
    from hsbench.errors import CodecParameterError

    if weights not in WEIGHT_STORAGE:
        raise CodecParameterError(f"weights must be one of {', '.join(WEIGHT_STORAGE)}, got {weights!r}")
    return weights


def round_weights(module: Any, weights: str) -> None:
    """Round every float32 parameter and buffer of ``module`` to the precision ``weights`` stores, in place.

    Done before a model's coding tables are built (and its validation), so that a model saved as
    float16 and loaded back as float32 is the model that was exported, bit for bit.
    """
    import torch

    if check_weight_storage(weights) == "float16":
        with torch.no_grad():
            for t in module.state_dict().values():
                if t.dtype == torch.float32:
                    t.copy_(t.to(torch.float16).to(torch.float32))


def _stored(ckpt: dict[str, Any]) -> dict[str, Any]:
    """``ckpt`` as written: its float32 weights as float16 when ``ckpt["weights"]`` says so."""
    import torch

    if check_weight_storage(str(ckpt.get("weights", "float32"))) == "float32":
        return ckpt
    state, halves = {}, {}  # keys that share one tensor (rdtrain.copy_state) keep sharing its half copy
    for k, t in ckpt["state_dict"].items():
        if t.dtype == torch.float32:
            if id(t) not in halves:
                half = t.to(torch.float16)
                if not torch.equal(half.to(torch.float32), t):
                    raise ValueError(f"weight {k} is not rounded to float16; call round_weights before exporting")
                halves[id(t)] = half
            t = halves[id(t)]
        state[k] = t
    return {**ckpt, "state_dict": state}


def save_checkpoint(ckpt: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write ``ckpt`` atomically (temporary file + rename), so an interrupted save never leaves half a file."""
    import torch

    ckpt = _stored(ckpt)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        torch.save(ckpt, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and check a checkpoint file (tensors land on the CPU, whatever device wrote them)."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise CodecUnavailableError(
            f"checkpoint {path} does not exist; train one with `hsbench train CODEC --dataset NAME --out {path}` "
            "or leave checkpoint unset to quick-train a small model"
        )
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CodecUnavailableError(f"checkpoint {path} cannot be read ({type(exc).__name__}: {exc})") from exc
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CodecUnavailableError(f"{path} is not an hsbench learned-codec checkpoint")
    if ckpt.get("format_version") != FORMAT_VERSION:
        raise CodecUnavailableError(
            f"checkpoint {path} has format version {ckpt.get('format_version')}; this hsbench reads "
            f"{FORMAT_VERSION}"
        )
    if ckpt.get("weights", "float32") == "float16":  # stored at half size: the model computes in float32
        ckpt["state_dict"] = {k: t.to(torch.float32) if t.dtype == torch.float16 else t
                              for k, t in ckpt["state_dict"].items()}
    return ckpt


def weights_fingerprint(state_dict: dict[str, Any]) -> bytes:
    """8-byte SHA-256 prefix of the weights: written into every stream so a decoder with other weights refuses it."""
    h = hashlib.sha256()
    for key in sorted(state_dict):
        tensor = state_dict[key].detach().to("cpu").contiguous()
        h.update(key.encode())
        h.update(str(tuple(tensor.shape)).encode())
        h.update(tensor.numpy().tobytes())
    return h.digest()[:8]
