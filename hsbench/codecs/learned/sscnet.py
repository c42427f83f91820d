"""SSCNet, the Spectral Signals Compressor Network (La Grassa et al., Remote Sens. 14:2472, 2022; seed 001).

Two variants, with the layer lists of SPEC section 2 (3x3 convolutions with
padding 1, PReLU with one parameter per channel, max-pool 2, sigmoid output):

``sscnet`` ("last conv", the paper's better variant; VIRTIS 432x64x64)
    encoder  Conv(B->w) PReLU, Conv(w->w) PReLU, MaxPool, Conv(w->w) PReLU, MaxPool,
             Conv(w->2w) PReLU, MaxPool, Conv(2w->L) PReLU           latent L x T/8 x T/8
    decoder  ConvT(L->2w,k3,p1) PReLU, ConvT(2w->w,k2,s2) PReLU, ConvT(w->w,k2,s2) PReLU,
             ConvT(w->w,k2,s2) PReLU, ConvT(w->B,k3,p1) Sigmoid
    Paper: w = 256, L = 1024 (27:1 element ratio at 64x64): 8.08 M / 6.76 M parameters.

``sscnet-linear`` (linear bottleneck), two layouts (parameter ``layout``):

    ``lombardia`` (default; Lombardia Sentinel-2 9x48x48, RGB; three pools)
    encoder  Conv(B->w) PReLU, Conv(w->2w) PReLU, MaxPool, Conv(2w->4w) PReLU, MaxPool,
             Conv(4w->4w) PReLU, MaxPool, Flatten, Linear(4w*(T/8)^2 -> L)
    decoder  Linear(L -> 4w*(T/8)^2) PReLU(one parameter per element), reshape,
             ConvT(4w->4w,k2,s2) PReLU, ConvT(4w->2w,k2,s2) PReLU, ConvT(2w->w,k2,s2) PReLU,
             ConvT(w->B,k3,p1) Sigmoid
    Paper: w = 64, T = 48, L = 500 for Sentinel-2 (20.7:1 nominal).

    ``virtis`` (VIRTIS-Rosetta 432x64x64, the paper's 177:1 / 353:1 / 1769:1 rows of Table 5; four pools)
    encoder  the "last conv" encoder above with a fourth MaxPool after its last convolution:
             Conv(B->w) PReLU, Conv(w->w) PReLU, MaxPool, Conv(w->w) PReLU, MaxPool,
             Conv(w->2w) PReLU, MaxPool, Conv(2w->4w) PReLU, MaxPool, Flatten, Linear(4w*(T/16)^2 -> L)
    decoder  Linear(L -> 4w*(T/16)^2) PReLU(per element), reshape, ConvT(4w->2w,k2,s2) PReLU,
             ConvT(2w->w,k2,s2) PReLU, ConvT(w->w,k2,s2) PReLU, ConvT(w->w,k2,s2) PReLU,
             ConvT(w->B,k3,p1) Sigmoid
    Paper: w = 256, T = 64, L = 10,000 / 5,000 / 1,000. The reference code (``SSCNet_lastconv.py``)
    keeps this linear head commented out (``Linear(1024*4*4, hidden)`` after a fourth pool); the
    decoder's four 2x transposed convolutions are hsbench's reading of it. With B = 432 and
    L = 10,000 it has 171.9 M encoder and 168.0 M decoder parameters, the paper's Table 6
    "171 (enc) 168 (dec)"; the Lombardia layout at that size has 165 M.

Coding (parameter ``entropy``, both variants and ``vgg16-baseline``; :mod:`.base`):

``entropy=minmax`` (default; the published form)
    trained on distortion only; the latent is quantised after the fact to ``bits`` bits per value
    (per-channel min / max in the stream) and range-coded; the knob is ``latent``.
``entropy=factorized``
    the same network with the factorized prior of the rate-distortion core on its latent
    (:class:`.seedmodels.AutoencoderPriorModel`: learned per-channel gains, one density per latent
    channel or unit), trained on ``R + lambda 255^2 MSE`` by :func:`.rdtrain.train_rd`; the knob is
    ``lmbda`` (one model per value, ``latent`` stays an architecture parameter); the rounded latent
    is range-coded with the prior's integer tables fixed at export, each image scaled per band by
    its own min / max. Rows keep the nominal columns and add ``estimated_bpppc`` and ``lmbda``.
    ``hsbench train --recipe sscnet-factorized-hsi`` trains the quick size on ``synthetic-hsi-train``.

``width`` (w) and ``tile`` (T) default to a reduced *quick* configuration (w = 32 /
16, T = 32) that trains in seconds on a CPU; :meth:`SSCNetCodec.paper_arch` gives
the published sizes for users with a GPU (``hsbench train sscnet --paper``).
"""

