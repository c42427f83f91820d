"""Rate-distortion networks: bmshj2018-factorized, the scale hyperprior and the mean-scale hyperprior.

Layers (``conv(k, s)``: ``Conv2d`` kernel ``k`` stride ``s`` padding ``k // 2``; ``deconv``:
``ConvTranspose2d`` with output padding ``s - 1``, so every stride-2 layer exactly halves / doubles
the size; ``C`` input channels, ``N`` hidden and ``M`` latent channels):

:class:`FactorizedModel` (Ballé et al., ICLR 2018, "factorized-prior" baseline, figure 4 left)
    g_a: conv5/2 (C->N) GDN, conv5/2 GDN, conv5/2 GDN, conv5/2 (N->M)
    g_s: deconv5/2 IGDN, deconv5/2 IGDN, deconv5/2 IGDN, deconv5/2 (N->C)
    y ~ factorized prior (:class:`~.entropy_models.EntropyBottleneck` over M channels)

:class:`HyperpriorModel`, ``variant="scale"`` (Ballé et al., ICLR 2018, figure 4 right)
    g_a, g_s as above; h_a: conv3/1 (M->N) ReLU, conv5/2 ReLU, conv5/2 on ``|y|``;
    h_s: deconv5/2 ReLU, deconv5/2 ReLU, conv3/1 (N->M) ReLU -> sigma;
    z ~ factorized prior (N channels), ``y | z ~ N(0, sigma^2)`` (:class:`~.entropy_models.GaussianConditional`)

``variant="mean-scale"`` (Minnen, Ballé, Toderici, NeurIPS 2018, without the autoregressive context)
    h_a: conv3/1 (M->N) LeakyReLU, conv5/2 LeakyReLU, conv5/2 on ``y``;
    h_s: deconv5/2 (N->M) LeakyReLU, deconv5/2 (M->3M/2) LeakyReLU, conv3/1 (3M/2->2M) -> (sigma, mu)

The rate of an image is ``R = sum(-log2 p)`` over all latents; :meth:`RDModel.forward` returns
the reconstruction and the likelihoods. Coding (:meth:`RDModel.write` / :meth:`RDModel.read`)
puts ``z`` first, then ``y``, into one range-coder stream. The hyper-synthesis that turns the
decoded ``z`` into ``sigma, mu`` runs, on both the encoder and the decoder side, on a float64
CPU copy of ``h_s`` (:meth:`HyperpriorModel.hyper_params`), so the scale indexes both sides use
agree whatever device runs the transforms (see :meth:`.GaussianConditional.build_indexes`).
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch
from torch import nn

from hsbench.codecs.learned.entropy_models import EntropyBottleneck, GaussianConditional, RangeReader, RangeWriter
from hsbench.codecs.learned.gdn import GDN
from hsbench.codecs.learned.hyperprior import VARIANTS


def conv(c_in: int, c_out: int, k: int = 5, s: int = 2) -> nn.Conv2d:
    """``Conv2d(k, stride s, padding k // 2)``."""
    return nn.Conv2d(c_in, c_out, k, stride=s, padding=k // 2)


def deconv(c_in: int, c_out: int, k: int = 5, s: int = 2) -> nn.ConvTranspose2d:
    """``ConvTranspose2d(k, stride s, padding k // 2, output_padding s - 1)``: exactly ``s`` times larger."""
    return nn.ConvTranspose2d(c_in, c_out, k, stride=s, padding=k // 2, output_padding=s - 1)


def analysis_transform(c: int, n: int, m: int) -> nn.Sequential:
    """g_a of Ballé et al. 2018: four conv5/2 with GDN between them."""
    return nn.Sequential(conv(c, n), GDN(n), conv(n, n), GDN(n), conv(n, n), GDN(n), conv(n, m))


def synthesis_transform(c: int, n: int, m: int) -> nn.Sequential:
    """g_s of Ballé et al. 2018: four deconv5/2 with IGDN between them."""
    return nn.Sequential(deconv(m, n), GDN(n, True), deconv(n, n), GDN(n, True), deconv(n, n), GDN(n, True),
                         deconv(n, c))


class RDModel(nn.Module):
    """What :mod:`.transform` needs of a rate-distortion network (see the subclasses)."""

    #: total down-sampling factor of the latents: tiles must be multiples of it
    downsampling: int = 16

    def __init__(self, channels: int, n: int, m: int) -> None:
        super().__init__()
        self.channels, self.n, self.m = int(channels), int(n), int(m)
        self.g_a = analysis_transform(self.channels, self.n, self.m)
        self.g_s = synthesis_transform(self.channels, self.n, self.m)

    def cpu64(self, name: str) -> nn.Module:
        """A float64 CPU copy of the sub-network ``name`` (``g_s``, ``h_s``), rebuilt when its weights change.

        float64 CPU convolutions gave identical results for 1 and 2 threads where float32 ones
        differed in the last bits (measured with torch 2.13 on x86-64); coding paths that must agree
        bit for bit between encoder and decoder run on these copies.
        """
        module = getattr(self, name)
        key = (id(module), sum(int(p._version) for p in module.parameters()))
        cache = self.__dict__.setdefault("_cpu64", {})
        if cache.get(name, (None,))[0] != key:
            cache[name] = (key, copy.deepcopy(module).to("cpu", torch.float64).eval())
        return cache[name][1]

    def entropy_models(self) -> list[Any]:
        """The entropy models (for :meth:`update` and :meth:`aux_loss`)."""
        return [m for m in self.modules() if hasattr(m, "tables_ready")]

    def update(self) -> None:
        """Build the integer coding tables of every entropy model (export time)."""
        for m in self.entropy_models():
            m.update()

    @property
    def ready(self) -> bool:
        """Whether every entropy model has its coding tables."""
        return all(m.tables_ready for m in self.entropy_models())

    def aux_loss(self) -> torch.Tensor:
        """Sum of the factorized priors' quantile losses."""
        return sum(m.aux_loss() for m in self.entropy_models() if isinstance(m, EntropyBottleneck))  # type: ignore[return-value]

    def main_parameters(self) -> list[nn.Parameter]:
        """Every parameter except the factorized priors' quantiles (those are fitted by the aux loss)."""
        return [p for name, p in self.named_parameters() if not name.endswith("quantiles")]

    def aux_parameters(self) -> list[nn.Parameter]:
        """The quantiles of the factorized priors."""
        return [p for name, p in self.named_parameters() if name.endswith("quantiles")]

    def latent_elements(self, tiles: int, size: int) -> int:
        """Number of coded latent values for ``tiles`` tiles of ``size x size`` pixels."""
        raise NotImplementedError

    def extra_loss(self, x: torch.Tensor, lmbda: float) -> torch.Tensor | float:
        """Terms a model adds to ``R + lambda D`` after a forward pass on ``x`` (none here; see :mod:`.seedmodels`)."""
        return 0.0

    def pretrain(self, sampler: Any, steps: int, batch: int, lr: float) -> None:
        """A stage run before ``R + lambda D`` training (none here; S2C-Net pre-trains its spectral AE)."""

    def forward(self, x: torch.Tensor, mode: str | None = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        raise NotImplementedError

    def analyse(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The continuous latents of ``x`` (on the model's device)."""
        raise NotImplementedError

    def write(self, writer: RangeWriter, latents: dict[str, torch.Tensor]) -> torch.Tensor:
        """Code the latents; return ``y_hat`` (float32, CPU), exactly what :meth:`read` gives back."""
        raise NotImplementedError

    def read(self, reader: RangeReader, tiles: int, size: int) -> torch.Tensor:
        """``y_hat`` of ``tiles`` tiles of ``size x size`` pixels read from ``reader``."""
        raise NotImplementedError


class FactorizedModel(RDModel):
    """bmshj2018-factorized (module docstring)."""

    downsampling = 16

    def __init__(self, channels: int = 3, n: int = 128, m: int = 192) -> None:
        super().__init__(channels, n, m)
        self.entropy_bottleneck = EntropyBottleneck(self.m)

    def latent_elements(self, tiles: int, size: int) -> int:
        return tiles * self.m * (size // 16) ** 2

    def forward(self, x: torch.Tensor, mode: str | None = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """``(x_hat, {"y": likelihoods})``."""
        y_hat, lik = self.entropy_bottleneck(self.g_a(x), mode)
        return self.g_s(y_hat), {"y": lik}

    def analyse(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"y": self.g_a(x)}

    def write(self, writer: RangeWriter, latents: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.entropy_bottleneck.write(writer, latents["y"])

    def read(self, reader: RangeReader, tiles: int, size: int) -> torch.Tensor:
        return self.entropy_bottleneck.read(reader, (tiles, self.m, size // 16, size // 16))


class HyperpriorModel(RDModel):
    """Scale hyperprior (Ballé 2018) or mean-scale hyperprior (Minnen 2018, no context): module docstring."""

    downsampling = 64

    def __init__(self, channels: int = 3, n: int = 128, m: int = 192, variant: str = "scale") -> None:
        super().__init__(channels, n, m)
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {', '.join(VARIANTS)}, got {variant!r}")
        self.variant = variant
        n, m = self.n, self.m
        if variant == "scale":
            self.h_a = nn.Sequential(conv(m, n, 3, 1), nn.ReLU(), conv(n, n), nn.ReLU(), conv(n, n))
            self.h_s = nn.Sequential(deconv(n, n), nn.ReLU(), deconv(n, n), nn.ReLU(), conv(n, m, 3, 1), nn.ReLU())
        else:
            h = m * 3 // 2
            self.h_a = nn.Sequential(conv(m, n, 3, 1), nn.LeakyReLU(), conv(n, n), nn.LeakyReLU(), conv(n, n))
            self.h_s = nn.Sequential(deconv(n, m), nn.LeakyReLU(), deconv(m, h), nn.LeakyReLU(), conv(h, 2 * m, 3, 1))
        self.entropy_bottleneck = EntropyBottleneck(n)
        self.gaussian_conditional = GaussianConditional()

    def latent_elements(self, tiles: int, size: int) -> int:
        return tiles * (self.m * (size // 16) ** 2 + self.n * (size // 64) ** 2)

    def _split(self, params: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self.variant == "scale":
            return params, None
        scales, means = params.chunk(2, dim=1)
        return scales, means

    def forward(self, x: torch.Tensor, mode: str | None = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """``(x_hat, {"y": ..., "z": ...})`` likelihoods."""
        y = self.g_a(x)
        z = self.h_a(torch.abs(y) if self.variant == "scale" else y)
        z_hat, z_lik = self.entropy_bottleneck(z, mode)
        scales, means = self._split(self.h_s(z_hat))
        y_hat, y_lik = self.gaussian_conditional(y, scales, means, mode)
        return self.g_s(y_hat), {"y": y_lik, "z": z_lik}

    def analyse(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        y = self.g_a(x)
        return {"y": y, "z": self.h_a(torch.abs(y) if self.variant == "scale" else y)}

    def hyper_params(self, z_hat: torch.Tensor) -> tuple[np.ndarray, np.ndarray | None]:
        """``(sigma, mu)`` of ``y`` from the decoded ``z`` by a float64 CPU copy of ``h_s`` (both sides)."""
        with torch.no_grad():
            params = self.cpu64("h_s")(z_hat.to("cpu", torch.float64))
        scales, means = self._split(params)
        return scales.numpy(), None if means is None else means.numpy()

    def write(self, writer: RangeWriter, latents: dict[str, torch.Tensor]) -> torch.Tensor:
        z_hat = self.entropy_bottleneck.write(writer, latents["z"])
        scales, means = self.hyper_params(z_hat)
        return self.gaussian_conditional.write(writer, latents["y"], self.gaussian_conditional.build_indexes(scales), means)

    def read(self, reader: RangeReader, tiles: int, size: int) -> torch.Tensor:
        z_hat = self.entropy_bottleneck.read(reader, (tiles, self.n, size // 64, size // 64))
        scales, means = self.hyper_params(z_hat)
        return self.gaussian_conditional.read(reader, self.gaussian_conditional.build_indexes(scales), means)


def build_model(kind: str, arch: dict[str, Any]) -> RDModel:
    """The network of ``kind`` (``factorized`` / ``hyperprior``, or a seed system of :mod:`.seedmodels`) for ``arch``."""
    from hsbench.codecs.learned import seedmodels

    if kind in seedmodels.KINDS:
        return seedmodels.build(kind, arch)
    c, n, m = int(arch["cluster"]), int(arch["N"]), int(arch["M"])
    if kind == "factorized":
        return FactorizedModel(c, n, m)
    if kind == "hyperprior":
        return HyperpriorModel(c, n, m, str(arch.get("variant", "scale")))
    raise ValueError(f"unknown rate-distortion model kind {kind!r}")
