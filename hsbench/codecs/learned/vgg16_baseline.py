"""The "GNN model (VGG16 + CNN decoder)" baseline of the SSCNet paper, reimplemented from its description.

The SSCNet paper (seed 001, Tables 5 and 6) compares against its own
reimplementation of Deng, Cen and Zhang, "Learning-based hyperspectral imagery
compression through generative neural networks", Remote Sens. 12:3657 (2020),
ref. [24]. No code or weights of it are public, so this is **a reimplementation
from the papers' description** (SPEC section 3), not the authors' model:

encoder (standard VGG16 layout with B input channels, ``width`` = 64 and ``fc`` = 4096 in the paper)
    13 3x3 convs with ReLU in groups (w, w | 2w, 2w | 4w, 4w, 4w | 8w, 8w, 8w | 8w, 8w, 8w), max-pool 2
    after each group, adaptive average pool to 7x7, Linear(8w*49 -> fc) ReLU Dropout,
    Linear(fc -> fc) ReLU Dropout, Linear(fc -> L). Dropout p = 0.5 for fc >= 1024 (the paper's
    head), 0 in the narrow quick head, where it kept the model near a constant image.
    He initialisation along the whole path (:func:`_vgg_init`).
    B = 432, L = 10,000: 175.5 M parameters (the paper's Table 6: 175 M).

decoder (a small transposed-convolution CNN; the paper gives only its size, 0.683 M)
    Linear(L -> 64) PReLU, reshape to 64x1x1, ConvT(64->32, k=s=T/16) PReLU,
    ConvT(32->32), ConvT(32->16), ConvT(16->16), ConvT(16->16) (k2, s2) each with PReLU,
    ConvT(16->B, k3, p1) Sigmoid.   B = 432, L = 10,000: about 0.74 M parameters.

The paper's latent sizes are 10,000 / 5,000 / 1,000 / 48 floats per 432x64x64
tile. The default *quick* configuration is reduced (``width`` 8, ``fc`` 256,
32x32 tiles) so it trains in seconds on a CPU; :meth:`Vgg16BaselineCodec.paper_arch`
is the full one (``hsbench train vgg16-baseline --paper``).

``entropy=minmax`` (default) codes the latent as the paper does (post-hoc ``bits``-bit quantiser);
``entropy=factorized`` puts the factorized prior on it and trains on ``R + lambda D`` (knob ``lmbda``),
as for SSCNet (:mod:`.sscnet`, :mod:`.base`).

Known limit of the quick model (from development runs, not reproduced by a test: 600 steps on
``samples-train``, evaluated on astronaut / coffee): the deep plain-ReLU encoder, not the decoder,
limits it. This decoder behind SSCNet-linear's encoder reaches 18.3 dB, SSCNet-linear's decoder
behind this encoder 13.1 dB; depending on the seed the quick VGG16 reaches 11.5 to 14 dB (a
constant image of the training mean: 11 dB; each tile's own mean colour: 16 dB).
Judge the baseline with a trained checkpoint, not the quick model.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from hsbench.codecs.base import Knob
from hsbench.codecs.learned.base import LearnedCodec
from hsbench.errors import CodecParameterError

#: VGG16 conv groups as multiples of the first width: (64,64 | 128,128 | 256x3 | 512x3 | 512x3) / 64
VGG16_GROUPS = ((1, 1), (2, 2), (4, 4, 4), (8, 8, 8), (8, 8, 8))
_DECODER_WIDTH = 64
#: VGG16's Dropout(0.5) is kept for classifier heads at least this wide (the paper's fc = 4096); in the
#: narrow quick head (fc = 256) it is p = 0: in a development run on ``samples`` after 2000 steps it gave
#: about 14.4 dB without it against 12.4 dB with it, not reproduced by a test (the module stays, so
#: checkpoints keep their layer indices)
_DROPOUT_MIN_FC = 1024


class Vgg16BaselineCodec(LearnedCodec):
    """VGG16 encoder + small transposed-conv decoder (reimplementation of the SSCNet paper's ref. [24])."""

    name: ClassVar[str] = "vgg16-baseline"
    description: ClassVar[str] = (
        "VGG16 + CNN decoder baseline of the SSCNet paper (ref. [24], Deng et al. 2020), reimplemented "
        "from the papers' description; quantised + range-coded latent "
        "(entropy=factorized: factorized prior, R + lambda D)"
    )
    knob: ClassVar[Knob] = Knob(
        name="latent",
        low=1,
        high=1_000_000,
        increases_rate=True,
        default_points=(48, 256),
        integer=True,
        log_scale=True,
        discrete=True,
        unit="units",
        help="latent units per tile (paper: 10000 / 5000 / 1000 / 48); each value is its own model",
    )
    params: ClassVar[dict[str, Any]] = {
        "latent": 256,
        "bits": 8,
        "entropy": "minmax",
        "lmbda": 0.013,
        "checkpoint": None,
        "device": "auto",
        "batch": 64,
        "tile": 32,
        "width": 8,
        "fc": 256,
        "quick_trained": False,
        "model_source": None,
    }
    per_channel: ClassVar[bool] = False
    #: quick-training learning rate: at the shared 5e-3 the 13 ReLU convolutions collapse to a constant
    #: output within 120 steps (measured on ``samples-train``); 2e-3 learns (see :func:`_vgg_init`)
    quick_lr: ClassVar[float | None] = 2e-3
    #: no shipped model (even the quick size is about 2 MB a model, over the package budget), and the default
    #: run trains nothing
    default_run: ClassVar[str | None] = (
        "no shipped model; name it with --codecs vgg16-baseline (quick-trains, or `hsbench train --recipe "
        "vgg16-baseline-rgb`)"
    )
    #: 2: He initialisation of the whole path and no dropout in narrow heads (same weights' layout)
    network_revision: ClassVar[int] = 2
    arch_params: ClassVar[tuple[str, ...]] = ("latent", "tile", "width", "fc")
    tile_multiple: ClassVar[int] = 16

    @classmethod
    def check_arch(cls, arch: dict[str, Any]) -> None:
        """Tiles must be multiples of 16 and at least 32 pixels (five 2x poolings)."""
        super().check_arch(arch)
        if int(arch["tile"]) < 32:
            raise CodecParameterError(f"{cls.name}: tile={arch['tile']} must be at least 32 (VGG16 pools 5 times)")

    @classmethod
    def paper_arch(cls, bands: int, latent: int | None = None) -> dict[str, Any]:
        """The full VGG16 (width 64, fc 4096) on 64x64 tiles with 10,000 latent units unless given."""
        return {"bands": int(bands), "tile": 64, "width": 64, "fc": 4096, "latent": int(latent or 10_000)}

    @classmethod
    def latent_shape(cls, arch: dict[str, Any]) -> tuple[int, ...]:
        return (int(arch["latent"]),)

    @classmethod
    def build_network(cls, arch: dict[str, Any]) -> Any:
        """VGG16 encoder and the small decoder of the module docstring."""
        from torch import nn

        b, w, fc, lat, t = (int(arch[k]) for k in ("bands", "width", "fc", "latent", "tile"))
        layers: list[Any] = []
        c_in = b
        for group in VGG16_GROUPS:
            for mult in group:
                layers += [nn.Conv2d(c_in, mult * w, 3, padding=1), nn.ReLU(inplace=True)]
                c_in = mult * w
            layers.append(nn.MaxPool2d(2))
        layers += [
            nn.AdaptiveAvgPool2d((7, 7)),
            nn.Flatten(),
            nn.Linear(c_in * 49, fc), nn.ReLU(inplace=True), nn.Dropout(0.5),
            nn.Linear(fc, fc), nn.ReLU(inplace=True), nn.Dropout(0.5),
            nn.Linear(fc, lat),
        ]  # fmt: skip
        encoder = nn.Sequential(*layers)
        for m in encoder.modules():
            if isinstance(m, nn.Dropout):
                m.p = 0.5 if fc >= _DROPOUT_MIN_FC else 0.0
        d = _DECODER_WIDTH
        k = t // 16
        decoder = nn.Sequential(
            nn.Linear(lat, d), nn.PReLU(d),
            nn.Unflatten(1, (d, 1, 1)),
            nn.ConvTranspose2d(d, 32, k, stride=k), nn.PReLU(32),
            nn.ConvTranspose2d(32, 32, 2, stride=2), nn.PReLU(32),
            nn.ConvTranspose2d(32, 16, 2, stride=2), nn.PReLU(16),
            nn.ConvTranspose2d(16, 16, 2, stride=2), nn.PReLU(16),
            nn.ConvTranspose2d(16, 16, 2, stride=2), nn.PReLU(16),
            nn.ConvTranspose2d(16, b, 3, stride=1, padding=1), nn.Sigmoid(),
        )  # fmt: skip
        _vgg_init(encoder, decoder)
        return nn.ModuleDict({"encoder": encoder, "decoder": decoder})


def _vgg_init(encoder: Any, decoder: Any) -> None:
    """He initialisation along the whole autoencoder path, so the input reaches the output at the start.

    Encoder convs: He-normal, fan-out (torchvision's VGG). Encoder linears: He-normal, fan-in, for
    the two followed by ReLU, LeCun-normal (``std = 1/sqrt(fan_in)``) for the latent layer. Decoder:
    He-normal for the PReLU slope ``a = 0.25`` (``std = sqrt(2 / ((1 + a^2) fan_in))``, He et al., ICCV
    2015, eq. 15), with the true fan-in ``C_in (k / s)^2`` of a transposed convolution. Zero biases.

    torchvision's ``N(0, 0.01)`` for the linears (made for a 1000-class head) and PyTorch's default
    decoder init shrank the input-dependent part of the output by about 10^6 (measured: batch std of
    the sigmoid output 2.5e-8 at initialisation on ``samples-train`` tiles), so training fitted the
    mean image and the quick model stayed at the PSNR of a constant image.
    """
    from torch import nn

    def he(weight: Any, fan_in: float, slope: float) -> None:
        nn.init.normal_(weight, 0.0, math.sqrt(2.0 / ((1.0 + slope * slope) * fan_in)))

    linears = [m for m in encoder.modules() if isinstance(m, nn.Linear)]
    for m in encoder.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            nn.init.zeros_(m.bias)
    for m in linears[:-1]:
        he(m.weight, m.in_features, 0.0)
        nn.init.zeros_(m.bias)
    nn.init.normal_(linears[-1].weight, 0.0, 1.0 / math.sqrt(linears[-1].in_features))
    nn.init.zeros_(linears[-1].bias)
    for m in decoder.modules():
        if isinstance(m, nn.Linear):
            he(m.weight, m.in_features, 0.25)
        elif isinstance(m, nn.ConvTranspose2d):
            he(m.weight, m.in_channels * (m.kernel_size[0] / m.stride[0]) * (m.kernel_size[1] / m.stride[1]), 0.25)
        else:
            continue
        nn.init.zeros_(m.bias)