from __future__ import annotations

from typing import Any, ClassVar

from hsbench.codecs.base import Knob
from hsbench.codecs.learned.base import LearnedCodec
from hsbench.errors import CodecParameterError

#: layouts of the linear-bottleneck SSCNet (module docstring) and the pooling factor of each
LINEAR_LAYOUTS: dict[str, int] = {"lombardia": 8, "virtis": 16}


class SSCNetCodec(LearnedCodec):
    """SSCNet, fully convolutional ("last conv") variant: latent ``L x T/8 x T/8``."""

    name: ClassVar[str] = "sscnet"
    description: ClassVar[str] = (
        "SSCNet autoencoder, fully convolutional 'last conv' variant (La Grassa et al. 2022); "
        "quantised + range-coded latent (entropy=factorized: factorized prior, R + lambda D)"
    )
    knob: ClassVar[Knob] = Knob(
        name="latent",
        low=1,
        high=65536,
        increases_rate=True,
        default_points=(4, 16),
        integer=True,
        log_scale=True,
        discrete=True,
        unit="channels",
        help="latent channels L (latent is L x T/8 x T/8 per tile); each value is its own model",
    )
    params: ClassVar[dict[str, Any]] = {
        "latent": 16,
        "bits": 8,
        "entropy": "minmax",
        "lmbda": 0.013,
        "checkpoint": None,
        "device": "auto",
        "batch": 64,
        "tile": 32,
        "width": 32,
        "quick_trained": False,
        "model_source": None,
    }
    per_channel: ClassVar[bool] = True

    @classmethod
    def paper_arch(cls, bands: int, latent: int | None = None) -> dict[str, Any]:
        """VIRTIS configuration: 64x64 tiles, width 256, L = 1024 unless given."""
        return {"bands": int(bands), "tile": 64, "width": 256, "latent": int(latent or 1024)}

    @classmethod
    def latent_shape(cls, arch: dict[str, Any]) -> tuple[int, ...]:
        t = int(arch["tile"]) // 8
        return (int(arch["latent"]), t, t)

    @classmethod
    def build_network(cls, arch: dict[str, Any]) -> Any:
        """The encoder / decoder of the table in the module docstring."""
        from torch import nn

        b, w, lat = int(arch["bands"]), int(arch["width"]), int(arch["latent"])
        encoder = nn.Sequential(
            nn.Conv2d(b, w, 3, padding=1), nn.PReLU(w),
            nn.Conv2d(w, w, 3, padding=1), nn.PReLU(w),
            nn.MaxPool2d(2),
            nn.Conv2d(w, w, 3, padding=1), nn.PReLU(w),
            nn.MaxPool2d(2),
            nn.Conv2d(w, 2 * w, 3, padding=1), nn.PReLU(2 * w),
            nn.MaxPool2d(2),
            nn.Conv2d(2 * w, lat, 3, padding=1), nn.PReLU(lat),
        )  # fmt: skip
        decoder = nn.Sequential(
            nn.ConvTranspose2d(lat, 2 * w, 3, stride=1, padding=1), nn.PReLU(2 * w),
            nn.ConvTranspose2d(2 * w, w, 2, stride=2), nn.PReLU(w),
            nn.ConvTranspose2d(w, w, 2, stride=2), nn.PReLU(w),
            nn.ConvTranspose2d(w, w, 2, stride=2), nn.PReLU(w),
            nn.ConvTranspose2d(w, b, 3, stride=1, padding=1), nn.Sigmoid(),
        )  # fmt: skip
        return nn.ModuleDict({"encoder": encoder, "decoder": decoder})


