"""asv benchmarks of the executors and of the bounded-memory steps of a large-scene job.

``Sweep``: wall time of a small sweep (jpeg, 2 quality points x 6 RGB images of
128 x 128) on each backend, start-up of the workers included: what a backend
costs on top of the coding itself.

``LargeScenePieces``: peak traced allocations (MiB, ``tracemalloc``) of the steps
that once held whole-cube copies, on a memory-mapped 64 x 512 x 512 uint16 cube
(32 MiB): the image hash, 16 -> 8 bit rescaling, and a JPEG 2000 decode. The full
1.9 GB measurement is ``benchmarks/large_scene.py`` (minutes, not for asv).
"""

import shutil
import tempfile
import tracemalloc
from pathlib import Path

import numpy as np
from PIL import Image

from hsbench.codecs.registry import create_codec
from hsbench.codecs.rescale import LinearRescale
from hsbench.cube import Cube
from hsbench.runner import execute_plan, plan_run

BACKENDS = {
    "serial": {},
    "processes-2": {"workers": 2},
    "dask-local-2": {"scheduler": "local:2"},
}


class Sweep:
    """Wall time of a 12-job jpeg sweep per backend (worker start-up included)."""

    params = list(BACKENDS)
    param_names = ["backend"]
    timeout = 300
    number = 1
    repeat = 3

    def setup(self, backend):
        self.tmp = Path(tempfile.mkdtemp(prefix="hsbench-asv-exec-"))
        folder = self.tmp / "imgs"
        folder.mkdir()
        rng = np.random.default_rng(0)
        yy, xx = np.mgrid[0:128, 0:128]
        for i in range(6):
            base = (yy * (i + 1) + xx * 2) % 256
            rgb = np.stack([base, base[::-1], (base + 60) % 256], axis=-1) + rng.integers(0, 8, (128, 128, 3))
            Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).save(folder / f"img{i}.png")
        self.spec = f"folder:{folder}"
        self.count = 0

    def teardown(self, backend):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def time_sweep(self, backend):
        self.count += 1
        plan = plan_run(["jpeg"], [self.spec], self.tmp / f"run{self.count}", params=["quality=50,90"])
        execute_plan(plan, progress=False, **BACKENDS[backend])


def _traced_peak_mib(fn, *args):
    tracemalloc.start()
    try:
        fn(*args)
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


class LargeScenePieces:
    """Peak traced MiB of whole-cube steps on a memory-mapped 32 MiB cube (lower is better)."""

    unit = "MiB"
    timeout = 120

    def setup(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="hsbench-asv-large-"))
        rng = np.random.default_rng(0)
        data = np.lib.format.open_memmap(self.tmp / "cube.npy", mode="w+", dtype=np.uint16, shape=(64, 512, 512))
        for b in range(64):
            data[b] = rng.integers(1000, 60000, (512, 512), dtype=np.uint16)
        data.flush()
        del data
        self.cube = Cube(np.load(self.tmp / "cube.npy", mmap_mode="r"))
        self.mapping = LinearRescale.fit(self.cube.data, 8, "band")
        small = Cube(np.ascontiguousarray(self.cube.data[:16]))
        self.codec = create_codec("jpeg2000", ratio=20)
        self.stream = self.codec.encode(small)

    def teardown(self):
        del self.cube
        shutil.rmtree(self.tmp, ignore_errors=True)

    def track_sha256_peak(self):
        return _traced_peak_mib(self.cube.sha256)

    def track_rescale_to_8bit_peak(self):
        return _traced_peak_mib(self.mapping.forward, self.cube.data)

    def track_jpeg2000_decode_16_bands_peak(self):
        return _traced_peak_mib(self.codec.decode, self.stream)
