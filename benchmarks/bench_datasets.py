"""asv benchmarks: reading hyperspectral files and cutting tiles (hsbench.datasets)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from hsbench.datasets import open_dataset
from hsbench.datasets.envi import write_envi
from hsbench.datasets.readers import read_image


class EnviRead:
    """Read a 224 x 128 x 128 uint16 ENVI cube (7.3 MB) in each interleave."""

    params = ["bsq", "bil", "bip"]
    param_names = ["interleave"]
    timeout = 60

    def setup(self, interleave: str) -> None:
        self.tmp = tempfile.TemporaryDirectory()
        data = np.random.default_rng(0).integers(0, 4096, size=(224, 128, 128)).astype(np.uint16)
        self.header = write_envi(Path(self.tmp.name) / "cube.img", data, interleave, byte_order=1)

    def teardown(self, interleave: str) -> None:
        self.tmp.cleanup()

    def time_read(self, interleave: str) -> None:
        read_image(self.header)

    def peakmem_read(self, interleave: str) -> None:
        read_image(self.header)


class TileLoad:
    """List and load every 64 x 64 tile of a 200 x 256 x 256 scene (one read, cached per process)."""

    timeout = 60

    def setup(self) -> None:
        self.tmp = tempfile.TemporaryDirectory()
        data = np.random.default_rng(1).integers(0, 4096, size=(200, 256, 256)).astype(np.uint16)
        np.save(Path(self.tmp.name) / "scene.npy", data)

    def teardown(self) -> None:
        self.tmp.cleanup()

    def time_all_tiles(self) -> None:
        ds = open_dataset(f"folder:{self.tmp.name}", tile="64", bands="0:100")
        for image_id in ds.image_ids():
            ds.load(image_id)
