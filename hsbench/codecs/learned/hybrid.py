"""The hybrid spatial-spectral autoencoders of seed 002 (CNN-LSTM cascade, two-path CNN + attention).

Source: the README of "Hybrid Spatial-Spectral Autoencoder Models for Lossy Satellite Image
Compression" (seed 002; paper under review) and its public Keras code (repository
``Mohamed-A-Elshafey/Hybrid-Spatial-Spectral-Autoencoder-Models-for-Lossy-Satellite-Image-Compression``:
``HYBRID Cascade (CNN-LSTM) Model.py``, ``hybrid parallel ( CNN-ATTENTION).py`` and the
multispectral variant), reimplemented in PyTorch from those layer lists. EuroSAT tiles are
64 x 64 with 3 (RGB) or 13 (multispectral) bands; data in ``[0, 1]``; MSE; Adam 5e-4 (cascade)
or RMSprop 1e-4 (two-path); 500-1000 epochs. The public code has no quantiser or entropy
coder; hsbench's codecs add them around these networks.

:class:`CnnLstmEncoder` / :class:`CnnLstmDecoder` (the cascade; ``T`` tile, ``w`` width, LSTM
sizes ``h1, h2``, ``c`` latent channels; paper ``T = 64, w = 64, h = (100, 100), c = 3``)

    encoder  Conv(B -> w, 3x3) PReLU, MaxPool 2, BatchNorm, flatten (H, W, C order), reshape to a
             sequence of ``T`` steps of ``T w / 4`` values, LSTM(h1), LSTM(h2), LSTM(T c): the
             latent, ``T`` steps of ``T c`` values, read as a ``c x T x T`` image
    decoder  Conv(c -> w, 3x3) PReLU, BatchNorm, flatten, ``T`` steps of ``T w``, LSTM(h1),
             LSTM(h2), LSTM(T B), reshape to ``B x T x T``, Conv(B -> B, 3x3) Sigmoid

:class:`TwoPathEncoder` / :class:`TwoPathDecoder` (the parallel model; paper ``T = 64, w = 64,
L = 64``: latent ``64 x 8 x 8`` for a ``13 x 64 x 64`` tile)

    encoder  spectral path: the tile as ``T`` rows of ``T B`` values (H, W, C order), dot-product
             self-attention ``softmax(X X^T) X`` (Keras ``layers.Attention()``, no weights, no
             scaling), back to ``B x T x T``, Conv(B -> ceil(B/2)) PReLU;
             spatial path: Conv(B -> w) PReLU, Conv(w -> w) PReLU, Conv(w -> floor(B/2)) PReLU;
             concatenated (``B`` channels), then three times Conv(-> w) PReLU MaxPool 2, the last
             Conv(w -> L): latent ``L x T/8 x T/8``
    decoder  three times Conv(-> w) PReLU Upsample 2 (nearest), Conv(w -> B) PReLU, then the two
             paths of the encoder again (attention + Conv(B -> ceil(B/2)); three convs to
             floor(B/2)), concatenated: the output, ``B x T x T`` (PReLU output, as published)

All convolutions are 3 x 3 with "same" padding. What hsbench had to choose:

- Keras's ``activation='PReLU'`` learns one slope per element (``H W C`` of them, initialised
  to 0); here one slope per channel (``torch.nn.PReLU(C)``, initialised to 0.25), so the
  parameter count does not grow with the tile and any tile size works. Keras's LSTM has one
  bias vector and BatchNormalization counts its running statistics as parameters; PyTorch's
  LSTM has two bias vectors and keeps the statistics as buffers. The counts below are
  PyTorch's.
- The published multispectral two-path decoder ends its trunk with Conv(-> 6) but then
  reshapes to ``13`` bands (it cannot run); the RGB code ends it with Conv(-> B), which is
  what is built here for every band count. The two paths split the bands as the published
  models do: ``ceil(B/2)`` from the spectral, ``floor(B/2)`` from the spatial path (RGB 2 + 1,
  multispectral 7 + 6); at least 2 bands are needed.
- Variants (the README names sparse and variational counterparts, no layers): ``sparse`` is
  the plain network, trained with an L1 activity penalty on the latent; ``variational`` adds a
  log-variance head beside the latent (two-path: Conv(w -> L, 3x3) + 2x2 average pool in
  parallel with the last encoder stage; cascade: Linear(h2 -> T c) per step in parallel with
  the last LSTM), the latent being the posterior mean (used at test time) and
  :meth:`posterior` giving ``(mean, log variance)`` for the reparametrised sample and the KL term.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from hsbench.errors import CodecParameterError

VARIANTS = ("plain", "sparse", "variational")

#: published configurations (keyword arguments besides ``bands`` and ``variant``)
PAPER: dict[str, dict[str, Any]] = {
    "cnn-lstm-ae": {"tile": 64, "width": 64, "hidden1": 100, "hidden2": 100, "latent": 3},
    "two-path-ae": {"tile": 64, "width": 64, "latent": 64},
}
#: reduced configurations for CPU tests and quick models
TINY: dict[str, dict[str, Any]] = {
    "cnn-lstm-ae": {"tile": 8, "width": 8, "hidden1": 32, "hidden2": 32, "latent": 2},
    "two-path-ae": {"tile": 16, "width": 8, "latent": 32},
}


def _check(name: str, variant: str, **sizes: int) -> None:
    if variant not in VARIANTS:
        raise CodecParameterError(f"{name}: variant must be one of {', '.join(VARIANTS)}, got {variant!r}")
    for key, value in sizes.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise CodecParameterError(f"{name}: {key} must be a positive integer, got {value!r}")


def check_cnn_lstm(bands: int, tile: int, width: int, hidden1: int, hidden2: int, latent: int, variant: str) -> None:
    """Refuse a cascade that cannot be built: positive sizes, an even tile (one 2x pooling) and ``4 | T w``."""
    _check("cnn-lstm-ae", variant, bands=bands, tile=tile, width=width, hidden1=hidden1, hidden2=hidden2,
           latent=latent)  # fmt: skip
    if tile % 2:
        raise CodecParameterError(f"cnn-lstm-ae: tile={tile} must be even (the encoder pools by 2)")
    if (tile * width) % 4:
        raise CodecParameterError(f"cnn-lstm-ae: tile * width = {tile * width} must be a multiple of 4 "
                                  "(the pooled feature map is read as tile steps)")  # fmt: skip


def check_two_path(bands: int, tile: int, width: int, latent: int, variant: str) -> None:
    """Refuse a two-path model that cannot be built: at least 2 bands, tiles a multiple of 8."""
    _check("two-path-ae", variant, bands=bands, tile=tile, width=width, latent=latent)
    if bands < 2:
        raise CodecParameterError("two-path-ae needs at least 2 bands (its two paths split them)")
    if tile % 8:
        raise CodecParameterError(f"two-path-ae: tile={tile} must be a multiple of 8 (three 2x poolings)")


def _hwc_rows(x: torch.Tensor) -> torch.Tensor:
    """``(N, C, H, W)`` -> ``(N, H, W*C)``: Keras's HWC flatten read as ``H`` steps."""
    n, c, h, w = x.shape
    return x.permute(0, 2, 3, 1).reshape(n, h, w * c)


