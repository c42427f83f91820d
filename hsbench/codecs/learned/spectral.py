"""Pixel-wise spectral autoencoders: the 1D-CAE and HyCoT of the HySpecNet-11k benchmark, S2C-Net's spectral stage.

Every network here compresses each pixel's spectrum on its own: a tile ``(N, B, H, W)``
becomes ``N * H * W`` spectra of ``B`` values, the encoder maps each to ``C`` latent
values and the latent keeps the tile's geometry, ``(N, C, H, W)``. The nominal ratio the
HySpecNet-11k papers report is then ``CR = B / C`` and ``bpppc = 32 / CR`` (SPEC
section 1: the latent counted as float32); the real rate of an hsbench codec built on
these networks is the length of its entropy-coded stream.

Networks (plain ``torch.nn.Module``). This module imports torch; the codecs import it only
when they build a network, so ``hsbench codecs`` stays light.

:class:`CAE1D` -- the 1-D convolutional autoencoder of Kuester, Gross and Middelmann,
    "1D-convolutional autoencoder based hyperspectral data compression", ISPRS Archives
    XLIII-B1-2021, 15-21, in the multi-rate form the HySpecNet-11k benchmark trains
    (M. H. P. Fuchs, B. Demir, "HySpecNet-11k: a large-scale hyperspectral dataset for
    benchmarking learning-based hyperspectral image compression methods", IGARSS 2023).
    Layer list read from the benchmark's public code (``ModifiedConvolutionalAutoencoder1D``
    of the HySpecNet-11k / hsi-compressai framework, through a public mirror), reimplemented:

    ====================  =====================================================================
    encoder, ``n`` blocks  block ``i``: Conv1d(c_{i-1} -> c_i, k11, same) LeakyReLU MaxPool1d(2),
                           ``c_i = w * 2**(n-1-i)``, ``c_{-1} = 1``
    head                   Conv1d(w -> w/2, k9) LeakyReLU, Conv1d(w/2 -> 1, k7) LeakyReLU
    decoder                Conv1d(1 -> w/2, k7) LeakyReLU, Conv1d(w/2 -> w, k9) LeakyReLU,
                           Upsample(2), then block ``i``: Conv1d(w 2**i -> w 2**(i+1), k11)
                           LeakyReLU Upsample(2); the last block Conv1d(-> 1, k11) Sigmoid
    ====================  =====================================================================

    The spectrum is zero-padded at its start to a multiple of ``2**n``, so ``C = ceil(B / 2**n)``;
    the benchmark's four rates are ``n = 2 .. 5`` (202 bands: ``C`` = 51, 26, 13, 7, nominal
    bpppc 8.08 / 4.12 / 2.06 / 1.11). Paper width ``w = 32``: 56,130 parameters at ``n = 2``
    (SPEC section 8: "about 56 k").

:class:`HyCoT` -- M. H. P. Fuchs, B. Rasti, B. Demir, "HyCoT: a transformer-based autoencoder
    for hyperspectral image compression" (WHISPERS 2024, arXiv:2408.08700). From the paper and
    its public code (read through a public mirror of the authors' repository):
    the spectrum, padded at its start to a multiple of the spectral patch depth ``p = 4``, is cut
    into ``n = ceil(B / p)`` tokens of ``p`` values; Linear(p -> d) embeds them, a learned
    compression token is put first and a learned position embedding ``(n + 1, d)`` added; a
    pre-norm transformer encoder (``depth`` 5 blocks of LayerNorm + multi-head self-attention
    with 4 heads of 16, no qkv bias, then LayerNorm + MLP d -> 8 -> d with GELU, both residual,
    width ``d = 64``) transforms the sequence; the compression token goes through
    Linear(d -> 1024) LeakyReLU Linear(1024 -> C) Sigmoid, ``C = ceil(B / CR)``. The decoder is
    an MLP per pixel: Linear(C -> 1024) LeakyReLU Linear(1024 -> B) Sigmoid. The public code also
    builds three ``Conv2d(n+1, n+1, [1, 2])`` "skipcat" layers that its ViT mode never calls;
    they are left out here: 471,845 parameters at 202 bands and ``CR = 4`` (the reference model,
    with them, 488,225; SPEC section 8: "about 0.5 M").

:class:`SpectralAE` -- the pixel-wise spectral autoencoder S2C-Net pre-trains before a spatial
    learned codec is put into its bottleneck (N. Sprengel, M. H. P. Fuchs, B. Demir,
    "Learning-based hyperspectral image compression using a spatio-spectral approach", seed 004).
    The abstract does not give its layers and no code is public; it is the HySpecNet-11k 1D-CAE
    above (same group, same benchmark) with the final LeakyReLU of the encoder head left out, so
    the spectral latent is signed and unbounded, as the spatial analysis transform that follows
    expects. That choice is hsbench's, not the paper's.

The ``tiny`` configurations (:data:`TINY`) are small enough to train in seconds on one CPU
core; the ``paper`` ones (:data:`PAPER`) are the published sizes.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from hsbench.errors import CodecParameterError

#: published configurations (keyword arguments of the classes, besides ``bands``)
PAPER: dict[str, dict[str, Any]] = {
    "cae1d": {"blocks": 2, "width": 32},
    "hycot": {"ratio": 4, "patch_depth": 4, "dim": 64, "depth": 5, "heads": 4, "dim_head": 16, "mlp_dim": 8,
              "hidden": 1024},
    "spectral-ae": {"blocks": 2, "width": 32},
}  # fmt: skip
#: reduced configurations for CPU tests and quick models
TINY: dict[str, dict[str, Any]] = {
    "cae1d": {"blocks": 2, "width": 8},
    "hycot": {"ratio": 8, "patch_depth": 12, "dim": 16, "depth": 2, "heads": 2, "dim_head": 8, "mlp_dim": 8,
              "hidden": 64},
    "spectral-ae": {"blocks": 2, "width": 8},
}  # fmt: skip


def _positive(name: str, **values: int) -> None:
    for key, value in values.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise CodecParameterError(f"{name}: {key} must be a positive integer, got {value!r}")


def cae1d_latent_channels(bands: int, blocks: int) -> int:
    """``C = ceil(B / 2**blocks)``: latent values per pixel of the 1D-CAE (the spectrum is padded to ``2**blocks``)."""
    return -(-int(bands) // (1 << int(blocks)))


def hycot_latent_channels(bands: int, ratio: int) -> int:
    """``C = ceil(B / CR)``: latent values per pixel of HyCoT at target ratio ``CR`` (its public code)."""
    return -(-int(bands) // int(ratio))


def nominal_bpppc(bands: int, latent_channels: int) -> float:
    """HySpecNet-11k's nominal rate ``bpppc = 32 / CR`` with ``CR = B / C`` (latent counted as float32)."""
    return 32.0 * latent_channels / bands


