"""Codecs of the seed systems: ``cae1d``, ``hycot``, ``s2cnet``, ``cnn-lstm-ae``, ``two-path-ae``.

Each is a :class:`.transform.LearnedTransformCodec` around a model of :mod:`.seedmodels`: the
stream is the range-coded latent of a rate-distortion-trained model (real rate, the byte count),
the knob is ``lmbda`` (one trained model per value, rate rising with it), and rows carry the
model's ``estimated_bpppc`` and, in their own columns, the *nominal* figures of the
HySpecNet-11k papers: ``nominal_bpppc = 32 * latent values / samples`` and
``nominal_cr = samples / latent values`` (``nominal_cr_bits`` = 32: the latent counted as
float32, no quantisation or entropy coding; never the rate).

=================  ==========================================  ===================================
codec              network (:mod:`.spectral`, :mod:`.hybrid`)  architecture parameters
=================  ==========================================  ===================================
``cae1d``          HySpecNet-11k 1D-CAE, per pixel             ``blocks`` (C = ceil(B / 2^blocks)),
                                                               ``width``
``hycot``          HyCoT transformer encoder + MLP decoder     ``ratio`` (C = ceil(B / ratio)),
                                                               ``patch_depth dim depth heads
                                                               dim_head mlp_dim hidden``
``s2cnet``         spectral AE + scale hyperprior (seed 004)   ``blocks width N M``
``cnn-lstm-ae``    CNN-LSTM cascade (seed 002)                 ``tile width hidden1 hidden2 latent
                                                               variant``
``two-path-ae``    two-path CNN + attention (seed 002)         ``tile width latent variant``
=================  ==========================================  ===================================

``variant`` of the hybrid models: ``plain``, ``sparse`` (L1 activity penalty on the latent) or
``variational`` (Gaussian posterior + KL, the mean coded at test time). ``cluster`` is the band
count of the network (``None`` until a model is trained: then the training data's bands; the hybrid
models default to :data:`HYBRID_CLUSTER` bands, as their networks grow with it). The
defaults are the CPU-sized configurations (:data:`.spectral.TINY`, :data:`.hybrid.TINY`);
:meth:`SeedTransformCodec.paper_arch` gives the published ones.

Training: :func:`.rdtrain.train_rd` with ``arch = CODEC.training_arch(bands)``; pixel-wise models
train on small patches (they see pixels, not neighbourhoods: ``patch=16`` gives 2048 spectra per
batch of 8), the hybrid models on patches of their tile.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar, Sequence

import numpy as np

from hsbench.codecs.base import Knob
from hsbench.codecs.learned.tiling import tile_grid
from hsbench.codecs.learned.transform import LearnedTransformCodec, tile_size
from hsbench.cube import Cube
from hsbench.errors import CodecParameterError

#: at most this many bands per network (``cluster``)
MAX_BANDS = 4096
#: default ``cluster`` of the hybrid models (``cnn-lstm-ae``, ``two-path-ae``): their networks grow with the
#: bands of a tile (the cascade's last decoder LSTM has ``tile * cluster`` units: 136 MB of weights for the
#: 180 synthetic bands at tile 16), so they code 12-band clusters, as the published models' 13-band EuroSAT tiles
HYBRID_CLUSTER = 12
#: the hybrid models' lambda points (those of their shipped models, recipes ``cnn-lstm-ae-hsi``, ``two-path-ae-hsi``)
CNN_LSTM_POINTS = (0.01, 0.05, 0.25)
TWO_PATH_POINTS = (0.01, 0.1, 1.0)


class SeedTransformCodec(LearnedTransformCodec):
    """Shared parts of the seed-system codecs (module docstring)."""

    #: defaults of the architecture parameters (the CPU-sized configuration), besides ``cluster``
    tiny: ClassVar[dict[str, Any]] = {}
    #: the published configuration, besides ``cluster``
    paper: ClassVar[dict[str, Any]] = {}
    default_run: ClassVar[str | None] = (
        "no shipped model yet: name it in --codecs (a quick model is trained and cached) or train a recipe "
        "(`hsbench models --recipes`)"
    )
    #: quick-training settings that differ from :data:`.quick.QUICK_RD` (patch: the pixel-wise models
    #: need no large patches, the hybrid models train on their tile)
    quick_settings: ClassVar[dict[str, Any]] = {}

    #: overrides of :attr:`tiny` for :meth:`train_tiny` (a network that trains in seconds). The inherited
    #: ``fuzz_shapes`` fit every seed model: ``cluster`` = 4 bands, a complete and an incomplete
    #: (band-padded) cluster, images smaller than the hybrid models' tile (edge-padded)
    tiny_arch: ClassVar[dict[str, Any]] = {}

    @classmethod
    def train_tiny(cls, cubes: Sequence[Cube], *, arch: dict[str, Any] | None = None, lmbda: float = 0.05,
                   steps: int = 40, **options: Any) -> dict[str, Any]:
        """A tiny model of :meth:`training_arch` for the cubes' band count (``cluster`` = all bands), with
        :attr:`tiny_arch` and ``arch`` over it, trained with the codec's :attr:`quick_settings` (the
        hybrid models' tile-sized patches; ``s2cnet``'s pre-training is part of :func:`.rdtrain.train_rd`).

        For tests and ``tests/fuzz_driver.py``; ``options`` go to :func:`.rdtrain.train_rd`.
        """
        full = cls.training_arch(int(cubes[0].bands), **{**cls.tiny_arch, **(arch or {})})
        return super().train_tiny(cubes, arch=full, lmbda=lmbda, steps=steps, **{**cls.quick_settings, **options})

    @classmethod
    def coding_tile(cls, arch: dict[str, Any]) -> int:
        """The hybrid models' tile (the cascade's LSTMs take no other size; their ``tile`` is also the coding
        tile, :meth:`.transform.LearnedTransformCodec.encode`), else the validation's largest tile."""
        return int(arch["tile"]) if "tile" in arch else super().coding_tile(arch)

    def fixed_tile(self) -> int | None:
        """The hybrid models' streams have their tile only (a forged other size is a corrupt stream, not an
        LSTM error): the coding tile is the architecture's ``tile``."""
        arch = self.loaded.arch
        return int(arch["tile"]) if "tile" in arch else None

    @classmethod
    def paper_arch(cls, bands: int, **overrides: Any) -> dict[str, Any]:
        """The published architecture for ``bands`` bands (``overrides`` change single entries)."""
        arch = {"cluster": int(bands), **cls.paper, **overrides}
        cls.check_arch(arch)
        return arch

    @classmethod
    def training_arch(cls, bands: int, **overrides: Any) -> dict[str, Any]:
        """The CPU-sized architecture for ``bands`` bands (what quick models train)."""
        arch = {"cluster": int(bands), **cls.tiny, **overrides}
        cls.check_arch(arch)
        return arch

    @classmethod
    def arch_from_params(cls, params: dict[str, Any], bands: int | None = None) -> dict[str, Any]:
        """The architecture from codec parameters; ``cluster=None``, or a cluster larger than the data's
        ``bands``, becomes ``bands``."""
        arch = {k: params[k] for k in cls.arch_params}
        if arch["cluster"] is None:
            if bands is None:
                raise CodecParameterError(f"{cls.name}: cluster=None means all bands of the data, and no band count "
                                          "was given; pass cluster=BANDS or a checkpoint")  # fmt: skip
            arch["cluster"] = int(bands)
        elif bands is not None and arch["cluster"] > int(bands):  # fewer bands than a cluster: one cluster of all
            arch["cluster"] = int(bands)  # (not 3 RGB bands padded to the hybrid models' 12)
        cls.check_arch(arch)
        return arch

    @classmethod
    def check_arch(cls, arch: dict[str, Any]) -> None:
        """Positive integer sizes, ``cluster`` up to :data:`MAX_BANDS` (or None: not trained yet), and the
        network's own checks (building it on the meta device refuses impossible sizes)."""
        cluster = arch.get("cluster")
        for key in cls.arch_params:
            v = arch.get(key)
            if key == "variant" or (key == "cluster" and v is None):
                continue
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or int(v) < 1:
                raise CodecParameterError(f"{cls.name}: {key} must be a positive integer, got {v!r}")
        if cluster is None:
            return
        if int(cluster) > MAX_BANDS:
            raise CodecParameterError(f"{cls.name}: cluster={cluster} bands is more than {MAX_BANDS}")
        import torch

        from hsbench.codecs.learned.seedmodels import build

        with torch.device("meta"):
            build(cls.model_kind, dict(arch))

    def row_columns(self, cube: Cube) -> dict[str, Any]:
        """The common columns, the architecture, and HySpecNet-11k's nominal ``32 / CR`` figures."""
        m = self.loaded
        model, cluster, _, _ = self._args()
        groups = -(-cube.bands // cluster)
        if model.downsampling == 1:  # pixel-wise: the latent values of the image's pixels (HySpecNet's C / B)
            values = model.latent_elements(groups, 1) * cube.rows * cube.cols
        else:  # every coded tile, padding included
            t = tile_size(cube.rows, cube.cols, self.config["tile"], model.downsampling)
            ny, nx = tile_grid(cube.rows, cube.cols, t)
            values = model.latent_elements(groups * ny * nx, t)
        return {
            **super().row_columns(cube),
            **{f"arch_{k}": v for k, v in m.arch.items()},
            "nominal_bpppc": 32.0 * values / cube.num_samples,
            "nominal_cr": cube.num_samples / values,
            "nominal_cr_bits": 32,
            "latent_values": values,
        }


def _params(tiny: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {**LearnedTransformCodec.params, "cluster": None, "tile": 64, "batch": 4, **tiny, **extra}


def _knob(points: tuple[float, ...]) -> Knob:
    """The ``lmbda`` knob with this codec's own default points (those of its shipped models, its ``-hsi`` recipe).

    ``R`` in ``R + lambda 255^2 MSE`` is in bits per pixel of a whole cluster (:mod:`.rdtrain`), and the
    seed models' cluster is every band of the data (180 for ``synthetic-hsi``), not 3: at the same
    lambda they weigh distortion about ``cluster / 3`` times less than ``hyperprior`` and collapse to
    almost no rate, so each has its own lambdas, chosen so its shipped models' rate and PSNR rise
    with lambda on ``synthetic-hsi`` (1D-CAE: 0.15 - 0.65 bpppc, inside per-band JPEG 2000's default
    sweep; HyCoT: 0.05 - 0.10 bpppc, at its lowest points). The hybrid models' cluster is
    :data:`HYBRID_CLUSTER` bands, so their lambdas are smaller than the pixel-wise models'. The default run runs a learned codec only
    where a shipped model serves the data.
    """
    return replace(LearnedTransformCodec.knob, default_points=points,
                   help="rate-distortion trade-off lambda of the loss R + lambda 255^2 MSE (R: bits per pixel of "
                        "all the network's bands); one trained model per value")


class Cae1dCodec(SeedTransformCodec):
    """HySpecNet-11k's 1D-CAE with a factorized prior on its per-pixel latent."""

    name: ClassVar[str] = "cae1d"
    model_kind: ClassVar[str] = "cae1d"
    description: ClassVar[str] = (
        "1D-CAE per-pixel spectral autoencoder of the HySpecNet-11k benchmark (Kuester et al. 2021; "
        "Fuchs & Demir 2023), factorized prior, range coding"
    )
    arch_params: ClassVar[tuple[str, ...]] = ("cluster", "blocks", "width")
    tiny: ClassVar[dict[str, Any]] = {"blocks": 2, "width": 8}
    paper: ClassVar[dict[str, Any]] = {"blocks": 2, "width": 32}
    default_run: ClassVar[str | None] = (
        "its exact (float64) decoder takes about a minute per synthetic-hsi image on one core; shipped models "
        "for synthetic-hsi (recipe cae1d-hsi): name it in --codecs"
    )
    knob: ClassVar[Knob] = _knob((0.1, 0.5, 2.5))
    params: ClassVar[dict[str, Any]] = _params(tiny, lmbda=0.5)
    quick_settings: ClassVar[dict[str, Any]] = {"patch": 16}


class HyCoTCodec(SeedTransformCodec):
    """HyCoT (Fuchs, Rasti, Demir 2024) with a factorized prior on its per-pixel latent."""

    name: ClassVar[str] = "hycot"
    model_kind: ClassVar[str] = "hycot"
    description: ClassVar[str] = (
        "HyCoT per-pixel spectral transformer autoencoder (Fuchs, Rasti & Demir 2024), factorized prior, range coding"
    )
    arch_params: ClassVar[tuple[str, ...]] = ("cluster", "ratio", "patch_depth", "dim", "depth", "heads",
                                              "dim_head", "mlp_dim", "hidden")  # fmt: skip
    tiny: ClassVar[dict[str, Any]] = {"ratio": 8, "patch_depth": 12, "dim": 16, "depth": 2, "heads": 2,
                                      "dim_head": 8, "mlp_dim": 8, "hidden": 64}  # fmt: skip
    paper: ClassVar[dict[str, Any]] = {"ratio": 4, "patch_depth": 4, "dim": 64, "depth": 5, "heads": 4,
                                       "dim_head": 16, "mlp_dim": 8, "hidden": 1024}  # fmt: skip
    default_run: ClassVar[str | None] = None  # shipped models for synthetic-hsi (recipe -hsi)
    knob: ClassVar[Knob] = _knob((0.01, 0.03, 0.1))
    params: ClassVar[dict[str, Any]] = _params(tiny, lmbda=0.03)
    quick_settings: ClassVar[dict[str, Any]] = {"patch": 16}
    #: a ratio the fuzz shapes' 4 bands allow, 4-band spectral patches, a small MLP decoder
    tiny_arch: ClassVar[dict[str, Any]] = {"ratio": 2, "patch_depth": 4, "hidden": 16}


class S2CNetCodec(SeedTransformCodec):
    """S2C-Net (seed 004): pixel-wise spectral AE with the scale hyperprior in its bottleneck."""

    name: ClassVar[str] = "s2cnet"
    model_kind: ClassVar[str] = "s2cnet"
    description: ClassVar[str] = (
        "S2C-Net (Sprengel, Fuchs & Demir): pre-trained pixel-wise spectral AE with a scale-hyperprior "
        "spatial codec in its bottleneck, mixed spectral + spatial loss"
    )
    arch_params: ClassVar[tuple[str, ...]] = ("cluster", "blocks", "width", "N", "M")
    tiny: ClassVar[dict[str, Any]] = {"blocks": 2, "width": 8, "N": 16, "M": 24}
    #: the spectral AE of the 1D-CAE's size; the spatial model at the HySpecNet papers' hyperprior size
    paper: ClassVar[dict[str, Any]] = {"blocks": 2, "width": 32, "N": 128, "M": 192}
    params: ClassVar[dict[str, Any]] = _params(tiny, tile=256, batch=2)
    quick_settings: ClassVar[dict[str, Any]] = {"patch": 64, "batch": 2}
    #: few channels: the hyperprior downsamples by 64, so its training patches cannot be smaller than 64 x 64
    tiny_arch: ClassVar[dict[str, Any]] = {"width": 4, "N": 8, "M": 8}


class CnnLstmCodec(SeedTransformCodec):
    """The CNN-LSTM cascade autoencoder of seed 002, factorized prior on its latent."""

    name: ClassVar[str] = "cnn-lstm-ae"
    model_kind: ClassVar[str] = "cnn-lstm-ae"
    description: ClassVar[str] = (
        "hybrid CNN-LSTM cascade autoencoder (seed 002), plain / sparse / variational, factorized prior, range coding"
    )
    arch_params: ClassVar[tuple[str, ...]] = ("cluster", "tile", "width", "hidden1", "hidden2", "latent", "variant")
    tiny: ClassVar[dict[str, Any]] = {"tile": 8, "width": 8, "hidden1": 32, "hidden2": 32, "latent": 2,
                                      "variant": "plain"}  # fmt: skip
    paper: ClassVar[dict[str, Any]] = {"tile": 64, "width": 64, "hidden1": 100, "hidden2": 100, "latent": 3,
                                       "variant": "plain"}  # fmt: skip
    default_run: ClassVar[str | None] = (
        "a job takes 12 - 37 s per synthetic-hsi image on one core (its float64 decoder runs the LSTMs over 15 "
        "clusters x 1024 tiles); shipped models for synthetic-hsi (recipe cnn-lstm-ae-hsi): name it in --codecs"
    )
    knob: ClassVar[Knob] = _knob(CNN_LSTM_POINTS)
    params: ClassVar[dict[str, Any]] = _params(tiny, batch=16, cluster=HYBRID_CLUSTER, lmbda=CNN_LSTM_POINTS[1])
    quick_settings: ClassVar[dict[str, Any]] = {"patch": 16}


class TwoPathCodec(SeedTransformCodec):
    """The two-path (CNN + attention) autoencoder of seed 002, factorized prior on its latent."""

    name: ClassVar[str] = "two-path-ae"
    model_kind: ClassVar[str] = "two-path-ae"
    description: ClassVar[str] = (
        "hybrid two-path spatial (CNN) / spectral (attention) autoencoder (seed 002), plain / sparse / "
        "variational, factorized prior, range coding"
    )
    arch_params: ClassVar[tuple[str, ...]] = ("cluster", "tile", "width", "latent", "variant")
    tiny: ClassVar[dict[str, Any]] = {"tile": 16, "width": 8, "latent": 32, "variant": "plain"}
    paper: ClassVar[dict[str, Any]] = {"tile": 64, "width": 64, "latent": 64, "variant": "plain"}
    default_run: ClassVar[str | None] = (
        "a job takes 13 - 16 s per synthetic-hsi image on one core; shipped models for synthetic-hsi (recipes "
        "two-path-ae-hsi, two-path-ae-sparse-hsi, two-path-ae-variational-hsi): name it in --codecs"
    )
    knob: ClassVar[Knob] = _knob(TWO_PATH_POINTS)
    params: ClassVar[dict[str, Any]] = _params(tiny, batch=16, cluster=HYBRID_CLUSTER, lmbda=TWO_PATH_POINTS[1])
    quick_settings: ClassVar[dict[str, Any]] = {"patch": 16}
