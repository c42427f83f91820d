"""asv benchmarks of :func:`hsbench.metrics.evaluate`, the per-job metric pass of the runner.

Four cubes, each against a noisy reconstruction: an 8-bit RGB photograph size
(3 x 512 x 512), a 16-bit hyperspectral cube (100 x 256 x 256), and the shapes of a
Kodak image (3 x 512 x 768) and of the 224-band Indian Pines cube (224 x 145 x 145).
``benchmarks/metric_speed.py`` compares the same pass with the codecs on the real images.
"""

import numpy as np

from hsbench.cube import Cube
from hsbench.metrics import evaluate

CUBES = {
    "rgb8-3x512x512": ((3, 512, 512), 8),
    "hs16-100x256x256": ((100, 256, 256), 16),
    "kodak-rgb8-3x512x768": ((3, 512, 768), 8),
    "indian-hs16-224x145x145": ((224, 145, 145), 16),
}


def _pair(shape, bit_depth):
    rng = np.random.default_rng(0)
    hi = 2**bit_depth - 1
    dtype = np.uint8 if bit_depth <= 8 else np.uint16
    x = rng.integers(0, hi + 1, shape).astype(dtype)
    y = np.clip(x + rng.normal(0.0, hi / 200, shape), 0, hi).astype(dtype)
    return Cube(x, bit_depth=bit_depth), Cube(y, bit_depth=bit_depth)


class Evaluate:
    """Every distortion column (PSNR, SSIM, MS-SSIM, SAM ...) of one job."""

    params = list(CUBES)
    param_names = ["cube"]
    timeout = 120

    def setup(self, cube):
        self.original, self.decoded = _pair(*CUBES[cube])

    def time_evaluate(self, cube):
        evaluate(self.original, self.decoded)

    def peakmem_evaluate(self, cube):
        evaluate(self.original, self.decoded)

    def track_msamples_per_s(self, cube):
        """Throughput of ``evaluate`` in millions of samples per second."""
        import time

        start = time.perf_counter()
        evaluate(self.original, self.decoded)
        return self.original.num_samples / 1e6 / (time.perf_counter() - start)

    track_msamples_per_s.unit = "Msamples/s"
