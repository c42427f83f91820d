"""Peak memory of one hsbench job on a large scene (default 224 x 2048 x 2048 uint16, 1.88 GB).

Builds a memory-mapped ``.npy`` scene in a temporary folder (smooth spatial
structure times per-band spectra plus noise, 16-bit, written a few bands at a
time), runs exactly one job through the runner's own :func:`hsbench.runner.execute_job`
(dataset ``file:PATH``: the job carries the path, the worker memory-maps it),
samples the process's resident memory every 50 ms, prints a JSON report and
deletes the scene::

    PYTHONPATH=. python benchmarks/large_scene.py --codec jpeg2000 --param ratio=20
    PYTHONPATH=. /usr/bin/time -v python benchmarks/large_scene.py --bands 32 --size 1024

Reported: the input size, the row's ``worker_peak_rss_mb`` (VmHWM over the job), the
highest anonymous (heap) and file-backed (the memory-mapped input) resident
memory seen by the sampler, and their ratios to the input size. File-backed
pages are clean page cache that the kernel drops under pressure; the anonymous
figure is what the job really needs.

Not an asv benchmark (it takes minutes and gigabytes); the asv suite has the
quick ones.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np


def build_scene(path: Path, bands: int, size: int, seed: int = 7) -> None:
    """Write a ``(bands, size, size)`` uint16 scene as ``.npy`` without holding it in memory.

    Each band is ``spectrum[b] * texture + noise``: a fixed smooth texture (sums of
    low-frequency sinusoids, so codecs see real spatial correlation) scaled by a
    smooth spectrum, plus Gaussian noise of 20 DN, clipped to 16 bits.
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    texture = np.zeros((size, size), np.float32)
    for _ in range(12):
        fy, fx, ph = rng.uniform(0.5, 24.0), rng.uniform(0.5, 24.0), rng.uniform(0, 2 * np.pi)
        texture += rng.uniform(0.2, 1.0) * np.sin(2 * np.pi * (fy * yy + fx * xx) + ph).astype(np.float32)
    texture = (texture - texture.min()) / (texture.max() - texture.min())
    del yy, xx
    wl = np.linspace(0.0, 1.0, bands)
    spectrum = 8000 + 20000 * np.exp(-((wl - 0.35) / 0.25) ** 2) + 6000 * np.sin(6 * wl)
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint16, shape=(bands, size, size))
    for b in range(bands):
        band = spectrum[b] * (0.3 + 0.7 * texture) + rng.normal(0, 20, (size, size)).astype(np.float32)
        out[b] = np.clip(np.rint(band), 0, 65535).astype(np.uint16)
    out.flush()
    del out


class MemorySampler(threading.Thread):
    """Highest ``RssAnon`` / ``RssFile`` (``/proc/self/status``, MiB) seen every ``period`` seconds."""

    def __init__(self, period: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.period = period
        self.peak = {"RssAnon": 0.0, "RssFile": 0.0, "VmRSS": 0.0}
        self._stop_event = threading.Event()

    def sample(self) -> None:
        with open("/proc/self/status") as fh:
            for line in fh:
                key = line.split(":", 1)[0]
                if key in self.peak:
                    self.peak[key] = max(self.peak[key], int(line.split()[1]) / 1024.0)

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.sample()
            time.sleep(self.period)

    def stop(self) -> dict[str, float]:
        self._stop_event.set()
        self.join()
        self.sample()
        return self.peak


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bands", type=int, default=224)
    parser.add_argument("--size", type=int, default=2048, help="rows = cols")
    parser.add_argument("--codec", default="jpeg2000")
    parser.add_argument("--param", action="append", default=[], help="NAME=VALUE (repeatable), e.g. ratio=20")
    parser.add_argument("--tmp", default=None, help="folder for the scene (default: a new folder in the system temp)")
    parser.add_argument("--keep", action="store_true", help="keep the scene file afterwards")
    args = parser.parse_args(argv)

    from hsbench.codecs.base import parse_value
    from hsbench.datasets import open_dataset
    from hsbench.runner import Job, execute_job

    folder = Path(tempfile.mkdtemp(prefix="hsbench-large-", dir=args.tmp))
    path = folder / f"scene_{args.bands}x{args.size}x{args.size}.npy"
    try:
        t0 = time.time()
        build_scene(path, args.bands, args.size)
        built_s = time.time() - t0
        input_mb = path.stat().st_size / 2**20
        params = {}
        for item in args.param:
            name, _, value = item.partition("=")
            params[name] = parse_value(value)
        dataset = open_dataset(f"file:{path}")
        (image_id,) = dataset.image_ids()
        job = Job(args.codec, tuple(sorted(params.items())), dataset.ref, image_id)
        sampler = MemorySampler()
        sampler.start()
        t1 = time.time()
        row = execute_job(job)
        job_s = time.time() - t1
        peak = sampler.stop()
        report = {
            "shape": [args.bands, args.size, args.size],
            "dtype": "uint16",
            "input_mib": round(input_mb, 1),
            "codec": args.codec,
            "params": params,
            "status": row.get("status"),
            "error": row.get("error", ""),
            "build_s": round(built_s, 1),
            "job_s": round(job_s, 1),
            "encode_s": row.get("encode_s"),
            "decode_s": row.get("decode_s"),
            "bytes": row.get("bytes"),
            "cr": row.get("cr"),
            "psnr": row.get("psnr"),
            "ssim": row.get("ssim"),
            "row_peak_rss_mib": round(float(row.get("worker_peak_rss_mb", float("nan"))), 1),
            "peak_anon_mib": round(peak["RssAnon"], 1),
            "peak_file_mib": round(peak["RssFile"], 1),
            "peak_rss_mib": round(peak["VmRSS"], 1),
            "row_peak_rss_over_input": round(float(row.get("worker_peak_rss_mb", float("nan"))) / input_mb, 2),
            "peak_anon_over_input": round(peak["RssAnon"] / input_mb, 2),
        }
        print(json.dumps(report, indent=1))
        return 0 if row.get("status") == "ok" else 1
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
