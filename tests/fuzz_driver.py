"""Fuzz one codec's decoder in this process and print a JSON report (run by ``test_fuzz_decoders.py``).

Usage: ``python tests/fuzz_driver.py CODEC WORKDIR``. The codec codes a few small cubes
(its ``fuzz_shapes``, several sample types, its ``lossless`` mode where it has one; a learned
codec, one with a ``train_tiny`` classmethod, gets a tiny model trained here by that hook), then
every stream is damaged in every way the decoder must survive:

* frame cuts and frame bit flips (the CRC's job),
* payload truncations, extensions, bit flips and overwritten runs with the frame CRC
  recomputed (the decoder's job: the CRC no longer helps),
* forged frame fields with the CRC recomputed: geometry, bit depth, dtype, value range,
  codec version.

Every decode may return a cube of the framed geometry or raise ``CorruptStreamError``;
anything else is recorded as a failure. Memory: after a warm-up, ``RLIMIT_DATA`` caps the
process at its size then plus ``HEADROOM`` (an allocation from a forged header fails with
``MemoryError``, a failure), and ``tracemalloc`` measures each decode's peak against
``ALLOWANCE`` times the largest array the (possibly forged) frame implies. Time: each decode's
wall time is recorded; the test asserts a bound.
"""

from __future__ import annotations

import inspect
import json
import os
import resource
import sys
import time
import tracemalloc
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterator

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from hsbench.codecs import container  # noqa: E402
from hsbench.codecs.registry import create_codec, get_codec  # noqa: E402
from hsbench.cube import Cube, integer_range  # noqa: E402
from hsbench.errors import CorruptStreamError, UnsupportedCubeError  # noqa: E402

HEADROOM = 512 << 20  # bytes of data segment a decode may add beyond the warmed-up process
ALLOWANCE = 16  # traced peak <= ALLOWANCE * (samples the frame implies * 8 bytes) + SLACK
SLACK = 8 << 20
SAMPLE_TYPES = [(np.uint8, 8), (np.uint16, 12), (np.int16, 10), (np.float32, 32)]


def _cube(shape: tuple[int, int, int], dtype: Any, bits: int, seed: int) -> Cube:
    """A smooth multiband field with noise, spanning most of the sample range."""
    rng = np.random.default_rng(seed)
    b, h, w = shape
    y, x = np.mgrid[0:h, 0:w] / 6.0
    field = np.sin(x + rng.uniform(0, 3)) * np.cos(0.7 * y) * np.linspace(0.6, 1.0, b)[:, None, None]
    field = field + 0.05 * rng.standard_normal(shape)
    field = (field - field.min()) / (field.max() - field.min())
    if np.dtype(dtype).kind == "f":
        return Cube((field * 2 - 0.5).astype(dtype), name=f"fuzz{seed}")
    lo, hi = integer_range(bits, np.dtype(dtype).kind == "i")
    return Cube(np.rint(lo + field * (hi - lo)).astype(dtype), bit_depth=bits, name=f"fuzz{seed}")


def _tiny_model(cls: Any, workdir: Path, variant: dict[str, Any], index: int) -> dict[str, Any]:
    """Parameters of a tiny model of ``cls`` (its ``train_tiny`` hook, architecture overrides ``variant``)
    trained on two 12-bit cubes of the band count of its first ``fuzz_shapes``; entries of ``variant``
    that are codec parameters (``entropy=factorized``) are passed to the codec too."""
    import torch

    from hsbench.codecs.learned import checkpoint as ckpt_io

    torch.set_num_threads(1)
    bands = cls.fuzz_shapes[0][0]
    cubes = [_cube((bands, 64, 64), np.uint16, 12, s) for s in (1, 2)]
    # rate-distortion models train a few steps: the decoder's robustness does not depend on how well
    # the model compresses (the SSCNet-family hook counts epochs and is fast as it is)
    fast = {"steps": 8} if "steps" in inspect.signature(cls.train_tiny).parameters else {}
    ckpt = cls.train_tiny(cubes, **({"arch": variant} if variant else {}), **fast)
    path = ckpt_io.save_checkpoint(ckpt, workdir / f"{cls.name}-{index}.pt")
    return {"checkpoint": str(path), "device": "cpu", **{k: v for k, v in variant.items() if k in cls.params}}


def setups(name: str, workdir: Path) -> list[tuple[dict[str, Any], Cube]]:
    """(parameters, cube) pairs to fuzz ``name`` with: the codec's fuzz shapes x sample types it supports.

    A learned codec (one with a ``train_tiny`` classmethod) has no model until one is trained:
    it is fuzzed with a tiny one, one per entry of its ``fuzz_variants`` (the SSCNet autoencoders:
    ``entropy=minmax`` and ``entropy=factorized``); the others with their defaults and their ``lossless`` mode.
    """
    cls = get_codec(name)
    if hasattr(cls, "train_tiny"):
        variants = [_tiny_model(cls, workdir, v, i) for i, v in enumerate(getattr(cls, "fuzz_variants", ({},)))]
    else:
        variants = [{}] + ([{"lossless": True}] if "lossless" in cls.params else [])
    out = []
    for i, (dtype, bits) in enumerate(SAMPLE_TYPES):
        shape = cls.fuzz_shapes[i % len(cls.fuzz_shapes)]
        cube = _cube(shape, dtype, bits, seed=10 + i)
        for params in variants if i < 2 else variants[:1]:
            codec = create_codec(name, **params)
            try:
                codec.supports(cube)
            except UnsupportedCubeError:
                continue
            out.append((params, cube))
    return out


def _reframe(header: container.StreamHeader, payload: bytes) -> bytes:
    return container.pack(header, payload)


