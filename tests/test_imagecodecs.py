"""The imagecodecs wrappers: exact lossless round trips, error bounds kept, rate order, clear refusals."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import zlib

import numpy as np
import pytest

from hsbench.codecs import container, create_codec, get_codec
from hsbench.codecs.bandpack import pack_streams
from hsbench.codecs.registry import describe_codecs
from hsbench.cube import Cube
from hsbench.errors import CodecUnavailableError, CorruptStreamError, UnsupportedCubeError

imagecodecs = pytest.importorskip("imagecodecs")

IMAGECODECS_CODECS = ("jpegls", "jpegxl", "htj2k", "jpeg12", "ccsds121", "zfp", "sz3", "lerc", "zstd", "blosc2")


def textured(bands: int, rows: int, cols: int, dtype: str, bit_depth: int, signed: bool = False, seed: int = 0) -> Cube:
    """Smooth bands plus noise over most of the ``bit_depth`` range (floats: around 0..1)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:rows, :cols]
    base = np.stack([np.sin(x / 5.0 + b) * np.cos(y / 4.0 - b) for b in range(bands)])
    if np.dtype(dtype).kind == "f":
        return Cube((0.5 + 0.4 * base + rng.normal(0, 0.01, base.shape)).astype(dtype), name="float")
    top = (1 << (bit_depth - 1)) - 1 if signed else (1 << bit_depth) - 1
    values = base * (top / 2.2) if signed else (base + 1.0) * (top / 2.2)
    values = values + rng.normal(0, max(2.0, top / 2000), values.shape)
    lo, hi = (-top - 1, top) if signed else (0, top)
    return Cube(np.clip(np.rint(values), lo, hi).astype(dtype), bit_depth=bit_depth, name=f"{dtype}-{bit_depth}")


INTEGER_CASES = [
    # bands, rows, cols, dtype, bit depth, signed
    (3, 20, 24, "uint8", 8, False),
    (2, 17, 33, "uint16", 12, False),
    (2, 16, 16, "uint16", 16, False),
    (2, 9, 11, "int16", 16, True),
    (2, 9, 11, "int16", 12, True),
    (1, 1, 1, "uint8", 8, False),
    (2, 1, 37, "uint16", 12, False),
]

LOSSLESS = [
    ("jpegls", {}),
    ("jpegxl", {"lossless": True}),
    ("htj2k", {"lossless": True}),
    ("ccsds121", {}),
    ("ccsds121", {"order": "bip", "block_size": 8, "rsi": 1}),
    ("zfp", {}),
    ("sz3", {}),
    ("lerc", {}),
    ("zstd", {}),
    ("blosc2", {}),
]


@pytest.mark.parametrize("name,params", LOSSLESS)
@pytest.mark.parametrize("case", INTEGER_CASES, ids=lambda c: f"{c[3]}-{c[4]}bit-{c[0]}x{c[1]}x{c[2]}")
def test_lossless_round_trip_is_exact(name, params, case):
    cube = textured(*case)
    codec = create_codec(name, **params)
    out = codec.decode(codec.encode(cube))
    assert out.dtype == cube.dtype and out.bit_depth == cube.bit_depth
    np.testing.assert_array_equal(out.data, cube.data)
    assert codec.max_error(cube) == 0


@pytest.mark.parametrize("name", ["ccsds121", "zfp", "sz3", "lerc", "zstd", "blosc2"])
def test_lossless_round_trip_of_32_bit_integers(name):
    rng = np.random.default_rng(3)
    cube = Cube(rng.integers(0, 2**32 - 1, (2, 6, 7), dtype=np.uint32), bit_depth=32)
    codec = create_codec(name)
    np.testing.assert_array_equal(codec.decode(codec.encode(cube)).data, cube.data)


