"""``hyperprior``: the scale hyperprior (Ballé et al., ICLR 2018) and its mean-scale variant (Minnen et al. 2018).

For hyperspectral images this is seed 003's system (Mijares i Verdú, Ballé, Laparra,
Bartrina-Rapesta, Hernández-Cabronero, Serra-Sagristà, "Scalable reduced-complexity compression of
hyperspectral remote sensing images using deep learning", 2023): the scale-hyperprior model applied
to clusters of ``cluster`` = 1 or 3 consecutive bands, each image scaled per band by its own min /
max (carried in the stream). Paper sizes: ``N=64, M=192`` and ``M=384``
(``hsbench train --recipe hyperprior-paper-c1-m192`` and its siblings); the default is a CPU-sized ``N=24, M=32``.
``variant=scale`` (Ballé 2018) or ``mean-scale`` (Minnen 2018 without the autoregressive context).
On RGB (``cluster=3``) it is bmshj2018-hyperprior.
"""

from __future__ import annotations

from typing import Any, ClassVar

from hsbench.codecs.learned.transform import LearnedTransformCodec
from hsbench.errors import CodecParameterError

#: ``scale`` (Ballé 2018) or ``mean-scale`` (Minnen 2018, no context model)
VARIANTS = ("scale", "mean-scale")


class HyperpriorCodec(LearnedTransformCodec):
    """Scale / mean-scale hyperprior: ``lmbda`` picks the trained model (one per rate point)."""

    name: ClassVar[str] = "hyperprior"
    model_kind: ClassVar[str] = "hyperprior"
    description: ClassVar[str] = (
        "scale-hyperprior learned coder (Balle et al. 2018; seed 003's band clusters for hyperspectral data; "
        "mean-scale variant of Minnen et al. 2018), integer-table range coding"
    )
    arch_params: ClassVar[tuple[str, ...]] = ("cluster", "N", "M", "variant")
    params: ClassVar[dict[str, Any]] = {**LearnedTransformCodec.params, "variant": "scale"}
    tiny_arch: ClassVar[dict[str, Any]] = {**LearnedTransformCodec.tiny_arch, "variant": "scale"}

    @classmethod
    def check_arch(cls, arch: dict[str, Any]) -> None:
        """Also check ``variant``."""
        super().check_arch(arch)
        if arch.get("variant") not in VARIANTS:
            raise CodecParameterError(f"{cls.name}: variant must be one of {', '.join(VARIANTS)}, got {arch.get('variant')!r}")
