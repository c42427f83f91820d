"""asv benchmarks: encode / decode throughput of the learned codecs on the CPU with their default-size models.

Throughput is MB/s of raw image data (``Cube.nominal_bytes`` per second). The
weights are those of a one-step model: network time does not depend on their values, only
on the architecture (the codec's default configuration); the entropy-coding time of the
rate-distortion codecs does depend on the rate a trained model reaches, so their figures
are for a one-step model's rate (the shipped models' rows carry their own timings).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from hsbench.cube import Cube

CODECS = ["sscnet", "sscnet-linear", "vgg16-baseline", "factorized", "hyperprior"]
#: the seed-system codecs, one network over all bands of a multispectral image (:class:`SeedThroughput`)
SEED_CODECS = ["cae1d", "hycot", "s2cnet", "cnn-lstm-ae", "two-path-ae"]


def _image(bands: int, size: int, seed: int) -> Cube:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / 32.0
    base = np.stack([np.sin((b + 1) * 0.3 * x + 0.7 * y) for b in range(bands)])
    data = np.clip((base + 1) * 110 + rng.normal(0, 6, base.shape), 0, 255).astype(np.uint8)
    return Cube(data, bit_depth=8, name=f"bench{seed}")


class LearnedThroughput:
    """Encode / decode of a 3 x 256 x 256 8-bit image on the CPU, batch 64 tiles."""

    params = (CODECS,)
    param_names = ["codec"]
    timeout = 300
    number = 1
    repeat = 3
    bands = 3
    size = 256

    def setup_cache(self) -> dict[str, str]:
        """One one-step model per codec, trained once for all the class's benchmarks.

        asv runs ``setup_cache`` in a folder that stays the working directory of the
        class's benchmarks, so the checkpoints written there are found by ``setup``.
        """
        from hsbench.codecs.learned.checkpoint import save_checkpoint
        from hsbench.codecs.learned.quick import is_rd
        from hsbench.codecs.learned.rdtrain import train_rd
        from hsbench.codecs.learned.train import train_codec
        from hsbench.codecs.registry import get_codec

        paths = {}
        train = [_image(self.bands, 64, 1)]
        for name in self.params[0]:
            cls = get_codec(name)
            if is_rd(cls):
                arch = (cls.arch_from_params(cls.params, self.bands) if name in SEED_CODECS
                        else cls.arch_from_params(cls.params))
                ckpt = train_rd(cls, arch, cls.params["lmbda"], train, train_spec="bench", steps=1, progress=False)
            else:
                arch = cls.arch_from_params(cls.params, self.bands)
                ckpt = train_codec(cls, arch, train, train_spec="bench", epochs=1, max_steps=1,
                                   device="cpu", progress=False)  # fmt: skip
            path = Path(f"{name}.pt").resolve()
            save_checkpoint(ckpt, path)
            paths[name] = str(path)
        return paths

    setup_cache.timeout = 600  # type: ignore[attr-defined]

    def setup(self, checkpoints: dict[str, str], name: str) -> None:
        from hsbench.codecs.registry import create_codec

        self.codec = create_codec(name, checkpoint=checkpoints[name], device="cpu")
        self.cube = _image(self.bands, self.size, 2)
        self.data = self.codec.encode(self.cube)

    def time_encode(self, checkpoints: dict, name: str) -> None:
        self.codec.encode(self.cube)

    def time_decode(self, checkpoints: dict, name: str) -> None:
        self.codec.decode(self.data)

    def _rate(self, fn) -> float:
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - t0)
        return self.cube.nominal_bytes / 1e6 / best

    def track_encode_mb_per_s(self, checkpoints: dict, name: str) -> float:
        return self._rate(lambda: self.codec.encode(self.cube))

    track_encode_mb_per_s.unit = "MB/s"  # type: ignore[attr-defined]

    def track_decode_mb_per_s(self, checkpoints: dict, name: str) -> float:
        return self._rate(lambda: self.codec.decode(self.data))

    track_decode_mb_per_s.unit = "MB/s"  # type: ignore[attr-defined]

    def peakmem_encode(self, checkpoints: dict, name: str) -> None:
        self.codec.encode(self.cube)


class SeedThroughput(LearnedThroughput):
    """Encode / decode of a 13 x 128 x 128 8-bit image (a EuroSAT-like band count) by the seed-system codecs."""

    params = (SEED_CODECS,)
    bands = 13
    size = 128

    def setup_cache(self) -> dict[str, str]:
        # its own method: asv keys a class's cache by the line setup_cache starts on
        return LearnedThroughput.setup_cache(self)

    setup_cache.timeout = 600  # type: ignore[attr-defined]


class QuickTrainingQuality:
    """Quality a quick-trained model reaches: what ``hsbench run`` does without a checkpoint.

    Trains the codec's quick model exactly as the planner does when nothing is shipped or cached
    (:func:`hsbench.codecs.learned.quick.quick_model`, bounded by ``steps``)
    on ``samples-train`` and tracks the PSNR of its reconstruction of ``samples``' astronaut through
    the real bitstream, and the rate. A better quick recipe shows as a higher ``track_psnr_db``
    at the same ``track_bpppc``.
    """

    params = (["sscnet"], [4])
    param_names = ["codec", "latent"]
    timeout = 600
    number = 1
    repeat = 1
    steps = 1500

    def setup_cache(self) -> dict[str, dict[str, float]]:
        """Train each configuration once, for both ``track_`` benchmarks."""
        return {f"{name}/{latent}": self._train_and_code(name, latent)
                for name in self.params[0] for latent in self.params[1]}

    setup_cache.timeout = 1200  # type: ignore[attr-defined]

    def _train_and_code(self, name: str, latent: int) -> dict[str, float]:
        import os

        from hsbench.codecs.learned.models import model_arch
        from hsbench.codecs.learned.quick import quick_model, training_dataset
        from hsbench.codecs.registry import create_codec, get_codec
        from hsbench.datasets import open_dataset
        from hsbench.metrics import psnr

        settings = {"HSBENCH_QUICK_TRAIN_STEPS": str(self.steps)}
        saved = {k: os.environ.get(k) for k in ("HSBENCH_CACHE_DIR", *settings)}
        with tempfile.TemporaryDirectory() as tmp:
            os.environ.update(settings, HSBENCH_CACHE_DIR=tmp)
            try:
                cls = get_codec(name)
                samples = open_dataset("samples")
                arch = model_arch(cls, {**cls.params, "latent": latent}, samples)
                path, _ = quick_model(cls, arch, latent, training_dataset(samples))
                codec = create_codec(name, checkpoint=path, device="cpu")
                cube = samples.load("astronaut")
                data = codec.encode(cube)
                return {"psnr": float(psnr(cube.data, codec.decode(data).data, cube.peak)),
                        "bpppc": 8 * len(data) / cube.num_samples}
            finally:
                for key, value in saved.items():
                    if value is None:
                        os.environ.pop(key, None)
                    else:
                        os.environ[key] = value

    def track_psnr_db(self, results: dict, name: str, latent: int) -> float:
        return results[f"{name}/{latent}"]["psnr"]

    track_psnr_db.unit = "dB"  # type: ignore[attr-defined]

    def track_bpppc(self, results: dict, name: str, latent: int) -> float:
        return results[f"{name}/{latent}"]["bpppc"]

    track_bpppc.unit = "bits/sample"  # type: ignore[attr-defined]