class SSCNetLinearCodec(LearnedCodec):
    """SSCNet with the linear bottleneck: latent of ``L`` units per tile."""

    name: ClassVar[str] = "sscnet-linear"
    description: ClassVar[str] = (
        "SSCNet autoencoder, linear-bottleneck variant (La Grassa et al. 2022); quantised + range-coded latent "
        "(entropy=factorized: factorized prior, R + lambda D)"
    )
    knob: ClassVar[Knob] = Knob(
        name="latent",
        low=1,
        high=1_000_000,
        increases_rate=True,
        default_points=(32, 128),
        integer=True,
        log_scale=True,
        discrete=True,
        unit="units",
        help="hidden units L of the linear bottleneck per tile; each value is its own model",
    )
    params: ClassVar[dict[str, Any]] = {
        "latent": 128,
        "bits": 8,
        "entropy": "minmax",
        "lmbda": 0.013,
        "checkpoint": None,
        "device": "auto",
        "batch": 64,
        "tile": 32,
        "width": 16,
        "layout": "lombardia",
        "quick_trained": False,
        "model_source": None,
    }
    per_channel: ClassVar[bool] = False

    @classmethod
    def paper_arch(cls, bands: int, latent: int | None = None, layout: str = "lombardia") -> dict[str, Any]:
        """Published configurations: Lombardia (48x48 tiles, width 64, 500 units unless given) or
        VIRTIS (``layout="virtis"``: 64x64 tiles, width 256, 10,000 units unless given)."""
        if _layout(layout) == "virtis":
            return {"bands": int(bands), "tile": 64, "width": 256, "latent": int(latent or 10_000), "layout": "virtis"}
        return {"bands": int(bands), "tile": 48, "width": 64, "latent": int(latent or 500)}

    @classmethod
    def arch_from_params(cls, params: dict[str, Any], bands: int) -> dict[str, Any]:
        """The integer architecture parameters, plus ``layout`` when it is not the default ``lombardia``."""
        arch: dict[str, Any] = {"bands": int(bands), **{k: int(params[k]) for k in cls.arch_params}}
        if _layout(params.get("layout", "lombardia")) != "lombardia":  # the default stays implicit: older
            arch["layout"] = params["layout"]  # checkpoints and shipped models have no layout entry
        arch = cls.with_entropy(arch, params)
        cls.check_arch(arch)
        return arch

    @classmethod
    def check_arch(cls, arch: dict[str, Any]) -> None:
        """Besides the common checks: the VIRTIS layout pools four times, so its tiles are multiples of 16."""
        super().check_arch(arch)
        pool = LINEAR_LAYOUTS[_layout(arch.get("layout", "lombardia"))]
        if int(arch["tile"]) % pool:
            raise CodecParameterError(
                f"{cls.name}: tile={arch['tile']} must be a multiple of {pool} for layout={arch.get('layout')!r}"
            )

    def validate_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """The common checks, and ``layout`` one of :data:`LINEAR_LAYOUTS`."""
        params = super().validate_params(params)
        params["layout"] = _layout(params.get("layout", "lombardia"))
        return params

    def row_columns(self, cube: Any) -> dict[str, Any]:
        """The common columns plus the checkpoint's ``layout``."""
        arch = (self.rd if self.factorized else self.model).arch
        return {**super().row_columns(cube), "layout": arch.get("layout", "lombardia")}

    @classmethod
    def latent_shape(cls, arch: dict[str, Any]) -> tuple[int, ...]:
        return (int(arch["latent"]),)

    @classmethod
    def build_network(cls, arch: dict[str, Any]) -> Any:
        """The encoder / decoder of the linear variant (module docstring)."""
        from torch import nn

        b, w, lat, t = int(arch["bands"]), int(arch["width"]), int(arch["latent"]), int(arch["tile"])
        if _layout(arch.get("layout", "lombardia")) == "virtis":
            return linear_network(b, (w, w, w, 2 * w, 4 * w), lat, t)
        return linear_network(b, (w, 2 * w, 4 * w, 4 * w), lat, t)


def _layout(value: Any) -> str:
    if value not in LINEAR_LAYOUTS:
        raise CodecParameterError(
            f"sscnet-linear: layout must be one of {', '.join(LINEAR_LAYOUTS)}, got {value!r}"
        )
    return str(value)


def linear_network(b: int, widths: tuple[int, ...], lat: int, t: int) -> Any:
    """A linear-bottleneck SSCNet (module docstring) with convolutions of ``widths``, a 2x pool after all but the first.

    Lombardia: ``(w, 2w, 4w, 4w)``, three pools; VIRTIS: ``(w, w, w, 2w, 4w)``, four pools. The decoder
    goes back through the widths with 2x transposed convolutions, then ConvT(w -> B, k3) and a sigmoid.
    """
    from torch import nn

    s = t // (1 << (len(widths) - 1))
    flat = widths[-1] * s * s
    enc: list[Any] = [nn.Conv2d(b, widths[0], 3, padding=1), nn.PReLU(widths[0])]
    for c_in, c_out in zip(widths, widths[1:]):
        enc += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.PReLU(c_out), nn.MaxPool2d(2)]
    encoder = nn.Sequential(*enc, nn.Flatten(), nn.Linear(flat, lat))
    dec: list[Any] = [nn.Linear(lat, flat), nn.PReLU(flat), nn.Unflatten(1, (widths[-1], s, s))]
    for c_in, c_out in zip(widths[:0:-1], widths[-2::-1]):
        dec += [nn.ConvTranspose2d(c_in, c_out, 2, stride=2), nn.PReLU(c_out)]
    dec += [nn.ConvTranspose2d(widths[0], b, 3, stride=1, padding=1), nn.Sigmoid()]
    return nn.ModuleDict({"encoder": encoder, "decoder": nn.Sequential(*dec)})
