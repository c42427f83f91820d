"""asv benchmarks of the classical codecs (``jpeg``, ``jpeg2000``, ``klt-jpeg2000``): time, memory, size.

Images: ``astronaut`` (scikit-image, 3 x 512 x 512, 8 bit) and ``hsi16``, a
deterministic 100 x 256 x 256 16-bit cube (astronaut's three colour planes mixed
with smooth per-band weights, plus sensor-like noise) that stands in for a
hyperspectral scene without needing any download. Throughput in MB/s is
``cube.nominal_bytes / time`` (raw size at the nominal bit depth).
"""

from __future__ import annotations

import time

import numpy as np

from hsbench.codecs import create_codec
from hsbench.cube import Cube


def astronaut() -> Cube:
    """scikit-image's astronaut as a (3, 512, 512) uint8 cube."""
    import skimage.data

    return Cube.from_hwc(skimage.data.astronaut(), bit_depth=8, name="astronaut")


def hsi16(bands: int = 100, side: int = 256, seed: int = 0) -> Cube:
    """A deterministic ``(bands, side, side)`` 16-bit cube: real spatial structure, smooth spectra, noise."""
    planes = astronaut().data[:, ::2, ::2][:, :side, :side].astype(np.float64) / 255.0
    rng = np.random.default_rng(seed)
    wl = np.linspace(0.0, 1.0, bands)
    centres = rng.uniform(0, 1, size=(3, 1))
    weights = np.exp(-((wl[None, :] - centres) ** 2) / 0.08)  # (3, bands): smooth spectral shapes
    cube = np.einsum("kb,khw->bhw", weights, planes) / weights.sum(axis=0)[:, None, None]
    cube = 2000 + cube * 40000 + rng.normal(0, 60, size=cube.shape)
    return Cube(np.clip(np.rint(cube), 0, 65535).astype(np.uint16), bit_depth=16, name="hsi16")


IMAGES = {"astronaut": astronaut, "hsi16": hsi16}
CODECS = {
    "jpeg-q75": ("jpeg", {"quality": 75}),
    "jpeg2000-r16": ("jpeg2000", {"ratio": 16}),
    "jpeg2000-lossless": ("jpeg2000", {"lossless": True}),
    "klt-jpeg2000-r64": ("klt-jpeg2000", {"ratio": 64}),
    "klt-jpeg2000-lossless": ("klt-jpeg2000", {"lossless": True}),
}


class Classical:
    """Encode / decode of each classical codec set-up on each benchmark image."""

    params = (list(CODECS), list(IMAGES))
    param_names = ("codec", "image")
    timeout = 300
    number = 1
    repeat = (2, 5, 30.0)

    def setup(self, codec: str, image: str) -> None:
        name, kwargs = CODECS[codec]
        self.cube = IMAGES[image]()
        self.codec = create_codec(name, **kwargs)
        self.stream = self.codec.encode(self.cube)

    def time_encode(self, codec: str, image: str) -> None:
        self.codec.encode(self.cube)

    def time_decode(self, codec: str, image: str) -> None:
        self.codec.decode(self.stream)

    def peakmem_encode(self, codec: str, image: str) -> None:
        self.codec.encode(self.cube)

    def track_compression_ratio(self, codec: str, image: str) -> float:
        """Raw size at the nominal bit depth over the stream length."""
        return self.cube.nominal_bytes / len(self.stream)

    track_compression_ratio.unit = "ratio"  # type: ignore[attr-defined]

    def track_encode_mb_per_s(self, codec: str, image: str) -> float:
        """Raw megabytes coded per second (best of 3)."""
        return self.cube.nominal_bytes / 1e6 / _best_of(3, lambda: self.codec.encode(self.cube))

    track_encode_mb_per_s.unit = "MB/s"  # type: ignore[attr-defined]

    def track_decode_mb_per_s(self, codec: str, image: str) -> float:
        """Raw megabytes decoded per second (best of 3)."""
        return self.cube.nominal_bytes / 1e6 / _best_of(3, lambda: self.codec.decode(self.stream))

    track_decode_mb_per_s.unit = "MB/s"  # type: ignore[attr-defined]


def _best_of(repeats: int, func) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return best
