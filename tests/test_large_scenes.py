"""Large scenes in bounded memory: memory-mapped input, chunked hashing, band-wise rescaling and decoding.

Peak allocations are measured with ``tracemalloc`` (numpy reports its array
buffers to it), so the bounds are real measurements of what each step holds,
compared against what a whole-cube float64 copy would cost.
"""

import hashlib
import tracemalloc

import numpy as np
import pytest

import hsbench.cube as cube_module
from hsbench.codecs.registry import create_codec
from hsbench.codecs.rescale import LinearRescale
from hsbench.cube import Cube
from hsbench.datasets import open_dataset
from hsbench.runner import Job, execute_job


def _scene(rng: np.random.Generator, bands: int = 24, size: int = 96) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size]
    base = 2000 + 1500 * np.sin(yy / 7.0) * np.cos(xx / 11.0)
    return np.stack([base * (1 + 0.02 * b) + rng.normal(0, 30, (size, size)) for b in range(bands)]).clip(
        0, 65535).astype(np.uint16)


def _peak_bytes(fn, *args):
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        result = fn(*args)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak


def test_npy_scene_is_memory_mapped_and_runs_as_a_job(tmp_path, rng):
    data = _scene(rng)
    path = tmp_path / "scene.npy"
    np.save(path, data)
    dataset = open_dataset(f"file:{path}")
    cube = dataset.load("scene")
    assert isinstance(cube.data, np.memmap) or isinstance(cube.data.base, np.memmap)
    cube.data[0, 0, 0] += 1  # copy-on-write: writable like an in-memory array, the file is untouched
    assert np.load(path)[0, 0, 0] == data[0, 0, 0]
    cube = dataset.load("scene")
    np.testing.assert_array_equal(cube.data, data)
    row = execute_job(Job("jpeg2000", (("lossless", True),), dataset.ref, "scene"))
    assert row["status"] == "ok", row.get("error")
    assert row["exact"] and row["image_sha256"] == Cube(data).sha256()
    assert row["peak_rss_mb"] > 0


def test_sha256_in_chunks_equals_the_whole_cube_digest(monkeypatch, rng, tmp_path):
    data = _scene(rng, bands=10, size=32)
    expected = hashlib.sha256(f"{data.shape}|{data.dtype.str}|16|".encode() + data.tobytes()).hexdigest()
    monkeypatch.setattr(cube_module, "HASH_CHUNK_BYTES", 3 * data[0].nbytes)  # 4 chunks, the last one short
    assert Cube(data).sha256() == expected
    np.save(tmp_path / "x.npy", data)
    mapped = Cube(np.load(tmp_path / "x.npy", mmap_mode="r"))
    assert mapped.sha256() == expected
    _, peak = _peak_bytes(mapped.sha256)
    assert peak < data.nbytes / 2, "hashing must not copy the cube"


@pytest.mark.parametrize("scope", ["band", "cube"])
@pytest.mark.parametrize("dtype, bits", [(np.uint16, 8), (np.float32, 16)])
def test_bandwise_rescale_equals_the_vectorised_formula_without_a_float64_cube(rng, scope, dtype, bits):
    data = (_scene(rng, bands=16, size=64).astype(np.float64) / (7.0 if dtype == np.float32 else 1.0)).astype(dtype)
    data[3] = data[3, 0, 0]  # a constant band maps to 0 and back to its value
    mapping = LinearRescale.fit(data, bits, scope)
    # independent reference: the whole-cube broadcast formula of the module docstring
    lo = mapping.lows.astype(np.float64).reshape(-1, 1, 1)
    hi = mapping.highs.astype(np.float64).reshape(-1, 1, 1)
    span = hi - lo
    scale = np.divide(mapping.top, span, out=np.zeros_like(span), where=span > 0)
    ref_codes = np.clip(np.rint((data.astype(np.float64) - lo) * scale), 0, mapping.top)
    codes, peak_fwd = _peak_bytes(mapping.forward, data)
    np.testing.assert_array_equal(codes, ref_codes)
    ref_back = np.clip(lo + codes.astype(np.float64) * ((hi - lo) / mapping.top), lo, hi)
    if np.dtype(dtype).kind in "iu":
        ref_back = np.rint(ref_back)
    back, peak_inv = _peak_bytes(mapping.inverse, codes, np.dtype(dtype))
    np.testing.assert_array_equal(back, ref_back.astype(dtype))
    float64_cube = data.size * 8
    band_f64 = data[0].size * 8
    assert peak_fwd <= codes.nbytes + 4 * band_f64 < float64_cube
    assert peak_inv <= back.nbytes + 4 * band_f64 < float64_cube


def test_jpeg2000_decodes_into_the_cube_dtype_directly(rng):
    cube = Cube(_scene(rng, bands=16, size=128))
    codec = create_codec("jpeg2000", lossless=True)
    stream = codec.encode(cube)
    decoded, peak = _peak_bytes(codec.decode, stream)
    np.testing.assert_array_equal(decoded.data, cube.data)
    # the output plus per-band decoder buffers: no int32 copy of the cube (that alone would be 2x)
    assert peak < 1.6 * cube.data.nbytes + len(stream)


@pytest.mark.parametrize("params", [{"bpppc": 1.0}, {"lossless": True}])
def test_ccsds122_codes_a_few_bands_at_a_time_with_the_same_stream(monkeypatch, rng, params):
    import hsbench.codecs.ccsds122.codec as ccsds122

    cube = Cube(_scene(rng, bands=12, size=128))
    codec = create_codec("ccsds122", **params)
    monkeypatch.setattr(ccsds122, "BAND_CHUNK_BYTES", 1 << 40)  # the whole cube in one group
    whole = codec.encode(cube)
    whole_decoded = codec.decode(whole).data
    monkeypatch.setattr(ccsds122, "BAND_CHUNK_BYTES", 8 * 128 * 128 * 2)  # two bands per group
    chunked, peak_enc = _peak_bytes(codec.encode, cube)
    assert chunked == whole
    decoded, peak_dec = _peak_bytes(codec.decode, chunked)
    np.testing.assert_array_equal(decoded.data, whole_decoded)
    if params.get("lossless"):
        np.testing.assert_array_equal(decoded.data, cube.data)
    int64_cube = cube.data.size * 8  # what a whole-cube transform holds at the least
    assert peak_enc < int64_cube and peak_dec < int64_cube
