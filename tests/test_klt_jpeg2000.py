"""``klt-jpeg2000``: the spectral KLT and 5/3 DWT, the side information, rate, exactness, errors, gains."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from hsbench import bdrate
from hsbench.codecs import container, create_codec
from hsbench.codecs.bandpack import pack_streams, unpack_streams
from hsbench.codecs.jpeg2000 import klt, openjpeg
from hsbench.cube import Cube, integer_range
from hsbench.errors import CodecParameterError, CorruptStreamError, UnsupportedCubeError


def mixed_cube(bands=30, rows=64, cols=80, endmembers=4, bit_depth=12, noise=3.0, seed=0) -> Cube:
    """A linear mixture of a few smooth abundance maps with smooth spectra, plus noise: correlated bands."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:rows, :cols]
    maps = np.stack([np.sin(x / (7.0 + i) + i) * np.cos(y / (5.0 + i) - i) for i in range(endmembers)])
    b, k = np.mgrid[:bands, :endmembers]
    spectra = 0.5 + 0.4 * np.sin(b / (6.0 + 3 * k) + 2 * k + rng.random(endmembers))
    top = (1 << bit_depth) - 1
    data = np.einsum("bk,khw->bhw", spectra, maps) * top / 5 + top / 2 + rng.normal(0, noise, (bands, rows, cols))
    return Cube(np.clip(np.rint(data), 0, top).astype(np.uint16), bit_depth=bit_depth)


