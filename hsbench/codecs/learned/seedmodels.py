"""The seed systems as rate-distortion models: published autoencoders with a factorized prior, and S2C-Net.

These wrap the networks of :mod:`.spectral` and :mod:`.hybrid` in the interface of
:class:`.rdmodels.RDModel`, so they are trained by :func:`.rdtrain.train_rd` (``R + lambda D``) and
coded by :mod:`.transform` (per-image per-band scaling to ``[0, 1]``, tiles, integer-table range
coding) exactly like ``factorized`` and ``hyperprior``. ``cluster`` is the band count the network
was built for (a cube with more bands is coded as clusters of that many consecutive bands).

:class:`PriorModel` (``cae1d``, ``hycot``, ``cnn-lstm-ae``, ``two-path-ae``)
    ``g_a`` = the published encoder followed by a learned per-channel gain ``exp(g_c)``; the gained
    latent ``y`` is quantised (uniform noise in training, rounding around the prior's medians when
    coding) and entropy coded with the factorized prior (:class:`.entropy_models.EntropyBottleneck`,
    one density per latent channel); ``g_s`` = a learned per-channel gain ``exp(-g'_c)`` followed by
    the published decoder. The published models have no quantiser: their latents are bounded
    (HyCoT's sigmoid, the cascade's tanh LSTM), so without the gain rounding would leave one or two
    levels; the gains (initialised to :data:`INITIAL_GAIN`) let ``R + lambda D`` choose the
    quantisation step of every channel (a gain unit as in Cui et al., "Asymmetric gained deep
    image compression with continuous rate adaptation", CVPR 2021).

    Variants of the hybrid models (seed 002): ``sparse`` adds ``alpha * sum |y| / pixels`` to the
    loss (an L1 activity penalty on the quantised-domain latent, ``alpha`` = :data:`SPARSITY`);
    ``variational`` samples the network latent ``z = mu + exp(logvar / 2) eps`` in training and adds
    the KL divergence to ``N(0, 1)``, ``sum KL / (pixels ln 2)`` (bits per pixel, like ``R``); the mean
    ``mu`` is coded at test time.

:class:`S2CNetModel` (``s2cnet``; seed 004)
    The pixel-wise spectral autoencoder (:func:`.spectral.SpectralAE`) with the scale-hyperprior
    model (:class:`.rdmodels.HyperpriorModel`, ``N``, ``M``) coding its latent as a
    ``C``-channel image: ``g_a`` = spectral encoder then the hyperprior's analysis; ``g_s`` = the
    hyperprior's synthesis then the spectral decoder. :meth:`S2CNetModel.pretrain` first trains the
    spectral autoencoder alone (MSE, :data:`S2C_PRETRAIN_FRACTION` of the run's steps), as the
    abstract says; then the whole model is trained with the mixed loss
    ``R + lambda 255^2 (MSE(x^, x) + MSE(g_spec_s(s), x) + MSE(s^, s))``: the full reconstruction,
    the spectral model's own loss (its reconstruction without the spatial codec) and the spatial
    model's distortion of the spectral latent ``s``. The abstract gives no weights; equal weights
    are hsbench's choice.

:class:`AutoencoderPriorModel` (``sscnet``, ``sscnet-linear``, ``vgg16-baseline`` with ``entropy=factorized``; seed 001)
    The same gains and factorized prior around the SSCNet paper's autoencoders (the networks the codec
    classes build, :meth:`.base.LearnedCodec.build_network`, their layer lists unchanged): ``cluster``
    is the band count ``bands``; the fully convolutional SSCNet's ``L x T/8 x T/8`` latent has one
    density per channel, the linear latents (``sscnet-linear``, ``vgg16-baseline``: ``L`` values per
    tile) one density per unit (coded as ``L x 1 x 1``). The networks take whole ``T x T`` tiles.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from hsbench.codecs.learned import hybrid, spectral
from hsbench.codecs.learned.entropy_models import EntropyBottleneck, RangeReader, RangeWriter
from hsbench.codecs.learned.rdmodels import FactorizedModel, HyperpriorModel, RDModel

#: initial quantisation gain of the latent (network units -> quantisation steps)
INITIAL_GAIN = 16.0
#: weight of the L1 activity penalty of the ``sparse`` variant (per latent value, per pixel)
SPARSITY = 0.02
#: share of the training steps S2C-Net spends pre-training its spectral autoencoder
S2C_PRETRAIN_FRACTION = 0.5

#: model kinds of this module -> (network constructor, architecture keys besides ``cluster``)
PRIOR_KINDS: dict[str, tuple[Any, tuple[str, ...]]] = {
    "cae1d": (spectral.CAE1D, ("blocks", "width")),
    "hycot": (spectral.HyCoT, ("ratio", "patch_depth", "dim", "depth", "heads", "dim_head", "mlp_dim", "hidden")),
    "cnn-lstm-ae": (hybrid.CnnLstmAE, ("tile", "width", "hidden1", "hidden2", "latent", "variant")),
    "two-path-ae": (hybrid.TwoPathAE, ("tile", "width", "latent", "variant")),
}
#: the SSCNet paper's autoencoders (codec names of :mod:`.sscnet` / :mod:`.vgg16_baseline`) with ``entropy=factorized``
AUTOENCODER_KINDS = ("sscnet", "sscnet-linear", "vgg16-baseline")
KINDS = (*PRIOR_KINDS, "s2cnet", *AUTOENCODER_KINDS)


class Gain(nn.Module):
    """Per-channel multiplication by ``exp(sign * g_c)`` (``g`` learned, initialised to ``log(gain)``)."""

    def __init__(self, channels: int, gain: float, inverse: bool = False) -> None:
        super().__init__()
        self.sign = -1.0 if inverse else 1.0
        self.log_gain = nn.Parameter(torch.full((channels,), math.log(gain)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.exp(self.sign * self.log_gain).reshape(1, -1, *([1] * (x.dim() - 2)))


def _network_kwargs(kind: str, arch: dict[str, Any]) -> dict[str, Any]:
    keys = PRIOR_KINDS[kind][1]
    return {k: (str(arch[k]) if k == "variant" else int(arch[k])) for k in keys if k in arch}


def latent_channels(kind: str, arch: dict[str, Any]) -> int:
    """Channels of the coded latent of ``kind`` (pixel-wise models: values per pixel)."""
    bands = int(arch["cluster"])
    if kind in ("cae1d", "hycot"):
        return spectral.latent_channels(kind, bands, arch)
    if kind in ("cnn-lstm-ae", "two-path-ae"):
        return hybrid.latent_shape(kind, arch)[0]
    raise ValueError(f"{kind!r} has no single latent")


class PriorModel(FactorizedModel):
    """A published autoencoder with gains and a factorized prior on its latent (module docstring).

    Coding (``analyse``, ``write``) is the factorized model's; the transforms are the published ones.
    """

    def __init__(self, kind: str, arch: dict[str, Any]) -> None:
        nn.Module.__init__(self)  # FactorizedModel.__init__ builds Ballé's transforms; these are the published ones
        self.kind = kind
        self.variant = str(arch.get("variant", "plain"))
        make = PRIOR_KINDS[kind][0]
        net = make(int(arch["cluster"]), **_network_kwargs(kind, arch))
        self.channels = int(arch["cluster"])
        c = latent_channels(kind, arch)
        self.m = c
        self.encoder, self.decoder = net["encoder"], net["decoder"]
        self.gain, self.inverse_gain = Gain(c, INITIAL_GAIN), Gain(c, INITIAL_GAIN, inverse=True)
        self.g_a = nn.Sequential(self.encoder, self.gain)
        self.g_s = nn.Sequential(self.inverse_gain, self.decoder)
        self.entropy_bottleneck = EntropyBottleneck(c)
        # spatial down-sampling of the latent: the tile of the hybrid models, 1 for pixel-wise ones
        self.tile = int(arch.get("tile", 1))
        self.downsampling = self.tile if kind in ("cnn-lstm-ae", "two-path-ae") else 1
        self._reduce = 8 if kind == "two-path-ae" else 1
        self._extra: torch.Tensor | None = None

    def _latent_hw(self, size: int) -> int:
        return size // self._reduce

    def latent_elements(self, tiles: int, size: int) -> int:
        return tiles * self.m * self._latent_hw(size) ** 2

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        """The gained latent; in training the variational sample, with the penalty terms kept for :meth:`extra_loss`."""
        if self.training and self.variant == "variational":
            mean, logvar = self.encoder.posterior(x)
            logvar = torch.clamp(logvar, -20.0, 20.0)
            z = mean + torch.exp(0.5 * logvar) * torch.randn_like(mean)
            kl = 0.5 * (mean**2 + torch.exp(logvar) - 1.0 - logvar).sum()
            self._extra = kl / (math.log(2.0) * x.shape[0] * x.shape[2] * x.shape[3])
            return self.gain(z)
        y = self.g_a(x)
        if self.training and self.variant == "sparse":
            self._extra = SPARSITY * y.abs().sum() / (x.shape[0] * x.shape[2] * x.shape[3])
        return y

    def extra_loss(self, x: torch.Tensor, lmbda: float) -> torch.Tensor | float:
        """The variant's penalty of the last forward pass (0 for ``plain``)."""
        extra, self._extra = self._extra, None
        return 0.0 if extra is None else extra

    def forward(self, x: torch.Tensor, mode: str | None = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """``(x_hat, {"y": likelihoods})``; the tile-bound hybrid models take patches of whole tiles."""
        n, c, h, w = x.shape
        t = self.downsampling
        if t > 1 and (h, w) != (t, t):  # (N, C, h, w) -> (N * h/t * w/t, C, t, t) and back
            tiles = x.reshape(n, c, h // t, t, w // t, t).permute(0, 2, 4, 1, 3, 5).reshape(-1, c, t, t)
            out, lik = self.forward(tiles, mode)
            return out.reshape(n, h // t, w // t, c, t, t).permute(0, 3, 1, 4, 2, 5).reshape(n, c, h, w), lik
        y_hat, lik = self.entropy_bottleneck(self._encode(x), mode)
        return self.g_s(y_hat), {"y": lik}

    def read(self, reader: RangeReader, tiles: int, size: int) -> torch.Tensor:
        h = self._latent_hw(size)
        return self.entropy_bottleneck.read(reader, (tiles, self.m, h, h))


class AutoencoderPriorModel(PriorModel):
    """An SSCNet-paper autoencoder with gains and a factorized prior on its latent (module docstring)."""

    def __init__(self, kind: str, arch: dict[str, Any]) -> None:
        nn.Module.__init__(self)
        from hsbench.codecs.registry import get_codec

        codec = get_codec(kind)
        ae_arch = {k: v for k, v in arch.items() if k not in ("cluster", "entropy")}
        net = codec.build_network(ae_arch)
        shape = codec.latent_shape(ae_arch)
        self.kind, self.variant = kind, "plain"
        self.channels = int(arch["bands"])
        self.m = c = int(shape[0])
        self.tile = self.downsampling = int(arch["tile"])
        self._linear = len(shape) == 1  # L values per tile, coded as L x 1 x 1
        self.encoder, self.decoder = net["encoder"], net["decoder"]
        self.gain, self.inverse_gain = Gain(c, INITIAL_GAIN), Gain(c, INITIAL_GAIN, inverse=True)
        if self._linear:
            self.g_a = nn.Sequential(self.encoder, nn.Unflatten(1, (c, 1, 1)), self.gain)
            self.g_s = nn.Sequential(self.inverse_gain, nn.Flatten(), self.decoder)
        else:
            self.g_a = nn.Sequential(self.encoder, self.gain)
            self.g_s = nn.Sequential(self.inverse_gain, self.decoder)
        self.entropy_bottleneck = EntropyBottleneck(c)
        self._reduce = 8
        self._extra = None

    def _latent_hw(self, size: int) -> int:
        return 1 if self._linear else size // self._reduce


class S2CNetModel(RDModel):
    """S2C-Net: spectral autoencoder with the scale hyperprior in its bottleneck (module docstring)."""

    downsampling = HyperpriorModel.downsampling

    def __init__(self, arch: dict[str, Any]) -> None:
        nn.Module.__init__(self)  # the transforms are the spectral AE around the hyperprior's
        bands, blocks, width = int(arch["cluster"]), int(arch["blocks"]), int(arch["width"])
        net = spectral.SpectralAE(bands, blocks, width)
        self.channels = bands
        self.spectral_channels = spectral.cae1d_latent_channels(bands, blocks)
        self.spec_encoder, self.spec_decoder = net["encoder"], net["decoder"]
        self.spatial = HyperpriorModel(self.spectral_channels, int(arch["N"]), int(arch["M"]), "scale")
        self.n, self.m = self.spatial.n, self.spatial.m
        self.g_a = nn.Sequential(self.spec_encoder, self.spatial.g_a)
        self.g_s = nn.Sequential(self.spatial.g_s, self.spec_decoder)
        self._extra: torch.Tensor | None = None

    def latent_elements(self, tiles: int, size: int) -> int:
        return self.spatial.latent_elements(tiles, size)

    def forward(self, x: torch.Tensor, mode: str | None = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """``(x_hat, likelihoods of y and z)``; in training the mixed-loss terms are kept for :meth:`extra_loss`."""
        s = self.spec_encoder(x)
        s_hat, likelihoods = self.spatial(s, mode)
        if self.training:
            mse = nn.functional.mse_loss
            self._extra = mse(self.spec_decoder(s), x) + mse(s_hat, s)
        return self.spec_decoder(s_hat), likelihoods

    def extra_loss(self, x: torch.Tensor, lmbda: float) -> torch.Tensor | float:
        """``lambda 255^2 (MSE(spectral AE(x), x) + MSE(s^, s))``: the spectral and spatial terms of the mixed loss."""
        extra, self._extra = self._extra, None
        return 0.0 if extra is None else lmbda * 255.0**2 * extra

    def pretrain(self, sampler: Any, steps: int, batch: int, lr: float) -> None:
        """Train the spectral autoencoder alone (MSE) for ``S2C_PRETRAIN_FRACTION * steps`` steps."""
        from hsbench.codecs.learned.train import lr_factor

        device = next(self.parameters()).device
        params = [*self.spec_encoder.parameters(), *self.spec_decoder.parameters()]
        opt = torch.optim.Adam(params, lr=lr)
        n = max(1, int(steps * S2C_PRETRAIN_FRACTION))
        for step in range(n):
            for group in opt.param_groups:
                group["lr"] = lr * lr_factor(step / n, 0.02)
            x = torch.from_numpy(sampler.batch(batch)).to(device)
            loss = nn.functional.mse_loss(self.spec_decoder(self.spec_encoder(x)), x)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()

    def analyse(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.spatial.analyse(self.spec_encoder(x))

    def write(self, writer: RangeWriter, latents: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.spatial.write(writer, latents)

    def read(self, reader: RangeReader, tiles: int, size: int) -> torch.Tensor:
        return self.spatial.read(reader, tiles, size)


def build(kind: str, arch: dict[str, Any]) -> RDModel:
    """The rate-distortion model of ``kind`` (:data:`KINDS`) for ``arch``."""
    if kind == "s2cnet":
        return S2CNetModel(arch)
    if kind in PRIOR_KINDS:
        return PriorModel(kind, arch)
    if kind in AUTOENCODER_KINDS:
        return AutoencoderPriorModel(kind, arch)
    raise ValueError(f"unknown seed model kind {kind!r}")
