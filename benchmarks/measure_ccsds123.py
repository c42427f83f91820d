"""Measure ccsds123 throughput on 224-band cubes (run: ``python benchmarks/measure_ccsds123.py``).

Prints, for the simulated Indian Pines cube (scaled to 16 bit, when
``$HSBENCH_DATA``, default ``../shared/datasets``, holds it) and a synthetic 224 x 512 x 680 16-bit scene,
the rate and the encode / decode speed in M samples/s, by wall clock and by
process CPU time (the latter is what one core delivers on a shared machine).
Not an asv benchmark (asv's are in ``bench_ccsds123.py``); a one-off report.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

from hsbench.codecs.registry import create_codec
from hsbench.cube import Cube


#: the simulated Indian Pines cube inside a data root (``tests/conftest.py`` finds it there too)
INDIAN_PINES = Path("indian_pines_simulated") / "simu_indian.mat"


def indian_pines(root: str | Path | None = None) -> Cube | None:
    """simu_indian.mat (145 x 145 x 224 reflectance) of ``root`` (default ``$HSBENCH_DATA``, else
    ``../shared/datasets``) scaled to 16-bit integers (``x / max(x) * 65535``, rounded), or None."""
    root = root or os.environ.get("HSBENCH_DATA") or Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
    path = Path(root) / INDIAN_PINES
    if not path.is_file():
        return None
    from scipy.io import loadmat

    x = loadmat(path)["simu_indian"]
    data = np.rint(np.moveaxis(x, -1, 0) / x.max() * 65535).astype(np.uint16)
    return Cube(np.ascontiguousarray(data), bit_depth=16, name="simu_indian_u16")


def synthetic(bands: int = 224, rows: int = 512, cols: int = 680, seed: int = 0) -> Cube:
    """A smooth scene x smooth spectra + noise, 16 bit (an AVIRIS-sized stand-in)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:rows, 0:cols].astype(np.float32)
    spatial = np.sin(xx / 23.0) * np.cos(yy / 31.0) + 0.3 * np.sin((xx + 2 * yy) / 7.0)
    spectra = (1.0 + 0.5 * np.sin(np.linspace(0, 3 * np.pi, bands))).astype(np.float32)
    out = np.empty((bands, rows, cols), dtype=np.uint16)
    for b in range(bands):
        band = 20000 + 8000 * spatial * spectra[b] + rng.normal(0, 25, (rows, cols)).astype(np.float32)
        out[b] = np.clip(np.rint(band), 0, 65535)
    return Cube(out, bit_depth=16, name=f"synthetic_{bands}x{rows}x{cols}")


def measure(cube: Cube, max_error: int, repeats: int) -> None:
    codec = create_codec("ccsds123", max_error=max_error)
    codec.decode(codec.encode(Cube(cube.data[:2, :4, :4].copy(), bit_depth=16)))  # load compiled kernels
    best = {"enc": (1e9, 1e9), "dec": (1e9, 1e9)}
    stream = b""
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        stream = codec.encode(cube)
        w1, c1 = time.perf_counter(), time.process_time()
        out = codec.decode(stream)
        w2, c2 = time.perf_counter(), time.process_time()
        best["enc"] = (min(best["enc"][0], w1 - w0), min(best["enc"][1], c1 - c0))
        best["dec"] = (min(best["dec"][0], w2 - w1), min(best["dec"][1], c2 - c1))
    err = int(np.abs(out.data.astype(np.int64) - cube.data).max())
    n = cube.num_samples / 1e6
    print(
        f"{cube.name:28s} max_error={max_error:<3d} {8 * len(stream) / cube.num_samples:6.3f} bpppc "
        f"CR {cube.nominal_bytes / len(stream):5.2f}  max|err|={err:<3d} "
        f"encode {n / best['enc'][0]:5.1f} (cpu {n / best['enc'][1]:5.1f}) Ms/s  "
        f"decode {n / best['dec'][0]:5.1f} (cpu {n / best['dec'][1]:5.1f}) Ms/s  "
        f"[{best['enc'][0]:.2f} s / {best['dec'][0]:.2f} s]"
    )


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    cubes = [c for c in (indian_pines(), synthetic()) if c is not None]
    for cube in cubes:
        for max_error in (0, 4):
            measure(cube, max_error, repeats if cube.num_samples < 10_000_000 else 1)


if __name__ == "__main__":
    main()