def psnr(a: Cube, b: Cube) -> float:
    mse = np.mean((a.data.astype(np.float64) - b.data.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(b.peak**2 / mse)


def _reference_lift(x: list[int]) -> tuple[list[int], list[int]]:
    """One 5/3 step written out sample by sample from T.800 F.3.8 with explicit symmetric extension."""
    n = len(x)

    def ext(signal: list[int], i: int) -> int:  # whole-sample symmetric extension of the input
        while not 0 <= i < n:
            i = -i if i < 0 else 2 * (n - 1) - i
        return signal[i]

    y = list(x)
    for i in range(1, n, 2):
        y[i] = x[i] - (ext(x, i - 1) + ext(x, i + 1)) // 2
    odd = {i: y[i] for i in range(1, n, 2)}

    def d(i: int) -> int:
        while not (0 <= i < n):
            i = -i if i < 0 else 2 * (n - 1) - i
        return odd[i]

    for i in range(0, n, 2):
        y[i] = x[i] + (d(i - 1) + d(i + 1) + 2) // 4
    return y[0::2], y[1::2]


@pytest.mark.parametrize("length", [2, 3, 4, 5, 8, 13, 31])
def test_spectral_lifting_matches_the_standard_written_out(length):
    rng = np.random.default_rng(length)
    x = rng.integers(-5000, 5000, (length, 2, 3)).astype(np.int32)
    s, d = klt._lift_53(x)
    for r in range(2):
        for c in range(3):
            ref_s, ref_d = _reference_lift([int(v) for v in x[:, r, c]])
            assert list(s[:, r, c]) == ref_s and list(d[:, r, c]) == ref_d


@pytest.mark.parametrize("bands", [1, 2, 3, 7, 16, 33, 180])
def test_spectral_dwt_inverts_exactly(bands):
    rng = np.random.default_rng(bands)
    x = rng.integers(-32768, 32768, (bands, 5, 4)).astype(np.int32)
    levels = klt.spectral_levels(bands)
    assert levels == min(5, int(np.log2(bands)))
    components = klt.spectral_53_forward(x, levels)
    assert components.shape == x.shape
    np.testing.assert_array_equal(klt.spectral_53_inverse(components, levels), x)


def test_klt_basis_is_the_covariance_eigenbasis():
    cube = mixed_cube(bands=12, rows=20, cols=24)
    means, values, vectors = klt.klt_basis(cube.data)
    flat = cube.data.reshape(12, -1).astype(np.float64)
    np.testing.assert_allclose(means, flat.mean(axis=1))
    np.testing.assert_allclose(values, np.sort(np.linalg.eigvalsh(np.cov(flat, bias=True)))[::-1], rtol=1e-9, atol=1e-8)
    np.testing.assert_allclose(vectors.T @ vectors, np.eye(12), atol=1e-10)
    projected = vectors.T @ (flat - means[:, None])
    np.testing.assert_allclose(np.cov(projected, bias=True), np.diag(values), atol=1e-6 * values[0])
    assert (vectors[np.abs(vectors).argmax(axis=0), np.arange(12)] > 0).all()  # the sign convention


def _side(stream: bytes, bands: int):
    header, payload = container.unpack(stream)
    count, precision, scale, means, matrix, pos = klt._read_klt_side(payload, bands)
    return header, payload, count, precision, scale, means, matrix, pos


def test_side_information_is_what_the_decoder_uses_exactly():
    """Means (float32) and the Q15 matrix in the stream are the encoder's own; decoding is x = m + Q(Q'Q)^-1 y / s."""
    cube = mixed_cube()
    codec = create_codec("klt-jpeg2000", ratio=16, components="all")
    stream = codec.encode(cube)
    _, payload, count, precision, scale, means, matrix, pos = _side(stream, cube.bands)
    ref_means, _, vectors = klt.klt_basis(cube.data)
    assert count == cube.bands and 16 <= precision <= 20 and payload[0] == 0
    np.testing.assert_array_equal(means, ref_means.astype(np.float32))
    np.testing.assert_array_equal(matrix, klt.quantise_matrix(vectors))
    (codestream,) = unpack_streams(payload, pos, 1)
    with openjpeg.scratch_file() as path:
        components, got, signed = openjpeg.decode(codestream, path)
    assert (got, signed) == (precision, True)
    q = matrix.astype(np.float64) / 2**15
    rebuilt = q @ np.linalg.solve(q.T @ q, components.reshape(count, -1)) / scale + means[:, None].astype(np.float64)
    expected = np.clip(np.rint(rebuilt), 0, 4095).reshape(cube.shape)
    np.testing.assert_array_equal(codec.decode(stream).data, expected)


def test_klt_beats_per_band_coding_and_hits_the_ratio():
    cube = mixed_cube()
    for ratio in (8, 16, 32, 64):
        results = {}
        for name in ("jpeg2000", "klt-jpeg2000"):
            codec = create_codec(name, ratio=ratio)
            stream = codec.encode(cube)
            assert abs(cube.nominal_bytes / len(stream) / ratio - 1) < 0.03, (name, ratio)
            decoded = codec.decode(stream)
            assert decoded.dtype == cube.dtype and decoded.shape == cube.shape
            results[name] = psnr(decoded, cube)
        assert results["klt-jpeg2000"] > results["jpeg2000"] + 1.0, (ratio, results)


def test_auto_keeps_the_components_the_rate_pays_for():
    cube = mixed_cube()
    counts = {}
    for ratio in (8, 128):
        stream = create_codec("klt-jpeg2000", ratio=ratio).encode(cube)
        counts[ratio] = _side(stream, cube.bands)[2]
    assert counts[8] == cube.bands and 1 <= counts[128] < 10, counts  # 4 endmembers: few components matter
    # at 128:1 the full matrix would eat the budget: keeping all components is worse
    auto = create_codec("klt-jpeg2000", ratio=128)
    every = create_codec("klt-jpeg2000", ratio=128, components="all")
    assert psnr(auto.decode(auto.encode(cube)), cube) > psnr(every.decode(every.encode(cube)), cube) + 10
    three = create_codec("klt-jpeg2000", ratio=32, components=3)
    assert _side(three.encode(cube), cube.bands)[2] == 3
    assert three.row_columns(cube)["klt_components"] == "3"


@pytest.mark.parametrize("shape", [(1, 9, 14), (2, 9, 14), (3, 1, 1), (5, 17, 33), (40, 8, 9)],
                         ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("dtype,bit_depth", [("uint8", 8), ("uint16", 12), ("uint16", 16), ("int16", 16), ("int8", 5)])
def test_lossless_is_exact(shape, dtype, bit_depth):
    lo, hi = integer_range(bit_depth, np.dtype(dtype).kind == "i")
    data = np.random.default_rng(sum(shape)).integers(lo, hi + 1, size=shape).astype(dtype)
    data.flat[0], data.flat[-1] = lo, hi
    cube = Cube(data, bit_depth=bit_depth)
    codec = create_codec("klt-jpeg2000", lossless=True)
    out = codec.decode(codec.encode(cube))
    assert out.dtype == cube.dtype
    np.testing.assert_array_equal(out.data, cube.data)
    assert codec.max_error(cube) == 0.0
    assert codec.row_columns(cube)["spectral_transform"] == f"5/3 DWT x{klt.spectral_levels(shape[0])}"


def test_lossless_spectral_dwt_saves_rate_on_correlated_bands():
    cube = mixed_cube(bands=32)
    sizes = {name: len(create_codec(name, lossless=True).encode(cube)) for name in ("jpeg2000", "klt-jpeg2000")}
    assert sizes["klt-jpeg2000"] < 0.9 * sizes["jpeg2000"], sizes


def test_float_data_lossy_and_refused_lossless():
    cube = mixed_cube(bands=10, bit_depth=16)
    floats = Cube((cube.data / 65535.0).astype(np.float32))
    codec = create_codec("klt-jpeg2000", ratio=16)
    stream = codec.encode(floats)
    out = codec.decode(stream)
    assert out.dtype == np.float32 and psnr(out, floats) > 45
    assert abs(floats.nominal_bytes / len(stream) / 16 - 1) < 0.03  # float32: the ratio counts 32 bits a sample
    assert _side(stream, 10)[3] == 20  # float components use the full 20 bits
    with pytest.raises(UnsupportedCubeError, match="at most 16 bits"):
        create_codec("klt-jpeg2000", lossless=True).encode(floats)


@pytest.mark.parametrize("params", [{"components": 0}, {"components": "some"}, {"components": 2.5},
                                    {"lossless": 1}, {"resolutions": 40}, {"ratio": 0}, {"mct": True}])
def test_bad_parameters_are_refused(params):
    with pytest.raises(CodecParameterError):
        create_codec("klt-jpeg2000", **params)


def test_damaged_streams_raise_corrupt_stream_error():
    cube = mixed_cube(bands=6, rows=32, cols=32)
    codec = create_codec("klt-jpeg2000", ratio=8, components="all")
    stream = codec.encode(cube)
    header, payload, count, precision, scale, means, matrix, pos = _side(stream, 6)
    (codestream,) = unpack_streams(payload, pos, 1)

    def forge(count=count, precision=precision, scale=scale, means=means, matrix=matrix, body=codestream, flags=0):
        side = struct.pack("<HBd", count, precision, scale) + means.astype("<f4").tobytes()
        side += np.asarray(matrix).astype("<i2").tobytes()
        return container.pack(header, bytes([flags]) + side + pack_streams([body], lambda s: 0))

    for bad, why in (
        (forge(count=7), "invalid"),  # more components than bands
        (forge(precision=24), "invalid"),
        (forge(scale=float("nan")), "invalid"),
        (forge(matrix=np.zeros((6, 6))), "singular"),
        (forge(means=np.full(6, np.inf)), "non-finite"),
        (forge(count=3, matrix=matrix[:, :3]), "announces 3"),  # codestream of 6 components
        (forge(body=codestream[: len(codestream) // 2]), "OpenJPEG cannot decode"),
        (forge(flags=7), "unknown flags"),
        (container.pack(header, bytes(payload[:40])), "truncated"),
        (container.pack(header, bytes([0, 1, 2])), "truncated"),
    ):
        with pytest.raises(CorruptStreamError, match=why):
            codec.decode(bad)
    lossless = create_codec("klt-jpeg2000", lossless=True)
    header, payload = container.unpack(lossless.encode(cube))
    with pytest.raises(CorruptStreamError, match="spectral levels"):
        lossless.decode(container.pack(header, bytes([1, 5]) + bytes(payload[2:])))


def _rd_curve(name: str, cube: Cube, ratios) -> tuple[list[float], list[float]]:
    rates, qualities = [], []
    for ratio in ratios:
        codec = create_codec(name, ratio=ratio)
        stream = codec.encode(cube)
        rates.append(8 * len(stream) / cube.data.size)
        qualities.append(psnr(codec.decode(stream), cube))
    return rates, qualities


@pytest.mark.slow
def test_bd_rate_against_per_band_jpeg2000_on_the_224_band_cube(indian_pines_mat: Path):
    """On the simulated Indian Pines cube (224 float64 bands, 17 distinct spectra), the KLT saves most of the rate.

    Full curves (``jpeg2000`` 8..128:1, ``klt-jpeg2000`` 64..2048:1) give a BD-rate of -95 %; three
    points each, where the PSNR ranges overlap, keep the test short.
    """
    scipy_io = pytest.importorskip("scipy.io")
    mat = indian_pines_mat
    cube = Cube.from_hwc(scipy_io.loadmat(mat)["simu_indian"], name="simu_indian")
    anchor = _rd_curve("jpeg2000", cube, (32, 64, 128))
    test = _rd_curve("klt-jpeg2000", cube, (512, 1024, 2048))
    result = bdrate.bd_rate(*anchor, *test)
    assert result.ok and result.value < -50, (result, anchor, test)


def test_codestream_siz_is_checked_before_openjpeg_allocates(monkeypatch):
    """The multi-component codestream's SIZ must describe the K components the payload announces."""
    from dataclasses import replace

    cube = mixed_cube(bands=6, rows=32, cols=32)
    codec = create_codec("klt-jpeg2000", ratio=8, components="all")
    stream = codec.encode(cube)
    header, payload, count, precision, *_ = _side(stream, 6)
    payload = bytes(payload)
    at = payload.index(b"\xff\x4f\xff\x51")
    assert openjpeg.siz_geometry(payload[at:]) == (32, 32, count, precision, True)
    calls = []
    monkeypatch.setattr(openjpeg, "decode", lambda *a: calls.append(a))
    forged = bytearray(payload)
    forged[at + 8 : at + 16] = (50000).to_bytes(4, "big") * 2  # Xsiz, Ysiz
    with pytest.raises(CorruptStreamError, match=f"SIZ describes {count} component.*of 50000x50000"):
        codec.decode(container.pack(header, bytes(forged)))
    forged = bytearray(payload)
    forged[at + 42] &= 0x7F  # first component unsigned, the others signed
    with pytest.raises(CorruptStreamError, match="different precision"):
        codec.decode(container.pack(header, bytes(forged)))
    lossless = create_codec("klt-jpeg2000", lossless=True)
    header, payload = container.unpack(lossless.encode(cube))
    payload = bytes(payload)
    at = payload.index(b"\xff\x4f\xff\x51")
    forged = bytearray(payload)
    forged[at + 40 : at + 42] = (5).to_bytes(2, "big")  # Csiz: 5 of the 6 components
    with pytest.raises(CorruptStreamError, match="SIZ|malformed"):
        lossless.decode(container.pack(header, bytes(forged)))
    floats = replace(header, dtype=np.dtype(np.float32), bit_depth=32, value_range=(0.0, 1.0))
    with pytest.raises(CorruptStreamError, match="lossless coding"):
        lossless.decode(container.pack(floats, payload))
    assert not calls