def _rows_hwc(s: torch.Tensor, c: int, h: int, w: int) -> torch.Tensor:
    """Inverse of :func:`_hwc_rows` for a sequence ``(N, H, W*C)`` -> ``(N, C, H, W)``."""
    return s.reshape(s.shape[0], h, w, c).permute(0, 3, 1, 2).contiguous()


def _conv(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1), nn.PReLU(c_out)]


class RowAttention(nn.Module):
    """Keras ``layers.Attention()`` on a tile read as rows: ``softmax(X X^T) X``, ``X`` = ``(N, H, W*C)``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        rows = _hwc_rows(x)
        weights = torch.softmax(rows @ rows.transpose(1, 2), dim=-1)
        return _rows_hwc(weights @ rows, c, h, w)


class TwoPaths(nn.Module):
    """The spectral (attention) and spatial (convolution) paths, concatenated to ``B`` channels."""

    def __init__(self, bands: int, width: int) -> None:
        super().__init__()
        spectral_out = (bands + 1) // 2
        self.spectral = nn.Sequential(RowAttention(), *_conv(bands, spectral_out))
        self.spatial = nn.Sequential(*_conv(bands, width), *_conv(width, width), *_conv(width, bands - spectral_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.spectral(x), self.spatial(x)], dim=1)


class TwoPathEncoder(nn.Module):
    """Two-path analysis: ``(N, B, T, T)`` -> latent ``(N, L, T/8, T/8)`` (posterior mean when variational)."""

    def __init__(self, bands: int, tile: int, width: int, latent: int, variant: str = "plain") -> None:
        super().__init__()
        check_two_path(bands, tile, width, latent, variant)
        self.paths = TwoPaths(bands, width)
        self.trunk = nn.Sequential(*_conv(bands, width), nn.MaxPool2d(2), *_conv(width, width), nn.MaxPool2d(2))
        self.head = nn.Sequential(*_conv(width, latent), nn.MaxPool2d(2))
        self.logvar = (
            nn.Sequential(nn.Conv2d(width, latent, 3, padding=1), nn.AvgPool2d(2)) if variant == "variational" else None
        )

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(mean, log variance)`` of the latent (log variance None unless variational)."""
        h = self.trunk(self.paths(x))
        return self.head(h), None if self.logvar is None else self.logvar(h)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.posterior(x)[0]


class TwoPathDecoder(nn.Module):
    """Two-path synthesis: latent ``(N, L, T/8, T/8)`` -> ``(N, B, T, T)``."""

    def __init__(self, bands: int, tile: int, width: int, latent: int, variant: str = "plain") -> None:
        super().__init__()
        check_two_path(bands, tile, width, latent, variant)
        up = nn.Upsample(scale_factor=2, mode="nearest")
        self.trunk = nn.Sequential(*_conv(latent, width), up, *_conv(width, width), up, *_conv(width, width), up,
                                   *_conv(width, bands))  # fmt: skip
        self.paths = TwoPaths(bands, width)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return self.paths(self.trunk(y))