def _to_spectra(x: Any) -> Any:
    """``(N, B, H, W)`` -> ``(N*H*W, B)`` spectra, pixel-major."""
    n, b, h, w = x.shape
    return x.permute(0, 2, 3, 1).reshape(n * h * w, b)


#: spectra per pass of a 1-D network when no gradient is needed. Small enough that each layer's
#: float64 output stays under glibc's largest mmap threshold (32 MB: 128 spectra x 64 channels x 202
#: bands x 8 bytes = 13 MB at the paper's width), so the heap reuses it instead of mapping fresh pages.
#: ``OMP_NUM_THREADS=1 hsbench run --codecs cae1d --param cae1d.lmbda=0.5 --dataset synthetic-hsi
#: --max-images 1 --no-plots`` (2-CPU Xeon, one run each): decode_s 9.4 s instead of 17.3 s with 2048,
#: worker_peak_rss_mb 1210 instead of 1292, the same bytes and PSNR
INFERENCE_CHUNK = 128
#: the same on a GPU, where small chunks would cost a kernel launch each (the chunk size of the H200
#: check, results/cuda-h200.md)
GPU_INFERENCE_CHUNK = 2048


def _per_spectrum(net: Any, s: Any) -> Any:
    """``net`` over ``(P, 1, L)`` spectra; without autograd in chunks of :data:`INFERENCE_CHUNK` (same values)."""
    chunk = INFERENCE_CHUNK if s.device.type == "cpu" else GPU_INFERENCE_CHUNK
    if torch.is_grad_enabled() or s.shape[0] <= chunk:
        return net(s)
    return torch.cat([net(part) for part in torch.split(s, chunk)], dim=0)


def _from_spectra(s: Any, n: int, h: int, w: int) -> Any:
    """``(N*H*W, C)`` -> ``(N, C, H, W)``: inverse of :func:`_to_spectra`."""
    return s.reshape(n, h, w, s.shape[-1]).permute(0, 3, 1, 2).contiguous()


