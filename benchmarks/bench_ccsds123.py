"""asv benchmarks of the ccsds123 codec: encode / decode speed and rate on a 224-band 16-bit cube.

The cube is synthetic (deterministic): smooth spatial structure times smooth
spectra plus sensor noise, 224 x 64 x 128 16-bit samples (1.8 M samples), so a
run takes seconds. ``track_*_msamples_per_s`` report the throughput the issue
targets (>= 10 M samples/s on one core), from process CPU time (best of 3).
``Ccsds123EntropyCoders`` compares the sample-adaptive, hybrid and block-adaptive
entropy coders (same predictor) lossless and at a = 16.
"""

from __future__ import annotations

import time

import numpy as np

from hsbench.codecs.registry import create_codec
from hsbench.cube import Cube


def _scene(bands: int = 224, rows: int = 64, cols: int = 128, seed: int = 0) -> Cube:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:rows, 0:cols]
    spatial = np.sin(xx / 9.0) * np.cos(yy / 13.0) + 0.3 * np.sin((xx + 2 * yy) / 4.0)
    spectra = 1.0 + 0.5 * np.sin(np.linspace(0, 3 * np.pi, bands))
    data = 20000 + 8000 * spatial[None] * spectra[:, None, None] + rng.normal(0, 25, (bands, rows, cols))
    return Cube(np.clip(np.rint(data), 0, 65535).astype(np.uint16), bit_depth=16, name="synthetic224")


class Ccsds123Speed:
    """Encode / decode time, lossless and near-lossless."""

    params = [0, 4]
    param_names = ["max_error"]
    timeout = 300

    def setup(self, max_error: int) -> None:
        self.cube = _scene()
        self.codec = create_codec("ccsds123", max_error=max_error)
        self.codec.decode(self.codec.encode(_scene(3, 4, 5)))  # load the compiled kernels
        self.stream = self.codec.encode(self.cube)

    def time_encode(self, max_error: int) -> None:
        self.codec.encode(self.cube)

    def time_decode(self, max_error: int) -> None:
        self.codec.decode(self.stream)

    def track_encode_msamples_per_s(self, max_error: int) -> float:
        return _best(self.cube, lambda: self.codec.encode(self.cube))

    def track_decode_msamples_per_s(self, max_error: int) -> float:
        return _best(self.cube, lambda: self.codec.decode(self.stream))

    def track_bpppc(self, max_error: int) -> float:
        return 8 * len(self.stream) / self.cube.num_samples

    def peakmem_encode(self, max_error: int) -> None:
        self.codec.encode(self.cube)


def _best(cube: Cube, fn) -> float:
    """M samples/s of ``fn`` on ``cube``, best of 3 by process CPU time (what one core delivers)."""
    best = float("inf")
    for _ in range(3):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return cube.num_samples / best / 1e6


class Ccsds123EntropyCoders:
    """Sample-adaptive vs hybrid vs block-adaptive entropy coder: speed and rate, same predictor."""

    params = [["sample", "hybrid", "block"], [0, 16]]
    param_names = ["entropy_coder", "max_error"]
    timeout = 300

    def setup(self, entropy_coder: str, max_error: int) -> None:
        self.cube = _scene()
        self.codec = create_codec("ccsds123", entropy_coder=entropy_coder, max_error=max_error)
        self.codec.decode(self.codec.encode(_scene(3, 4, 5)))  # load the compiled kernels
        self.stream = self.codec.encode(self.cube)

    def time_encode(self, entropy_coder: str, max_error: int) -> None:
        self.codec.encode(self.cube)

    def time_decode(self, entropy_coder: str, max_error: int) -> None:
        self.codec.decode(self.stream)

    def track_encode_msamples_per_s(self, entropy_coder: str, max_error: int) -> float:
        return _best(self.cube, lambda: self.codec.encode(self.cube))

    def track_decode_msamples_per_s(self, entropy_coder: str, max_error: int) -> float:
        return _best(self.cube, lambda: self.codec.decode(self.stream))

    def track_bpppc(self, entropy_coder: str, max_error: int) -> float:
        return 8 * len(self.stream) / self.cube.num_samples


class Ccsds123Orders:
    """The cost of band-interleaved output against BSQ (same residuals, other interleaving)."""

    params = ["bsq", "bil", "bip"]
    param_names = ["order"]
    timeout = 300

    def setup(self, order: str) -> None:
        self.cube = _scene(224, 32, 64)
        self.codec = create_codec("ccsds123", order=order)
        self.codec.decode(self.codec.encode(_scene(3, 4, 5)))
        self.stream = self.codec.encode(self.cube)

    def time_encode(self, order: str) -> None:
        self.codec.encode(self.cube)

    def time_decode(self, order: str) -> None:
        self.codec.decode(self.stream)
