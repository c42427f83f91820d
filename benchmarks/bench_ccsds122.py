"""asv benchmarks of the ccsds122 codec: encode / decode speed and rate on two image shapes.

``Ccsds122Speed`` times a 100 x 256 x 256 16-bit cube (smooth synthetic scene with
noise) and a 512 x 512 8-bit photograph (scikit-image's astronaut, green
channel), lossless and at 1 bpppc. Throughput in MB/s = raw bytes
(``B * H * W * bytes per sample``) / seconds; ``track_*`` report it directly.
"""

from __future__ import annotations

import time

import numpy as np

from hsbench.codecs.registry import create_codec
from hsbench.cube import Cube


def _cube_16bit() -> Cube:
    rng = np.random.default_rng(0)
    b, h, w = 100, 256, 256
    yy, xx = np.mgrid[0:h, 0:w] / 32.0
    spatial = np.sin(yy) * np.cos(0.7 * xx) + 0.5 * np.sin(0.3 * xx + yy * 0.2)
    spectra = np.linspace(0.3, 1.0, b)[:, None, None]
    data = 20000 + 15000 * spectra * spatial[None] + rng.normal(0, 60, (b, h, w))
    return Cube(np.clip(data, 0, 65535).astype(np.uint16), bit_depth=16, name="synthetic-16bit")


def _image_8bit() -> Cube:
    import skimage.data

    return Cube(np.ascontiguousarray(skimage.data.astronaut()[None, :, :, 1]), bit_depth=8, name="astronaut-g")


_CUBES = {"100x256x256-u16": _cube_16bit, "1x512x512-u8": _image_8bit}
_MODES = {"lossless": {"lossless": True}, "1bpppc": {"bpppc": 1.0}}


class Ccsds122Speed:
    """Encode / decode time, throughput and rate of ccsds122."""

    params = [list(_CUBES), list(_MODES)]
    param_names = ["image", "mode"]
    timeout = 300
    number = 1
    repeat = 3

    def setup(self, image: str, mode: str) -> None:
        self.cube = _CUBES[image]()
        self.codec = create_codec("ccsds122", **_MODES[mode])
        self.data = self.codec.encode(self.cube)  # also compiles the numba kernels
        self.codec.decode(self.data)
        self.raw_mb = self.cube.num_samples * self.cube.dtype.itemsize / 1e6

    def time_encode(self, image: str, mode: str) -> None:
        self.codec.encode(self.cube)

    def time_decode(self, image: str, mode: str) -> None:
        self.codec.decode(self.data)

    def track_encode_mb_per_s(self, image: str, mode: str) -> float:
        t = time.perf_counter()
        self.codec.encode(self.cube)
        return self.raw_mb / (time.perf_counter() - t)

    track_encode_mb_per_s.unit = "MB/s"  # type: ignore[attr-defined]

    def track_decode_mb_per_s(self, image: str, mode: str) -> float:
        t = time.perf_counter()
        self.codec.decode(self.data)
        return self.raw_mb / (time.perf_counter() - t)

    track_decode_mb_per_s.unit = "MB/s"  # type: ignore[attr-defined]

    def track_bpppc(self, image: str, mode: str) -> float:
        return 8 * len(self.data) / self.cube.num_samples

    track_bpppc.unit = "bits/sample"  # type: ignore[attr-defined]

    def peakmem_encode(self, image: str, mode: str) -> None:
        self.codec.encode(self.cube)