class CAE1DEncoder(nn.Module):
    """1D-CAE analysis part: ``(N, B, H, W)`` -> ``(N, C, H, W)``, ``C = ceil(B / 2**blocks)``."""

    def __init__(self, bands: int, blocks: int, width: int, final_activation: bool = True) -> None:
        super().__init__()
        self.bands, self.blocks = bands, blocks
        self.pad = cae1d_latent_channels(bands, blocks) * (1 << blocks) - bands
        layers: list[nn.Module] = []
        c_in = 1
        for i in range(blocks):
            c_out = width * (1 << (blocks - 1 - i))
            layers += [nn.Conv1d(c_in, c_out, 11, padding=5), nn.LeakyReLU(), nn.MaxPool1d(2)]
            c_in = c_out
        half = max(width // 2, 1)
        layers += [nn.Conv1d(width, half, 9, padding=4), nn.LeakyReLU(), nn.Conv1d(half, 1, 7, padding=3)]
        if final_activation:
            layers.append(nn.LeakyReLU())
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        s = _to_spectra(x)
        if self.pad:
            s = F.pad(s, (self.pad, 0))
        return _from_spectra(_per_spectrum(self.net, s.unsqueeze(1)).squeeze(1), n, h, w)

class CAE1DDecoder(nn.Module):
    """1D-CAE synthesis part: ``(N, C, H, W)`` -> ``(N, B, H, W)`` in ``[0, 1]`` (sigmoid)."""

    def __init__(self, bands: int, blocks: int, width: int) -> None:
        super().__init__()
        self.bands = bands
        self.pad = cae1d_latent_channels(bands, blocks) * (1 << blocks) - bands
        half = max(width // 2, 1)
        layers: list[nn.Module] = [
            nn.Conv1d(1, half, 7, padding=3), nn.LeakyReLU(),
            nn.Conv1d(half, width, 9, padding=4), nn.LeakyReLU(),
            nn.Upsample(scale_factor=2),
        ]  # fmt: skip
        for i in range(blocks):
            last = i == blocks - 1
            c_in, c_out = width * (1 << i), 1 if last else width * (1 << (i + 1))
            layers += [nn.Conv1d(c_in, c_out, 11, padding=5)]
            layers += [nn.Sigmoid()] if last else [nn.LeakyReLU(), nn.Upsample(scale_factor=2)]
        self.net = nn.Sequential(*layers)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        n, _, h, w = y.shape
        s = _per_spectrum(self.net, _to_spectra(y).unsqueeze(1)).squeeze(1)
        return _from_spectra(s[:, self.pad :], n, h, w)

class Attention(nn.Module):
    """Multi-head scaled dot-product self-attention, qkv without bias, output projection with bias."""

    def __init__(self, dim: int, heads: int, dim_head: int) -> None:
        super().__init__()
        self.heads, self.dim_head = heads, dim_head
        self.to_qkv = nn.Linear(dim, 3 * heads * dim_head, bias=False)
        self.to_out = nn.Linear(heads * dim_head, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        q, k, v = self.to_qkv(x).view(b, n, 3, self.heads, self.dim_head).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v)  # softmax(q k^T / sqrt(dim_head)) v
        return self.to_out(out.transpose(1, 2).reshape(b, n, self.heads * self.dim_head))

class TransformerBlock(nn.Module):
    """Pre-norm block: ``x + Attn(LN(x))``, then ``x + MLP(LN(x))`` (MLP: Linear GELU Linear)."""

    def __init__(self, dim: int, heads: int, dim_head: int, mlp_dim: int) -> None:
        super().__init__()
        self.norm1, self.attn = nn.LayerNorm(dim), Attention(dim, heads, dim_head)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_dim), nn.GELU(), nn.Linear(mlp_dim, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))

