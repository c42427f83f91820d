"""``factorized``: bmshj2018-factorized (Ballé, Minnen, Singh, Hwang, Johnston, ICLR 2018), reimplemented.

Conv / GDN analysis and synthesis transforms with the factorized prior on the latent
(:class:`~.rdmodels.FactorizedModel`), trained on ``R + lambda 255^2 MSE`` and coded with real
integer-table range coding (:mod:`.transform`). On hyperspectral data the model codes clusters of
``cluster`` consecutive bands (1 or 3, as seed 003 does for its hyperprior). ``N`` / ``M``: hidden and
latent channels (published RGB sizes: N = 128, M = 192; the default here is a CPU-sized 24 / 32).
"""

from __future__ import annotations

from typing import ClassVar

from hsbench.codecs.learned.transform import LearnedTransformCodec


class FactorizedCodec(LearnedTransformCodec):
    """bmshj2018-factorized: GDN transforms + factorized prior; ``lmbda`` picks the trained model."""

    name: ClassVar[str] = "factorized"
    model_kind: ClassVar[str] = "factorized"
    description: ClassVar[str] = (
        "learned transform coder with a factorized prior (Balle et al. 2018, bmshj2018-factorized), "
        "per-band min/max scaling, band clusters, integer-table range coding"
    )
