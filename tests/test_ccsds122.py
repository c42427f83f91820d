"""Tests of the ccsds122 codec: DWTs, bit-plane coder, exact losslessness, rate control, errors."""

from __future__ import annotations

import math
from dataclasses import replace
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hsbench.codecs import container
from hsbench.codecs.ccsds122 import dwt97
from hsbench.codecs.ccsds122 import Ccsds122Codec, block_index
from hsbench.codecs.registry import create_codec
from hsbench.cube import Cube, integer_range
from hsbench.errors import CodecParameterError, CorruptStreamError, UnsupportedCubeError

from conftest import require_data


# CCSDS 122.0-B-2 Table 3-1: analysis filters of the float 9/7 DWT (h: low-pass, g: high-pass).
H97 = [0.852698679009, 0.377402855613, -0.110624404418, -0.023849465020, 0.037828455507]
G97 = [0.788485616406, -0.418092273222, -0.040689417609, 0.064538882629]


def _random_cube(rng, shape, bit_depth, signed, smooth=False) -> Cube:
    lo, hi = integer_range(bit_depth, signed)
    if smooth:
        b, h, w = shape
        yy, xx = np.mgrid[0:h, 0:w]
        base = np.sin(yy / 5.0 + rng.uniform(0, 6))[None] * np.cos(xx / 7.0)[None] * np.linspace(0.5, 1, b)[:, None, None]
        data = np.round(lo + (hi - lo) * (base + 1) / 2)
    else:
        data = rng.integers(lo, hi + 1, size=shape)
    dtype = (np.int16 if bit_depth > 8 else np.int8) if signed else (np.uint16 if bit_depth > 8 else np.uint8)
    return Cube(np.clip(data, lo, hi).astype(dtype), bit_depth=bit_depth)


def _psnr(a: np.ndarray, b: np.ndarray, peak: float) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * math.log10(peak**2 / mse)


def _load_kodak(name: str = "kodim23") -> Cube:
    from PIL import Image

    path = require_data("kodak", f"{name}.png")
    return Cube.from_hwc(np.asarray(Image.open(path)), bit_depth=8, name=name)


# -- DWT -------------------------------------------------------------------------------
def _floor(v: Fraction) -> int:
    return math.floor(v)


def _integer_97m_standard(x: list[int]) -> tuple[list[int], list[int]]:
    """CCSDS 122.0-B-2 equations (3-4)..(3-9) written out literally, boundary cases included."""
    n = len(x) // 2
    f = Fraction
    d = [0] * n
    d[0] = x[1] - _floor(f(9, 16) * (x[0] + x[2]) - f(1, 16) * (x[2] + x[4]) + f(1, 2))
    for j in range(1, n - 2):
        d[j] = x[2 * j + 1] - _floor(
            f(9, 16) * (x[2 * j] + x[2 * j + 2]) - f(1, 16) * (x[2 * j - 2] + x[2 * j + 4]) + f(1, 2)
        )
    d[n - 2] = x[2 * n - 3] - _floor(
        f(9, 16) * (x[2 * n - 4] + x[2 * n - 2]) - f(1, 16) * (x[2 * n - 6] + x[2 * n - 2]) + f(1, 2)
    )
    d[n - 1] = x[2 * n - 1] - _floor(f(9, 8) * x[2 * n - 2] - f(1, 8) * x[2 * n - 4] + f(1, 2))
    c = [0] * n
    c[0] = x[0] - _floor(-f(d[0], 2) + f(1, 2))
    for j in range(1, n):
        c[j] = x[2 * j] - _floor(-f(1, 4) * (d[j - 1] + d[j]) + f(1, 2))
    return c, d


def test_integer_97m_hand_computed():
    # Worked by hand from the standard's equations:
    # D0 = 2 - floor(126/16 - 16/16 + 1/2) = -5, D1 = 4 - floor(144/16 - 13/16 + 1/2) = -4,
    # D2 = 1 - floor(135/16 - 17/16 + 1/2) = -6, D3 = 3 - floor(72/8 - 7/8 + 1/2) = -5,
    # C0 = 5 - floor(5/2 + 1/2) = 2, C1 = 9 - floor(9/4 + 1/2) = 7, C2 = 7 - floor(10/4 + 1/2) = 4,
    # C3 = 8 - floor(11/4 + 1/2) = 5.
    x = np.array([5, 2, 9, 4, 7, 1, 8, 3], dtype=np.int64)
    c, d = dwt97.integer_97m_1d(x)
    assert c.tolist() == [2, 7, 4, 5]
    assert d.tolist() == [-5, -4, -6, -5]
    assert dwt97.integer_97m_1d_inverse(c, d).tolist() == x.tolist()