class HyCoTEncoder(nn.Module):
    """HyCoT's transformer encoder: ``(N, B, H, W)`` -> ``(N, C, H, W)`` in ``(0, 1)``."""

    def __init__(self, bands: int, ratio: int, patch_depth: int, dim: int, depth: int, heads: int,
                 dim_head: int, mlp_dim: int, hidden: int) -> None:  # fmt: skip
        super().__init__()
        self.patch_depth = patch_depth
        self.tokens = -(-bands // patch_depth)
        self.pad = self.tokens * patch_depth - bands
        latent = hycot_latent_channels(bands, ratio)
        self.embed = nn.Linear(patch_depth, dim)
        self.comp_token = nn.Parameter(torch.randn(1, 1, dim))
        self.pos_embedding = nn.Parameter(torch.randn(1, self.tokens + 1, dim))
        self.blocks = nn.Sequential(*[TransformerBlock(dim, heads, dim_head, mlp_dim) for _ in range(depth)])
        self.to_latent = nn.Sequential(nn.Linear(dim, hidden), nn.LeakyReLU(), nn.Linear(hidden, latent),
                                       nn.Sigmoid())  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        s = _to_spectra(x)
        if self.pad:
            s = F.pad(s, (self.pad, 0))
        t = self.embed(s.view(s.shape[0], self.tokens, self.patch_depth))
        t = torch.cat([self.comp_token.expand(t.shape[0], -1, -1), t], dim=1) + self.pos_embedding
        y = self.to_latent(self.blocks(t)[:, 0])
        return _from_spectra(y, n, h, w)

class HyCoTDecoder(nn.Module):
    """HyCoT's per-pixel MLP decoder: ``(N, C, H, W)`` -> ``(N, B, H, W)`` in ``(0, 1)``."""

    def __init__(self, bands: int, ratio: int, hidden: int, **_: Any) -> None:
        super().__init__()
        latent = hycot_latent_channels(bands, ratio)
        self.net = nn.Sequential(nn.Linear(latent, hidden), nn.LeakyReLU(), nn.Linear(hidden, bands), nn.Sigmoid())

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        n, _, h, w = y.shape
        return _from_spectra(self.net(_to_spectra(y)), n, h, w)


def check_cae1d(bands: int, blocks: int, width: int) -> None:
    """Refuse a 1D-CAE that cannot be built: positive sizes, ``width`` even (the head halves it)."""
    _positive("cae1d", bands=bands, blocks=blocks, width=width)
    if width % 2:
        raise CodecParameterError(f"cae1d: width={width} must be even (the encoder head halves it)")


def check_hycot(bands: int, ratio: int, patch_depth: int, dim: int, depth: int, heads: int, dim_head: int,
                mlp_dim: int, hidden: int) -> None:  # fmt: skip
    """Refuse a HyCoT that cannot be built (positive sizes, a ratio no larger than the band count)."""
    _positive("hycot", bands=bands, ratio=ratio, patch_depth=patch_depth, dim=dim, depth=depth, heads=heads,
              dim_head=dim_head, mlp_dim=mlp_dim, hidden=hidden)  # fmt: skip
    if ratio > bands:
        raise CodecParameterError(f"hycot: ratio={ratio} is larger than the {bands} bands (at most one latent value "
                                  "per pixel and band count)")  # fmt: skip


def CAE1D(bands: int, blocks: int = 2, width: int = 32) -> Any:  # noqa: N802 - a network constructor
    """The 1D-CAE as ``ModuleDict(encoder, decoder)`` (module docstring); ``blocks`` sets ``C = ceil(B / 2**blocks)``."""
    check_cae1d(bands, blocks, width)
    return nn.ModuleDict({"encoder": CAE1DEncoder(bands, blocks, width), "decoder": CAE1DDecoder(bands, blocks, width)})


def SpectralAE(bands: int, blocks: int = 2, width: int = 32) -> Any:  # noqa: N802
    """S2C-Net's pixel-wise spectral autoencoder: the 1D-CAE with a linear (signed) latent (module docstring)."""
    check_cae1d(bands, blocks, width)
    return nn.ModuleDict({"encoder": CAE1DEncoder(bands, blocks, width, final_activation=False),
                          "decoder": CAE1DDecoder(bands, blocks, width)})  # fmt: skip


def HyCoT(bands: int, ratio: int = 4, patch_depth: int = 4, dim: int = 64, depth: int = 5, heads: int = 4,  # noqa: N802
          dim_head: int = 16, mlp_dim: int = 8, hidden: int = 1024) -> Any:  # fmt: skip
    """HyCoT as ``ModuleDict(encoder, decoder)`` (module docstring); ``C = ceil(B / ratio)`` latent values per pixel."""
    kw = dict(ratio=ratio, patch_depth=patch_depth, dim=dim, depth=depth, heads=heads, dim_head=dim_head,
              mlp_dim=mlp_dim, hidden=hidden)  # fmt: skip
    check_hycot(bands, **kw)
    return nn.ModuleDict({"encoder": HyCoTEncoder(bands, **kw), "decoder": HyCoTDecoder(bands, **kw)})


def latent_channels(kind: str, bands: int, config: dict[str, Any]) -> int:
    """Latent values per pixel of network ``kind`` (``cae1d``, ``spectral-ae``, ``hycot``) for ``config``."""
    if kind in ("cae1d", "spectral-ae"):
        return cae1d_latent_channels(bands, int(config["blocks"]))
    if kind == "hycot":
        return hycot_latent_channels(bands, int(config["ratio"]))
    raise CodecParameterError(f"unknown spectral network {kind!r}")