def mutations(stream: bytes, seed: int) -> Iterator[tuple[str, bytes]]:
    """Damaged and forged versions of ``stream`` (module docstring), deterministic for ``seed``."""
    rng = np.random.default_rng(seed)
    header, view = container.unpack(stream)
    payload = bytes(view)
    n = len(payload)
    for cut in (1, 5, len(stream) // 2, len(stream) - 1):
        yield "frame-cut", stream[:cut]
    for pos in rng.integers(0, len(stream), 4):
        bad = bytearray(stream)
        bad[pos] ^= 1 << int(rng.integers(0, 8))
        yield "frame-flip", bytes(bad)
    for cut in sorted({0, 1, 2, n // 2, n - 1, *rng.integers(0, max(n, 1), 10).tolist()}):
        if cut < n:
            yield "payload-cut", _reframe(header, payload[:cut])
    yield "payload-extend", _reframe(header, payload + b"\0")
    yield "payload-extend", _reframe(header, payload + rng.bytes(17))
    head = min(n, 48)  # codec headers live at the start: damage them more often
    for i in range(70):
        bad = bytearray(payload)
        span = head if i % 2 else n
        for pos in rng.integers(0, max(span, 1), int(rng.integers(1, 4))):
            if pos < n:
                bad[pos] ^= 1 << int(rng.integers(0, 8))
        yield "payload-flip", _reframe(header, bytes(bad))
    for i in range(12):
        bad = bytearray(payload)
        start = int(rng.integers(0, max(n, 1)))
        length = int(rng.integers(1, 9))
        fill = (rng.bytes(length), b"\0" * length, b"\xff" * length)[i % 3]
        bad[start : start + length] = fill[: max(0, min(length, n - start))]
        yield "payload-overwrite", _reframe(header, bytes(bad))
    b, h, w = header.shape
    shapes = {(2 * b, h, w), (b, 2 * h, w), (b, h, 2 * w), (b, h + 1, w), (b, h, max(1, w // 2)),
              (max(1, b // 2), h, w), (65535, h, w), (b, 65535, 65535), (b, 2**32 - 1, 1), (1, 1, 1)}
    for shape in sorted(shapes - {header.shape}):
        yield "forged-geometry", _reframe(replace(header, shape=shape), payload)
    depth = header.bit_depth
    for bd in sorted({1, max(1, depth - 1), depth + 1, 16, 255} - {depth}):
        yield "forged-bit-depth", _reframe(replace(header, bit_depth=bd), payload)
    for name in container.DTYPE_CODES:
        dtype = np.dtype(name)
        if dtype != header.dtype:
            floating = dtype.kind == "f"
            bd = dtype.itemsize * 8 if floating else min(depth, dtype.itemsize * 8)
            yield "forged-dtype", _reframe(
                replace(header, dtype=dtype, bit_depth=bd, value_range=(0.0, 1.0) if floating else None), payload
            )
    if header.dtype.kind == "f":
        for vr in ((0.0, 0.0), (1.0, 0.0), (-1e308, 1e308)):
            yield "forged-value-range", _reframe(replace(header, value_range=vr), payload)
    yield "forged-version", _reframe(replace(header, codec_version=(header.codec_version + 1) % 256), payload)


def _implied_bytes(data: bytes, fallback: int) -> int:
    try:
        header, _ = container.unpack(data)
    except CorruptStreamError:
        return fallback
    b, h, w = header.shape
    return b * h * w * 8


def _data_segment_bytes() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmData:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmData in /proc/self/status")


def main(name: str, workdir: Path) -> dict[str, Any]:
    cases = [(params, cube, create_codec(name, **params)) for params, cube in setups(name, workdir)]
    streams = []
    for params, cube, codec in cases:  # warm-up: compile, load libraries and models
        stream = codec.encode(cube)
        out = codec.decode(stream)
        assert out.shape == cube.shape
        streams.append(stream)
    limit = _data_segment_bytes() + HEADROOM
    resource.setrlimit(resource.RLIMIT_DATA, (limit, resource.getrlimit(resource.RLIMIT_DATA)[1]))
    report: dict[str, Any] = {"codec": name, "setups": [], "failures": [], "cases": 0, "corrupt": 0,
                              "decoded": 0, "max_seconds": 0.0, "max_peak_ratio": 0.0}
    tracemalloc.start()
    for (params, cube, codec), stream in zip(cases, streams):
        report["setups"].append(f"{params} {cube.dtype} {cube.bit_depth}-bit {cube.shape}: {len(stream)} bytes")
        original = cube.num_samples * 8
        for kind, data in mutations(stream, seed=len(stream)):
            allowed = ALLOWANCE * _implied_bytes(data, original) + SLACK
            base = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            start = time.perf_counter()
            try:
                out = codec.decode(data)
            except CorruptStreamError:
                report["corrupt"] += 1
            except BaseException as exc:  # noqa: BLE001 - every other exception is what this hunts
                report["failures"].append(f"{kind} ({params}, {cube.dtype}): {type(exc).__name__}: {exc}"[:400])
            else:
                report["decoded"] += 1
                framed, _ = container.unpack(data)
                if out.shape != framed.shape or out.dtype != framed.dtype:
                    report["failures"].append(f"{kind}: decoded {out.shape} {out.dtype}, framed {framed.shape}")
            seconds = time.perf_counter() - start
            peak = tracemalloc.get_traced_memory()[1] - base
            report["cases"] += 1
            report["max_seconds"] = max(report["max_seconds"], seconds)
            report["max_peak_ratio"] = max(report["max_peak_ratio"], peak / allowed)
            if peak > allowed:
                report["failures"].append(f"{kind} ({params}): traced peak {peak} bytes > allowed {allowed}")
    tracemalloc.stop()
    return report


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], Path(sys.argv[2]))))