@pytest.mark.parametrize("name", ["zfp", "lerc", "zstd", "blosc2"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_lossless_round_trip_of_floats(name, dtype):
    cube = textured(2, 8, 9, dtype, 0)
    codec = create_codec(name)
    np.testing.assert_array_equal(codec.decode(codec.encode(cube)).data, cube.data)


BOUNDED = ["jpegls", "zfp", "sz3", "lerc"]


@pytest.mark.parametrize("name", BOUNDED)
@pytest.mark.parametrize("case", INTEGER_CASES[:5], ids=lambda c: f"{c[3]}-{c[4]}bit")
@pytest.mark.parametrize("bound", [1, 3, 7.5])
def test_error_bound_is_honoured(name, case, bound):
    cube = textured(*case)
    codec = create_codec(name, max_error=bound if name != "jpegls" else int(bound))
    out = codec.decode(codec.encode(cube))
    error = np.abs(out.data.astype(np.float64) - cube.data).max()
    assert codec.max_error(cube) == int(bound)  # integer cubes: the integer part
    assert error <= codec.max_error(cube)
    if name in ("jpegls", "lerc"):  # uniform quantisers use the bound (zfp, sz3 may stay inside it)
        assert error >= 1


@pytest.mark.parametrize("name", ["zfp", "sz3", "lerc"])
def test_float_error_bound_is_honoured(name):
    cube = textured(3, 12, 13, "float32", 0)
    codec = create_codec(name, max_error=0.01)
    out = codec.decode(codec.encode(cube))
    assert codec.max_error(cube) == pytest.approx(0.01)
    assert np.abs(out.data.astype(np.float64) - cube.data).max() <= 0.01


def test_jpegls_near_is_capped_and_recorded():
    cube = textured(1, 16, 16, "uint8", 8)
    codec = create_codec("jpegls", max_error=200)
    assert codec.max_error(cube) == 127 and codec.row_columns(cube)["jpegls_near"] == 127
    out = codec.decode(codec.encode(cube))
    assert np.abs(out.data.astype(int) - cube.data).max() <= 127


KNOB_CODECS = ["jpegls", "jpegxl", "htj2k", "jpeg12", "zfp", "sz3", "lerc"]


@pytest.mark.parametrize("name", KNOB_CODECS)
def test_rate_falls_as_the_knob_loosens(name):
    """Over the default sweep, ordered from the finest to the coarsest point, the stream shrinks."""
    cube = textured(2, 48, 48, "uint16", 12, seed=5)
    cls = get_codec(name)
    points = sorted(cls.sweep(), key=lambda p: p[cls.knob.name], reverse=cls.knob.increases_rate)
    if name == "zfp":  # max_error=0 is zfp's reversible mode, another coder: on noisy data it can be
        points = points[1:]  # smaller than fixed-accuracy at the smallest tolerances
    sizes = [len(create_codec(name, **p).encode(cube)) for p in points]
    assert all(a >= b for a, b in zip(sizes, sizes[1:])), sizes
    assert sizes[-1] < 0.5 * sizes[0], sizes


def test_lossy_quality_at_fine_settings():
    cube = textured(2, 32, 32, "uint16", 12)
    for name, params in [("jpegxl", {"distance": 0.25}), ("htj2k", {"qstep": 2.5e-4}), ("jpeg12", {"quality": 95})]:
        out = create_codec(name, **params).decode(create_codec(name, **params).encode(cube))
        mse = np.mean((out.data.astype(np.float64) - cube.data) ** 2)
        assert 10 * np.log10(4095**2 / mse) > 50, name


def test_htj2k_step_is_relative_to_the_nominal_depth():
    """The lossy pre-shift makes qstep mean the same for 12-bit data in uint16 as for 16-bit data."""
    twelve = textured(1, 32, 32, "uint16", 12)
    sixteen = Cube(twelve.data << 4, bit_depth=16)
    codec = create_codec("htj2k", qstep=2e-3)
    assert codec.row_columns(twelve)["htj2k_shift"] == 4 and codec.row_columns(sixteen)["htj2k_shift"] == 0
    assert abs(len(codec.encode(twelve)) - len(codec.encode(sixteen))) < 0.05 * len(codec.encode(sixteen))


def test_jpeg12_streams_are_12_bit_and_wider_data_is_rescaled():
    cube = textured(1, 16, 16, "uint16", 12)
    codec = create_codec("jpeg12", quality=90)
    header, payload = container.unpack(codec.encode(cube))
    sof1 = bytes(payload).find(b"\xff\xc1")  # extended sequential DCT frame (T.81 B.2.2)
    assert sof1 > 0 and payload[sof1 + 4] == 12
    assert codec.row_columns(cube)["rescaled_bits"] == "none"
    wide = textured(2, 16, 16, "uint16", 16)
    assert codec.row_columns(wide)["rescaled_bits"] == "16->12"
    out = codec.decode(codec.encode(wide))
    assert np.abs(out.data.astype(float) - wide.data).max() < 0.02 * 65535


def test_jpegxl_declares_the_nominal_bit_depth():
    cube = textured(1, 16, 16, "uint16", 12)
    lossless = create_codec("jpegxl", lossless=True)
    assert lossless.row_columns(cube)["jxl_bits"] == 12
    # a 12-bit codestream decodes to the same 12-bit values, not to a 16-bit rescaled version
    np.testing.assert_array_equal(lossless.decode(lossless.encode(cube)).data, cube.data)


# -- refusals -------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["jpegls", "jpegxl", "htj2k", "ccsds121"])
def test_float_cubes_are_refused_by_integer_coders(name):
    with pytest.raises(UnsupportedCubeError, match="integer samples.*zfp"):
        create_codec(name).encode(textured(1, 4, 4, "float32", 0))


@pytest.mark.parametrize("name", ["jpegls", "jpegxl", "htj2k"])
def test_samples_wider_than_16_bits_are_refused(name):
    cube = Cube(np.full((1, 4, 4), 70000, np.uint32), bit_depth=17)
    with pytest.raises(UnsupportedCubeError, match="at most 16 bits"):
        create_codec(name).encode(cube)


def test_sz3_refuses_lossless_floats():
    with pytest.raises(UnsupportedCubeError, match="max_error > 0"):
        create_codec("sz3").encode(textured(1, 4, 4, "float32", 0))


def test_jpeg_ls_side_limit():
    with pytest.raises(UnsupportedCubeError, match="65535 pixels per side"):
        create_codec("jpegls").encode(Cube(np.zeros((1, 1, 65536), np.uint8)))


@pytest.mark.parametrize(
    "name,params",
    [("ccsds121", {"block_size": 12}), ("ccsds121", {"rsi": 0}), ("ccsds121", {"order": "bil"}),
     ("jpegxl", {"effort": 11}), ("htj2k", {"lossless": "yes"}), ("zstd", {"level": 30}),
     ("blosc2", {"shuffle": "byte"}), ("jpeg12", {"rescale": "global"})],
)
def test_bad_parameters_are_refused(name, params):
    from hsbench.errors import CodecParameterError

    with pytest.raises(CodecParameterError, match=next(iter(params))):
        create_codec(name, **params)


# -- streams ----------------------------------------------------------------------------------------
def reframe(stream: bytes, payload: bytes | None = None, **changes) -> bytes:
    """The stream's payload (or ``payload``) under a framing header with other fields and a valid CRC."""
    header, old = container.unpack(stream)
    return container.pack(dataclasses.replace(header, **changes), bytes(old if payload is None else payload))


@pytest.mark.parametrize("name,params", LOSSLESS + [("jpeg12", {})])
@pytest.mark.parametrize("shape", [(2, 8, 9), (2, 8, 7), (3, 8, 8)])
def test_a_payload_framed_with_another_geometry_is_a_corrupt_stream(name, params, shape):
    codec = create_codec(name, **params)
    stream = codec.encode(textured(2, 8, 8, "uint16", 12))
    with pytest.raises(CorruptStreamError):
        codec.decode(reframe(stream, shape=shape))


@pytest.mark.parametrize("name", IMAGECODECS_CODECS)
def test_huge_geometry_in_a_tiny_stream_is_refused_before_allocating(name):
    codec = create_codec(name)
    stream = codec.encode(textured(1, 4, 4, "uint16", 12))
    with pytest.raises(CorruptStreamError, match="cannot hold|too short|samples per"):
        codec.decode(reframe(stream, shape=(60000, 60000, 60000)))


@pytest.mark.parametrize("name", ["jpegls", "jpegxl", "htj2k", "jpeg12", "lerc", "zstd", "blosc2", "sz3", "zfp"])
def test_library_errors_become_corrupt_stream_errors(name):
    codec = create_codec(name)
    stream = codec.encode(textured(1, 8, 8, "uint16", 12))
    header, payload = container.unpack(stream)
    junk = b"\x09" + b"\x5a" * 40
    if name in ("jpegls", "jpegxl", "htj2k", "jpeg12", "blosc2"):  # a well-formed band list holding junk
        junk = (b"\x00" if name in ("htj2k", "jpeg12") else b"") + pack_streams([junk], lambda s: 0)
    with pytest.raises(CorruptStreamError, match=name if name != "jpeg12" else "jpeg12|12-bit JPEG"):
        codec.decode(reframe(stream, payload=junk))


def resealed(body: bytes) -> bytes:
    """``body`` with the CRC-32 that sealed codecs (htj2k, sz3) close their payload with."""
    return body + zlib.crc32(body).to_bytes(4, "little")


@pytest.mark.parametrize("name", ["htj2k", "sz3"])
def test_a_damaged_body_of_a_sealed_codec_fails_its_crc(name):
    codec = create_codec(name)
    stream = codec.encode(textured(2, 16, 16, "uint16", 12))
    header, payload = container.unpack(stream)
    bad = bytearray(payload)
    bad[len(bad) // 2] ^= 0x10
    with pytest.raises(CorruptStreamError, match="CRC-32"):
        codec.decode(reframe(stream, payload=bytes(bad)))


def test_htj2k_siz_with_a_foreign_tile_layout_is_refused():
    codec = create_codec("htj2k")
    stream = codec.encode(textured(1, 16, 24, "uint16", 12))
    _, payload = container.unpack(stream)
    body = bytearray(payload[:-4])
    siz = bytes(body).index(b"\xff\x4f\xff\x51")  # SOC SIZ of the shared main header
    body[siz + 24 : siz + 28] = (0x02000018).to_bytes(4, "big")  # XTsiz (T.800 A.5.1): OpenJPH loops on it
    with pytest.raises(CorruptStreamError, match="tiles"):
        codec.decode(reframe(stream, payload=resealed(bytes(body))))


def test_sz3_stream_under_a_framing_of_another_value_type_is_refused():
    codec = create_codec("sz3")
    stream = codec.encode(textured(2, 16, 16, "uint16", 12))  # coded as float32
    with pytest.raises(CorruptStreamError, match="coded as float64"):  # SZ3 itself would abort the process
        codec.decode(reframe(stream, dtype=np.dtype("uint32"), bit_depth=32))


def test_lerc_blob_header_describing_another_band_is_refused():
    codec = create_codec("lerc")
    stream = codec.encode(textured(2, 16, 24, "uint16", 12))
    _, payload = container.unpack(stream)
    body = bytearray(payload)
    body[14:18] = (1 << 20).to_bytes(4, "little")  # nRows of the first blob: LERC would allocate it
    with pytest.raises(CorruptStreamError, match="lerc blob 0 describes"):
        codec.decode(reframe(stream, payload=bytes(body)))


def test_zfp_header_describing_another_field_is_refused():
    codec = create_codec("zfp")
    stream = codec.encode(textured(2, 16, 24, "uint16", 12))
    with pytest.raises(CorruptStreamError, match="zfp stream holds"):
        codec.decode(reframe(stream, shape=(1, 16, 24)))


@pytest.mark.parametrize(
    "name,params", [("sz3", {}), ("lerc", {}), ("jpegxl", {"lossless": True}), ("zstd", {}), ("blosc2", {}),
                    ("htj2k", {"lossless": True}), ("jpegls", {})],
)
def test_a_large_constant_band_is_coded_not_refused(name, params):
    """The codec's ``max_samples_per_byte`` admits what its encoder writes for a constant 2048 x 2048 band."""
    cube = Cube(np.full((1, 2048, 2048), 1000, np.uint16), bit_depth=12, name="flat")
    codec = create_codec(name, **params)
    stream = codec.encode(cube)
    assert np.array_equal(codec.decode(stream).data, cube.data)


def test_ccsds121_truncated_stream_is_reported_as_truncated():
    codec = create_codec("ccsds121")
    cube = textured(2, 32, 32, "uint16", 12)
    header, payload = container.unpack(codec.encode(cube))
    with pytest.raises(CorruptStreamError, match="truncated|cannot be decoded"):
        codec.decode(reframe(codec.encode(cube), payload=bytes(payload[: len(payload) // 2])))


# -- availability and versions --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name,library",
    [("jpegls", "charls"), ("jpegxl", "libjxl"), ("htj2k", "openjph"), ("ccsds121", "libaec"), ("zfp", "zfp"),
     ("sz3", "sz3"), ("lerc", "lerc"), ("zstd", "zstd"), ("blosc2", "c-blosc2"), ("jpeg12", "libjpeg_turbo")],
)
def test_library_versions_name_the_wrapped_library(name, library):
    versions = get_codec(name).library_versions()
    assert versions["imagecodecs"] == imagecodecs.__version__
    assert versions[library] not in ("", "missing")


def test_codec_is_unavailable_with_a_reason_when_its_library_is_missing(monkeypatch):
    monkeypatch.setattr(imagecodecs.JPEGLS, "available", False)
    with pytest.raises(CodecUnavailableError, match="JPEGLS"):
        create_codec("jpegls")
    info = {i.name: i for i in describe_codecs()}["jpegls"]
    assert not info.available and "JPEGLS" in info.reason


def test_importing_the_wrappers_does_not_import_imagecodecs():
    code = (
        "import sys, hsbench.codecs.imagecodecs.images, hsbench.codecs.imagecodecs.scientific, "
        "hsbench.codecs.imagecodecs.ccsds121, hsbench.codecs.imagecodecs.lossless; "
        "print('imagecodecs' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_a_run_records_lossless_and_bounded_rows_with_library_versions(tmp_path):
    """Through the runner: ccsds121 lossless, sz3 within each bound, the wrapped library named in the row."""
    import json

    from conftest import run_cli

    out = tmp_path / "run"
    status = run_cli(
        "run", "--codecs", "ccsds121,sz3", "--dataset", "samples", "--max-images", "1",
        "--crop", "32x32", "--param", "sz3.max_error=0,4", "--out", str(out), "--quiet", "--no-plots",
    )
    assert status == 0
    rows = [json.loads(line) for line in (out / "rows.jsonl").read_text().splitlines()]
    assert len(rows) == 3 and all(r["status"] == "ok" for r in rows)
    for row in rows:
        bound = 0 if row["codec"] == "ccsds121" else json.loads(row["params"])["max_error"]
        assert row["max_abs_error"] <= bound
    versions = json.loads(next(r for r in rows if r["codec"] == "ccsds121")["library_versions"])
    assert "libaec" in versions