@given(st.lists(st.integers(-(1 << 16), (1 << 16) - 1), min_size=2, max_size=20))
@settings(max_examples=60, deadline=None)
def test_integer_97m_matches_standard_equations(values):
    x = values[: len(values) // 2 * 2]
    if len(x) < 6:  # the standard's boundary equations need N >= 3
        x = (x * 6)[:6]
    c, d = dwt97.integer_97m_1d(np.array(x, dtype=np.int64))
    c_ref, d_ref = _integer_97m_standard(x)
    assert c.tolist() == c_ref
    assert d.tolist() == d_ref


def test_float_97_matches_ccsds_filters():
    x = np.random.default_rng(3).normal(size=40) * 100
    low, high = dwt97.float_97_1d(x)
    ext = np.pad(x, 8, mode="reflect")  # whole-sample symmetric extension
    h = np.array(H97[:0:-1] + H97)
    g = np.array(G97[:0:-1] + G97)
    low_ref = [h @ ext[8 + 2 * j - 4 : 8 + 2 * j + 5] for j in range(20)]
    high_ref = [g @ ext[8 + 2 * j + 1 - 3 : 8 + 2 * j + 1 + 4] for j in range(20)]
    np.testing.assert_allclose(low, low_ref, atol=1e-6)
    np.testing.assert_allclose(high, high_ref, atol=1e-6)


@given(
    st.integers(1, 3),
    st.integers(1, 4),
    st.integers(1, 4),
    st.integers(1, 3),
    st.integers(0, 2**31 - 1),
)
@settings(max_examples=40, deadline=None)
def test_dwt_reconstruction(levels, hm, wm, bands, seed):
    rng = np.random.default_rng(seed)
    shape = (bands, hm << levels, wm << levels)
    x = rng.integers(-(1 << 15), 1 << 16, size=shape)
    y = dwt97.forward_integer(x, levels)
    assert np.array_equal(dwt97.inverse_integer(y, levels), x)
    yf = dwt97.forward_float(x, levels)
    assert np.abs(dwt97.inverse_float(yf, levels) - x).max() < 1e-6


def test_dwt_rejects_odd_sizes():
    with pytest.raises(ValueError, match="divisible"):
        dwt97.forward_integer(np.zeros((1, 12, 16), dtype=np.int64), 3)


def test_block_index_is_a_permutation():
    idx = block_index(24, 40)
    assert idx.shape == (15, 64)
    assert np.array_equal(np.sort(idx.ravel()), np.arange(24 * 40))
    # block (1, 2): DC at LL3 (1, 2), parent HH3 at (3 + 1, 5 + 2), first grandchild of HH at (12 + 4, 20 + 8)
    k = 1 * 5 + 2
    assert idx[k, 0] == 1 * 40 + 2
    assert idx[k, 3] == 4 * 40 + 7
    assert idx[k, 48] == 16 * 40 + 28


# -- bit-plane coder pieces ----------------------------------------------------------------
def test_dc_quantisation_rule():
    from hsbench.codecs.ccsds122.bpe import _dc_q

    # CCSDS 122.0-B-2 4.3.1.3: q' = 0 (BitDepthDC <= 3); BitDepthDC - 3 when
    # BitDepthDC - (1 + floor(BitDepthAC / 2)) <= 1; else BitDepthDC - 1 - floor(BitDepthAC / 2);
    # q = max(q', BitShift(LL3)).
    assert _dc_q(3, 10, 0) == 0
    assert _dc_q(10, 16, 0) == 7  # 10 - (1 + 8) = 1 <= 1
    assert _dc_q(20, 10, 0) == 14  # 20 - 1 - 5
    assert _dc_q(2, 0, 3) == 3  # LL3 weight of the integer DWT


@pytest.mark.parametrize("opt", [0, 1, 2, 3])
def test_word_codes_round_trip(opt):
    from hsbench.codecs.ccsds122.bpe import _get_word, _put_word

    hist = np.zeros((5, 2, 16), np.int64)
    opts = np.full(5, opt, np.int64)
    words = [(w, n, nz) for n in range(5) for nz in (0, 1) for w in range(1 << n) if not (nz and w == 0)]
    out = np.zeros(256, np.uint8)
    st = np.zeros(3, np.int64)
    for w, n, nz in words:
        _put_word(out, st, w, n, nz, hist, opts, False)
    if opt:  # a Rice code with k = opt - 1 never spends more than unary + k on 16 symbols
        assert st[0] <= sum(16 + opt for _ in words)
    end = st[0]
    st = np.array([0, end, 0], np.int64)
    assert [_get_word(out, st, n, nz, opts) for w, n, nz in words] == [w for w, n, nz in words]
    assert st[0] == end and st[2] == 0


# -- exact losslessness ------------------------------------------------------------------
@pytest.mark.parametrize(
    "shape", [(1, 1, 1), (1, 1, 13), (2, 13, 1), (1, 7, 9), (3, 33, 17), (2, 8, 64), (1, 40, 24)]
)
@pytest.mark.parametrize("bit_depth,signed", [(1, False), (8, False), (12, False), (16, False), (8, True), (16, True)])
def test_lossless_random_and_smooth(shape, bit_depth, signed):
    rng = np.random.default_rng(bit_depth * 100 + sum(shape))
    codec = create_codec("ccsds122", lossless=True)
    for smooth in (False, True):
        cube = _random_cube(rng, shape, bit_depth, signed, smooth)
        out = codec.decode(codec.encode(cube))
        assert out.dtype == cube.dtype and out.shape == cube.shape
        assert np.array_equal(out.data, cube.data)


@given(
    st.integers(1, 3),
    st.integers(1, 30),
    st.integers(1, 30),
    st.integers(1, 16),
    st.booleans(),
    st.booleans(),
    st.sampled_from([None, 1, 3, 16]),
    st.integers(0, 2**31 - 1),
)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_lossless_property(bands, rows, cols, bit_depth, signed, smooth, seg, seed):
    if signed and bit_depth == 1:
        bit_depth = 2
    cube = _random_cube(np.random.default_rng(seed), (bands, rows, cols), bit_depth, signed, smooth)
    codec = create_codec("ccsds122", lossless=True, segment_blocks=seg)
    assert codec.max_error(cube) == 0.0
    assert np.array_equal(codec.decode(codec.encode(cube)).data, cube.data)


def test_lossless_kodak():
    cube = _load_kodak("kodim23")
    codec = create_codec("ccsds122", lossless=True)
    data = codec.encode(cube)
    assert np.array_equal(codec.decode(data).data, cube.data)
    assert 8 * len(data) / cube.num_samples < 5.0  # a real photograph compresses


def test_lossless_indian_pines_16bit(indian_pines_mat):
    import scipy.io

    raw = scipy.io.loadmat(indian_pines_mat)["simu_indian"]  # (rows, cols, bands) float reflectance
    scaled = np.round(raw / raw.max() * 65535).astype(np.uint16)
    cube = Cube(np.ascontiguousarray(np.moveaxis(scaled, -1, 0)), bit_depth=16, name="simu_indian")
    assert cube.shape == (224, 145, 145)
    codec = create_codec("ccsds122", lossless=True)
    data = codec.encode(cube)
    assert np.array_equal(codec.decode(data).data, cube.data)
    assert len(data) < 0.6 * cube.nominal_bytes


# -- lossy mode and rate control -------------------------------------------------------
def test_rate_within_limit_and_psnr_rises_with_bpppc():
    cube = _load_kodak("kodim05")
    cube = cube.with_data(np.ascontiguousarray(cube.data[:, :200, :300]))
    framing = len(container.pack(container.StreamHeader("ccsds122", 1, cube.dtype, 8, cube.shape), b""))
    last = -np.inf
    for bpppc in (0.1, 0.25, 0.5, 1.0, 2.0, 3.0):
        for seg in (None, 40):
            codec = create_codec("ccsds122", bpppc=bpppc, segment_blocks=seg)
            data = codec.encode(cube)
            nblocks = 25 * 38
            s = nblocks if seg is None else seg
            limit = codec.seg_byte_limit(cube.rows, cube.cols)
            assert limit == int(bpppc * 200 * 300 * s / (8 * nblocks))
            payload = len(data) - framing - 8
            assert payload <= cube.bands * -(-nblocks // s) * limit
            assert payload >= 0.95 * bpppc * cube.num_samples / 8  # the limit binds below the lossless rate
        out = codec.decode(data)
        assert out.shape == cube.shape
        psnr = _psnr(out.data, cube.data, 255)
        assert psnr > last + 0.5
        last = psnr
    assert last > 40


def test_high_rate_lossy_is_near_exact():
    cube = _random_cube(np.random.default_rng(1), (2, 19, 23), 12, False, smooth=True)
    codec = create_codec("ccsds122", bpppc=32)
    assert codec.max_error(cube) is None
    out = codec.decode(codec.encode(cube))
    assert np.abs(out.data.astype(int) - cube.data.astype(int)).max() <= 2


def test_lossy_signed_16bit_and_deterministic():
    cube = _random_cube(np.random.default_rng(2), (2, 37, 29), 16, True, smooth=True)
    codec = create_codec("ccsds122", bpppc=2.0, segment_blocks=4)
    a, b = codec.encode(cube), codec.encode(cube)
    assert a == b
    out = codec.decode(a)
    assert out.dtype == np.int16
    assert _psnr(out.data, cube.data, 65535) > 45


@given(
    st.integers(1, 2),
    st.integers(1, 40),
    st.integers(1, 40),
    st.sampled_from([1, 8, 12, 16]),
    st.booleans(),
    st.floats(0.01, 32),
    st.sampled_from([None, 1, 3, 16]),
    st.integers(0, 2**31 - 1),
)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_lossy_any_rate_decodes_within_budget(bands, rows, cols, bit_depth, signed, bpp, seg, seed):
    if signed and bit_depth == 1:
        bit_depth = 2
    cube = _random_cube(np.random.default_rng(seed), (bands, rows, cols), bit_depth, signed, smooth=seed % 2 == 0)
    codec = create_codec("ccsds122", bpppc=bpp, segment_blocks=seg)
    data = codec.encode(cube)
    nblocks = -(-rows // 8) * -(-cols // 8)
    s = nblocks if seg is None else min(seg, nblocks)
    _, payload = container.unpack(data)
    assert len(payload) <= 8 + bands * -(-nblocks // s) * codec.seg_byte_limit(rows, cols)
    out = codec.decode(data)
    assert out.shape == cube.shape and out.dtype == cube.dtype  # Cube() also checks the bit-depth range


# -- errors -------------------------------------------------------------------------------
def _reframe(data: bytes, payload: bytes) -> bytes:
    header, _ = container.unpack(data)
    return container.pack(header, payload)


def test_corrupt_and_truncated_streams():
    cube = _random_cube(np.random.default_rng(5), (2, 16, 24), 10, False, smooth=True)
    codec = create_codec("ccsds122", lossless=True)
    data = codec.encode(cube)
    _, payload = container.unpack(data)
    payload = bytes(payload)
    with pytest.raises(CorruptStreamError):
        codec.decode(data[:-7])  # truncated frame
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0x10
    with pytest.raises(CorruptStreamError):
        codec.decode(bytes(flipped))  # CRC
    with pytest.raises(CorruptStreamError, match="truncated"):
        codec.decode(_reframe(data, payload[:-5]))  # consistent frame, short payload
    with pytest.raises(CorruptStreamError, match="unexpected bytes"):
        codec.decode(_reframe(data, payload + b"\0\0"))
    bad = bytearray(payload)
    bad[8] ^= 0x80  # StartImgFlag of the first segment
    with pytest.raises(CorruptStreamError, match="corrupt"):
        codec.decode(_reframe(data, bytes(bad)))
    with pytest.raises(CorruptStreamError, match="header"):
        codec.decode(_reframe(data, bytes([payload[0] | 0x80]) + payload[1:]))
    with pytest.raises(CorruptStreamError):
        create_codec("ccsds122", bpppc=1.0).decode(_reframe(data, payload[:3]))


def test_payload_bit_depth_and_signedness_are_checked_against_the_frame():
    cube = _random_cube(np.random.default_rng(5), (1, 16, 24), 12, False, smooth=True)
    codec = create_codec("ccsds122", bpppc=2.0)
    data = codec.encode(cube)
    header, payload = container.unpack(data)
    assert (payload[0] >> 2) + 1 == 12 and not payload[0] & 2  # the payload's own PixelBitDepth, SignedPixels
    for forged in (
        replace(header, bit_depth=8),  # a lossy decode would clip 12-bit samples to 8 bits silently
        replace(header, bit_depth=16),
        replace(header, dtype=np.dtype(np.int16)),
    ):
        with pytest.raises(CorruptStreamError, match="12-bit unsigned samples"):
            codec.decode(container.pack(forged, bytes(payload)))


def test_forged_geometry_is_refused_before_anything_is_allocated():
    import tracemalloc

    cube = _random_cube(np.random.default_rng(5), (1, 16, 24), 8, False, smooth=True)
    codec = create_codec("ccsds122", bpppc=0.5)
    data = codec.encode(cube)
    header, payload = container.unpack(data)
    forged = container.pack(replace(header, shape=(3, 65535, 8192)), bytes(payload))  # 1.6e9 samples
    tracemalloc.start()
    try:
        with pytest.raises(CorruptStreamError, match="samples per payload byte"):
            codec.decode(forged)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20
    # a SegByteLimit below what the encoder ever writes would let a few bytes stand for many blocks
    small_limit = bytes(payload[:4]) + (7).to_bytes(4, "little") + bytes(payload[8:])
    with pytest.raises(CorruptStreamError, match="SegByteLimit 7 is below 8"):
        codec.decode(container.pack(header, small_limit))


def test_old_knob_name_bpp_still_works_with_a_warning():
    with pytest.warns(FutureWarning, match="'bpp' is now called 'bpppc'"):
        old = create_codec("ccsds122", bpp=0.5)
    assert old.config["bpppc"] == 0.5 and "bpp" not in old.config
    assert old.label == "ccsds122(bpppc=0.5)"
    cube = _random_cube(np.random.default_rng(3), (1, 16, 16), 8, False, smooth=True)
    assert old.encode(cube) == create_codec("ccsds122", bpppc=0.5).encode(cube)
    with pytest.raises(CodecParameterError, match="not both"):
        create_codec("ccsds122", bpp=0.5, bpppc=1.0)
    assert Ccsds122Codec.knob.name == "bpppc"


@pytest.mark.parametrize("lossless", [True, False])
def test_damaged_payloads_fail_cleanly(lossless):
    """Bytes altered behind a valid CRC either decode to a valid cube or raise CorruptStreamError."""
    cube = _random_cube(np.random.default_rng(7), (2, 21, 27), 12, False, smooth=True)
    codec = create_codec("ccsds122", lossless=lossless, bpppc=2.0, segment_blocks=5)
    data = codec.encode(cube)
    _, payload = container.unpack(data)
    payload = bytes(payload)
    rng = np.random.default_rng(8)
    failures = 0
    for _ in range(150):
        bad = bytearray(payload)
        for pos in rng.integers(0, len(bad), size=rng.integers(1, 4)):
            bad[pos] ^= 1 << int(rng.integers(0, 8))
        cut = len(bad) if rng.random() < 0.7 else int(rng.integers(0, len(bad)))
        try:
            out = codec.decode(_reframe(data, bytes(bad[:cut])))
        except CorruptStreamError:
            failures += 1
        else:
            assert out.shape == cube.shape
    assert failures > 0


def test_unsupported_cubes_and_parameters():
    codec = create_codec("ccsds122")
    with pytest.raises(UnsupportedCubeError, match="integer"):
        codec.encode(Cube(np.zeros((1, 8, 8), np.float32), value_range=(0, 1)))
    with pytest.raises(UnsupportedCubeError, match="16"):
        codec.encode(Cube(np.zeros((1, 8, 8), np.uint32), bit_depth=20))
    ok = Cube(np.arange(64, dtype=np.uint32).reshape(1, 8, 8), bit_depth=16)
    assert codec.decode(codec.encode(ok)).shape == ok.shape
    with pytest.raises(CodecParameterError):
        create_codec("ccsds122", lossless="yes")
    with pytest.raises(CodecParameterError):
        create_codec("ccsds122", segment_blocks=0)
    with pytest.raises(CodecParameterError):
        create_codec("ccsds122", bpppc=0)
    assert isinstance(codec, Ccsds122Codec)
    assert codec.row_columns(ok) == {"dwt": "float 9/7", "segment_blocks": 1, "seg_byte_limit": 8}


def test_old_knob_name_works_in_a_run(tmp_path):
    import json

    from conftest import run_cli

    folder = tmp_path / "d"
    folder.mkdir()
    np.save(folder / "a.npy", _random_cube(np.random.default_rng(4), (2, 16, 16), 8, False, smooth=True).data)
    with pytest.warns(FutureWarning, match="'bpp' is now called 'bpppc'"):
        assert run_cli("run", "--codecs", "ccsds122", "--param", "ccsds122.bpp=0.5,2", "--dataset",
                       f"folder:{folder}", "--out", str(tmp_path / "run"), "--quiet") == 0
    rows = [json.loads(line) for line in (tmp_path / "run" / "rows.jsonl").read_text().splitlines()]
    assert sorted(json.loads(r["params"])["bpppc"] for r in rows) == [0.5, 2]
    assert all(r["status"] == "ok" for r in rows)