class _Lstms(nn.Module):
    """LSTM(h1), LSTM(h2), LSTM(out) on a ``(N, steps, features)`` sequence (batch first)."""

    def __init__(self, features: int, hidden1: int, hidden2: int, out: int) -> None:
        super().__init__()
        self.first = nn.LSTM(features, hidden1, batch_first=True)
        self.second = nn.LSTM(hidden1, hidden2, batch_first=True)
        self.last = nn.LSTM(hidden2, out, batch_first=True)

    def middle(self, s: torch.Tensor) -> torch.Tensor:
        return self.second(self.first(s)[0])[0]

    def forward(self, s: torch.Tensor) -> torch.Tensor:
        return self.last(self.middle(s))[0]


class CnnLstmEncoder(nn.Module):
    """Cascade analysis: ``(N, B, T, T)`` -> latent ``(N, c, T, T)`` (LSTM output, in ``(-1, 1)``)."""

    def __init__(self, bands: int, tile: int, width: int, hidden1: int, hidden2: int, latent: int,
                 variant: str = "plain") -> None:  # fmt: skip
        super().__init__()
        check_cnn_lstm(bands, tile, width, hidden1, hidden2, latent, variant)
        self.tile, self.latent = tile, latent
        self.features = nn.Sequential(*_conv(bands, width), nn.MaxPool2d(2), nn.BatchNorm2d(width))
        self.lstms = _Lstms(tile * width // 4, hidden1, hidden2, tile * latent)
        self.logvar = nn.Linear(hidden2, tile * latent) if variant == "variational" else None

    def _sequence(self, x: torch.Tensor) -> torch.Tensor:
        f = self.features(x)
        return f.permute(0, 2, 3, 1).reshape(x.shape[0], self.tile, -1)

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(mean, log variance)`` of the latent (log variance None unless variational)."""
        h = self.lstms.middle(self._sequence(x))
        t = self.tile
        mean = _rows_hwc(self.lstms.last(h)[0], self.latent, t, t)
        return mean, None if self.logvar is None else _rows_hwc(self.logvar(h), self.latent, t, t)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.posterior(x)[0]


class CnnLstmDecoder(nn.Module):
    """Cascade synthesis: latent ``(N, c, T, T)`` -> ``(N, B, T, T)`` in ``[0, 1]``."""

    def __init__(self, bands: int, tile: int, width: int, hidden1: int, hidden2: int, latent: int,
                 variant: str = "plain") -> None:  # fmt: skip
        super().__init__()
        check_cnn_lstm(bands, tile, width, hidden1, hidden2, latent, variant)
        self.tile, self.bands = tile, bands
        self.features = nn.Sequential(*_conv(latent, width), nn.BatchNorm2d(width))
        self.lstms = _Lstms(tile * width, hidden1, hidden2, tile * bands)
        self.out = nn.Sequential(nn.Conv2d(bands, bands, 3, padding=1), nn.Sigmoid())

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        s = self.lstms(_hwc_rows(self.features(y)))
        return self.out(_rows_hwc(s, self.bands, self.tile, self.tile))


def CnnLstmAE(bands: int, tile: int = 64, width: int = 64, hidden1: int = 100, hidden2: int = 100,  # noqa: N802
              latent: int = 3, variant: str = "plain") -> nn.ModuleDict:  # fmt: skip
    """The CNN-LSTM cascade as ``ModuleDict(encoder, decoder)`` (module docstring)."""
    kw = dict(tile=tile, width=width, hidden1=hidden1, hidden2=hidden2, latent=latent, variant=variant)
    return nn.ModuleDict({"encoder": CnnLstmEncoder(bands, **kw), "decoder": CnnLstmDecoder(bands, **kw)})


def TwoPathAE(bands: int, tile: int = 64, width: int = 64, latent: int = 64,  # noqa: N802
              variant: str = "plain") -> nn.ModuleDict:  # fmt: skip
    """The two-path CNN + attention autoencoder as ``ModuleDict(encoder, decoder)`` (module docstring)."""
    kw = dict(tile=tile, width=width, latent=latent, variant=variant)
    return nn.ModuleDict({"encoder": TwoPathEncoder(bands, **kw), "decoder": TwoPathDecoder(bands, **kw)})


def latent_shape(kind: str, config: dict[str, Any]) -> tuple[int, int, int]:
    """Latent shape of one tile: cascade ``(c, T, T)``, two-path ``(L, T/8, T/8)``."""
    t = int(config["tile"])
    if kind == "cnn-lstm-ae":
        return int(config["latent"]), t, t
    if kind == "two-path-ae":
        return int(config["latent"]), t // 8, t // 8
    raise CodecParameterError(f"unknown hybrid network {kind!r}")
