"""The ``jpeg`` codec: round trips, rate order, explicit rescaling, Pillow agreement, clear errors."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from hsbench.codecs import container, create_codec
from hsbench.codecs.bandpack import unpack_streams
from hsbench.codecs.jpeg import JpegCodec, jpeg_header_length
from hsbench.cube import Cube
from hsbench.errors import CodecParameterError, CorruptStreamError, UnsupportedCubeError


@pytest.fixture(scope="module")
def astronaut() -> Cube:
    skimage_data = pytest.importorskip("skimage.data")
    return Cube.from_hwc(skimage_data.astronaut(), bit_depth=8, name="astronaut")


def smooth(bands: int, rows: int, cols: int, dtype: str, bit_depth: int, signed: bool = False) -> Cube:
    """A smooth test image filling most of the ``bit_depth`` range (JPEG codes it well)."""
    y, x = np.mgrid[:rows, :cols]
    base = np.stack([np.sin(x / 7.0 + b) * np.cos(y / 5.0 - b) for b in range(bands)])
    if np.dtype(dtype).kind == "f":
        return Cube(base.astype(dtype), value_range=(-1.0, 1.0))
    top = (1 << (bit_depth - 1)) - 1 if signed else (1 << bit_depth) - 1
    values = base * (top / 2.2) if signed else (base + 1.0) * (top / 2.2)
    return Cube(np.rint(values).astype(dtype), bit_depth=bit_depth)


def psnr(a: np.ndarray, b: np.ndarray, peak: float) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(peak**2 / mse)


CASES = [
    # bands, rows, cols, dtype, bit depth, signed
    (3, 48, 40, "uint8", 8, False),
    (1, 32, 32, "uint8", 8, False),
    (5, 17, 33, "uint8", 8, False),
    (4, 24, 24, "uint16", 12, False),
    (2, 24, 40, "uint16", 16, False),
    (3, 16, 16, "uint16", 16, False),
    (2, 20, 20, "int16", 16, True),
    (2, 20, 20, "float32", 32, False),
    (1, 1, 1, "uint8", 8, False),
    (2, 1, 37, "uint16", 12, False),
    (3, 29, 1, "uint8", 8, False),
]


@pytest.mark.parametrize("bands,rows,cols,dtype,bit_depth,signed", CASES)
def test_round_trip_keeps_geometry_type_and_quality(bands, rows, cols, dtype, bit_depth, signed):
    cube = smooth(bands, rows, cols, dtype, bit_depth, signed)
    codec = create_codec("jpeg", quality=95)
    stream = codec.encode(cube)
    out = codec.decode(stream)
    assert out.shape == cube.shape and out.dtype == cube.dtype and out.bit_depth == cube.bit_depth
    # 8-bit quantisation (explicit rescaling for wide data) + JPEG at quality 95 on smooth data
    span = float(cube.data.max()) - float(cube.data.min()) or 1.0
    if rows * cols > 1:
        assert psnr(out.data, cube.data, span) > 30
    assert np.abs(out.data.astype(np.float64) - cube.data).max() <= 0.2 * span


def test_single_pixel_is_exact_enough():
    cube = Cube(np.array([[[200]], [[17]]], np.uint8))
    out = create_codec("jpeg", quality=90).decode(create_codec("jpeg", quality=90).encode(cube))
    assert np.abs(out.data.astype(int) - cube.data).max() <= 2


def test_rgb_payload_is_pillows_own_jpeg(astronaut):
    """3-band 8-bit data is exactly the JPEG Pillow writes with its defaults (4:2:0, standard tables)."""
    codec = create_codec("jpeg", quality=75)
    header, payload = container.unpack(codec.encode(astronaut))
    buffer = io.BytesIO()
    Image.fromarray(np.moveaxis(astronaut.data, 0, -1)).save(buffer, "JPEG", quality=75)
    assert bytes(payload[1:]) == buffer.getvalue()
    reference = np.moveaxis(np.asarray(Image.open(io.BytesIO(buffer.getvalue()))), -1, 0)
    np.testing.assert_array_equal(codec.decode(codec.encode(astronaut)).data, reference)
    assert codec.row_columns(astronaut) == {"rescaled_bits": "none", "rescale_scope": "none", "jpeg_layout": "ycbcr"}


def test_rate_grows_with_quality_over_the_sweep(astronaut):
    sizes = [len(create_codec("jpeg", **p).encode(astronaut)) for p in JpegCodec.sweep()]
    assert sizes == sorted(sizes) and len(set(sizes)) == len(sizes)


def test_quality_75_on_astronaut_matches_libjpeg_expectations(astronaut):
    codec = create_codec("jpeg", quality=75)
    stream = codec.encode(astronaut)
    bpp = 8 * len(stream) / (astronaut.rows * astronaut.cols)
    value = psnr(codec.decode(stream).data, astronaut.data, 255)
    assert 0.8 < bpp < 1.8 and 31 < value < 37


def test_subsampling_parameter_changes_the_stream(astronaut):
    small = len(create_codec("jpeg", quality=75, subsampling="4:2:0").encode(astronaut))
    large = len(create_codec("jpeg", quality=75, subsampling="4:4:4").encode(astronaut))
    assert large > small


def test_band_mode_and_shared_headers(astronaut):
    codec = create_codec("jpeg", quality=75, mode="bands")
    header, payload = container.unpack(codec.encode(astronaut))
    assert payload[0] == 0  # per-band, not rescaled
    streams = unpack_streams(payload, 1, 3)
    standalone = []
    for band, stream in zip(astronaut.data, streams):
        buffer = io.BytesIO()
        Image.fromarray(band).save(buffer, "JPEG", quality=75)
        standalone.append(buffer.getvalue())
    assert streams == standalone  # rebuilt exactly, header included
    saved = sum(map(len, standalone)) - len(payload)
    assert saved >= 2 * jpeg_header_length(standalone[0]) - 16  # the common header is stored once (16: lengths)
    out = codec.decode(codec.encode(astronaut))
    assert psnr(out.data, astronaut.data, 255) > 30
    assert codec.row_columns(astronaut)["jpeg_layout"] == "per-band"


def test_optimized_huffman_tables_still_round_trip(astronaut):
    cube = astronaut.with_data(np.ascontiguousarray(astronaut.data[:, :64, :96]))
    plain = create_codec("jpeg", quality=60, mode="bands")
    tuned = create_codec("jpeg", quality=60, mode="bands", optimize=True)
    np.testing.assert_array_equal(tuned.decode(tuned.encode(cube)).data, plain.decode(plain.encode(cube)).data)


def test_16_bit_gradient_is_rescaled_explicitly_without_wraparound():
    ramp = np.linspace(0, 65535, 256).round().astype(np.uint16)
    cube = Cube(np.broadcast_to(ramp, (1, 32, 256)).copy(), bit_depth=16)
    codec = create_codec("jpeg", quality=95)
    assert codec.row_columns(cube) == {"rescaled_bits": "16->8", "rescale_scope": "band", "jpeg_layout": "per-band"}
    out = codec.decode(codec.encode(cube)).data.astype(np.int64)
    # a wrap-around cast (x mod 256) would put errors of tens of thousands here
    step = 65535 / 255
    assert np.abs(out - cube.data).max() <= 2 * step
    profile = out.mean(axis=(0, 1))
    assert np.all(np.diff(profile) >= -step / 4)  # monotone up to JPEG ripple well below one 8-bit step
    assert profile[-1] - profile[0] > 0.98 * 65535


def test_cube_scope_rescaling_uses_one_range():
    cube = Cube(np.stack([np.full((8, 8), 1000), np.full((8, 8), 3000)]).astype(np.uint16), bit_depth=12)
    codec = create_codec("jpeg", quality=90, rescale="cube")
    out = codec.decode(codec.encode(cube))
    assert np.abs(out.data.astype(int) - cube.data).max() <= 2000 / 255
    per_band = create_codec("jpeg", quality=90)
    np.testing.assert_array_equal(per_band.decode(per_band.encode(cube)).data, cube.data)  # constant bands exact


def test_same_input_gives_same_bytes(astronaut):
    assert create_codec("jpeg", quality=40).encode(astronaut) == create_codec("jpeg", quality=40).encode(astronaut)


@pytest.mark.parametrize("params", [{"quality": 0}, {"quality": 96}, {"quality": 50.5}, {"subsampling": "4:1:1"},
                                    {"mode": "rgb"}, {"optimize": "maybe"}, {"rescale": "global"}, {"colour": 1}])
def test_bad_parameters_are_refused(params):
    with pytest.raises(CodecParameterError):
        create_codec("jpeg", **params)


def test_too_wide_image_is_unsupported():
    with pytest.raises(UnsupportedCubeError, match="65535"):
        create_codec("jpeg").encode(Cube(np.zeros((1, 1, 65536), np.uint8)))


def test_damaged_streams_raise_corrupt_stream_error(astronaut):
    codec = create_codec("jpeg", quality=50)
    stream = codec.encode(astronaut)
    with pytest.raises(CorruptStreamError):
        codec.decode(stream[:-100])
    flipped = bytearray(stream)
    flipped[len(stream) // 2] ^= 0xFF
    with pytest.raises(CorruptStreamError):
        codec.decode(bytes(flipped))
    # a payload damaged before framing (valid CRC): the JPEG itself is cut short
    header, payload = container.unpack(stream)
    for bad in (bytes(payload[:400]), b"", bytes([7]) + bytes(payload[1:])):
        with pytest.raises(CorruptStreamError):
            codec.decode(container.pack(header, bad))
    other = create_codec("jpeg2000", ratio=50).encode(astronaut)
    with pytest.raises(CorruptStreamError, match="jpeg2000"):
        codec.decode(other)


@pytest.mark.parametrize("bit_depth", [1, 4, 7])
def test_narrow_data_is_stretched_to_8_bits_and_stays_in_range(bit_depth):
    rng = np.random.default_rng(bit_depth)
    cube = Cube(rng.integers(0, 1 << bit_depth, (2, 24, 24)).astype(np.uint8), bit_depth=bit_depth)
    codec = create_codec("jpeg", quality=95)
    assert codec.row_columns(cube)["rescaled_bits"] == f"{bit_depth}->8"
    out = codec.decode(codec.encode(cube))  # decoding validates the range of the bit depth
    assert out.bit_depth == bit_depth and out.data.max() < (1 << bit_depth)
    assert np.mean(np.abs(out.data.astype(int) - cube.data)) < 0.35 * (1 << bit_depth)


def test_signed_8_bit_is_rescaled():
    cube = Cube(np.arange(-128, 128, dtype=np.int8).reshape(1, 16, 16))
    codec = create_codec("jpeg", quality=95)
    assert codec.row_columns(cube)["rescaled_bits"] == "s8->8"
    assert np.abs(codec.decode(codec.encode(cube)).data.astype(int) - cube.data).max() <= 8


@pytest.mark.parametrize(
    "frame",
    [{"dtype": np.dtype(np.uint16), "bit_depth": 12}, {"bit_depth": 7}, {"dtype": np.dtype(np.int8)},
     {"dtype": np.dtype(np.float32), "bit_depth": 32, "value_range": (0.0, 1.0)}],
)
def test_frame_sample_type_is_checked_against_the_payload(astronaut, frame):
    """An 8-bit JPEG stored as it is cannot belong to a frame announcing other samples (and vice versa)."""
    from dataclasses import replace

    codec = create_codec("jpeg")
    header, payload = container.unpack(codec.encode(astronaut))
    with pytest.raises(CorruptStreamError, match="flags 0x01 do not fit"):
        codec.decode(container.pack(replace(header, **frame), bytes(payload)))
    wide = Cube(astronaut.data.astype(np.uint16) * 16, bit_depth=12)
    header, payload = container.unpack(codec.encode(wide))  # rescaled: flags say so
    with pytest.raises(CorruptStreamError, match="do not fit the framed 8-bit uint8"):
        codec.decode(container.pack(replace(header, dtype=np.dtype(np.uint8), bit_depth=8), bytes(payload)))
