"""The ``jpeg2000`` codec: exact lossless coding, native precision, rate targets, OpenJPEG loading, errors."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hsbench.codecs import container, create_codec, get_codec
from hsbench.codecs.jpeg2000 import openjpeg
from hsbench.codecs.bandpack import pack_streams, read_varint, unpack_streams
from hsbench.codecs.jpeg2000 import Jpeg2000Codec, j2k_header_length
from hsbench.cube import Cube, integer_range
from hsbench.errors import CodecParameterError, CorruptStreamError, UnsupportedCubeError

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def astronaut() -> Cube:
    skimage_data = pytest.importorskip("skimage.data")
    return Cube.from_hwc(skimage_data.astronaut(), bit_depth=8, name="astronaut")


def random_cube(shape, dtype, bit_depth, seed=0) -> Cube:
    lo, hi = integer_range(bit_depth, np.dtype(dtype).kind == "i")
    data = np.random.default_rng(seed).integers(lo, hi + 1, size=shape).astype(dtype)
    data.flat[0], data.flat[-1] = lo, hi  # the extremes of the range must survive too
    return Cube(data, bit_depth=bit_depth)


def smooth(bands, rows, cols, dtype, bit_depth) -> Cube:
    y, x = np.mgrid[:rows, :cols]
    base = np.stack([np.sin(x / 9.0 + b) * np.cos(y / 6.0 - b) for b in range(bands)])
    signed = np.dtype(dtype).kind == "i"
    lo, hi = integer_range(bit_depth, signed)
    return Cube(np.rint(lo + (base + 1) / 2 * (hi - lo)).astype(dtype), bit_depth=bit_depth)


def psnr(a, b, peak) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(peak**2 / mse)


SHAPES = [(3, 40, 56), (1, 1, 1), (1, 1, 23), (2, 19, 1), (5, 17, 33)]
DEPTHS = [("uint8", 8), ("uint16", 12), ("uint16", 16), ("int16", 16), ("int16", 11), ("uint8", 1)]


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("dtype,bit_depth", DEPTHS, ids=lambda v: str(v))
def test_lossless_is_exact(shape, dtype, bit_depth):
    cube = random_cube(shape, dtype, bit_depth)
    codec = create_codec("jpeg2000", lossless=True)
    out = codec.decode(codec.encode(cube))
    assert out.dtype == cube.dtype and out.bit_depth == cube.bit_depth
    np.testing.assert_array_equal(out.data, cube.data)
    assert codec.max_error(cube) == 0.0
    assert codec.kind.value == "lossy"  # the codec is lossy in general; this setting is exact


@pytest.mark.parametrize("dtype,bit_depth", [("uint8", 8), ("uint16", 12), ("uint16", 16), ("int16", 16)])
def test_lossy_round_trip(dtype, bit_depth):
    cube = smooth(3, 64, 48, dtype, bit_depth)
    codec = create_codec("jpeg2000", ratio=8)
    out = codec.decode(codec.encode(cube))
    assert out.shape == cube.shape and out.dtype == cube.dtype
    assert psnr(out.data, cube.data, cube.peak) > 40
    assert codec.max_error(cube) is None


@pytest.mark.parametrize("shape", [(1, 1, 1), (2, 1, 9), (1, 7, 1), (1, 3, 5)])
def test_lossy_tiny_images(shape):
    cube = random_cube(shape, "uint16", 12, seed=3)
    codec = create_codec("jpeg2000", ratio=4)
    out = codec.decode(codec.encode(cube))
    assert out.shape == cube.shape and out.data.max() < 4096


def test_samples_are_coded_at_their_own_precision():
    cube = smooth(2, 32, 32, "uint16", 12)
    codec = create_codec("jpeg2000", lossless=True)
    header, payload = container.unpack(codec.encode(cube))
    with openjpeg.scratch_file() as path:
        for stream in unpack_streams(payload, 1, 2):
            assert stream[:2] == b"\xff\x4f" and b"\xff\x64" not in stream[: j2k_header_length(stream)]
            comps, precision, signed = openjpeg.decode(stream, path)
            assert (precision, signed) == (12, False)
    assert codec.row_columns(cube)["j2k_precision"] == 12
    # 12-bit data declared as 12-bit costs fewer bits than the same numbers declared as 16-bit
    wide = Cube(cube.data, bit_depth=16)
    assert len(codec.encode(cube)) < len(codec.encode(wide))


def test_rate_falls_as_ratio_rises_over_the_sweep(astronaut):
    sizes = [len(create_codec("jpeg2000", **p).encode(astronaut)) for p in Jpeg2000Codec.sweep()]
    assert sizes == sorted(sizes, reverse=True) and len(set(sizes)) == len(sizes)


def noisy_bands(bands, rows, cols, dtype=np.uint16, bit_depth=16, seed=0) -> Cube:
    """Smooth bands plus sensor-like noise: many coding passes, the case where OpenJPEG's rate is coarse."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:rows, :cols]
    top = (1 << bit_depth) - 1
    data = np.stack([(np.sin(x / (9.0 + b) + b) * np.cos(y / (6.0 + b) - b) * 0.3 + 0.5) * top
                     + rng.normal(0, top / 1500, (rows, cols)) for b in range(bands)])
    return Cube(np.clip(np.rint(data), 0, top).astype(dtype), bit_depth=bit_depth)


RATIO_CUBES = {
    "20x256x256-16bit": lambda: noisy_bands(20, 256, 256),
    "float32": lambda: Cube((noisy_bands(6, 96, 128).data / 65535.0).astype(np.float32)),
    "float64-cube-scope": lambda: Cube(noisy_bands(4, 64, 64).data.astype(np.float64) - 3e4),
    "1x200x300-12bit": lambda: noisy_bands(1, 200, 300, bit_depth=12),
}


@pytest.mark.parametrize("which", sorted(RATIO_CUBES))
def test_ratio_is_the_compression_ratio_of_the_whole_stream(which, astronaut):
    """The knob is ``nominal bytes / stream bytes`` (framing and headers in, float data at its own bits).

    Many codestreams land within 3 %; a single small one only as close as OpenJPEG's rate steps
    allow (up to ~8 % on this 200 x 300 noisy band, whose code-blocks jump together).
    """
    cube = RATIO_CUBES[which]()
    params = {"rescale": "cube"} if "cube-scope" in which else {}
    tolerance = 0.03 if cube.bands > 1 else 0.08
    # float64 is coded as 16-bit codes: at 4:1 (16 bits a sample) the 9/7 coder runs out of bit planes
    for ratio in (4, 8, 16, 32, 64, 128, 256)[cube.bit_depth // 64 :]:
        achieved = cube.nominal_bytes / len(create_codec("jpeg2000", ratio=ratio, **params).encode(cube))
        assert abs(achieved / ratio - 1) < tolerance, (which, ratio, achieved)
    for ratio in (8, 64):  # 3 bands: one codestream with the colour transform
        achieved = astronaut.nominal_bytes / len(create_codec("jpeg2000", ratio=ratio).encode(astronaut))
        assert abs(achieved / ratio - 1) < 0.03, ("astronaut", ratio, achieved)


def test_shared_header_is_the_measured_main_header():
    """What the rate accounting subtracts is what packing stores once."""
    cube = noisy_bands(3, 64, 80, bit_depth=12)
    codec = create_codec("jpeg2000", ratio=20, mct=False)
    _, payload = container.unpack(codec.encode(cube))
    streams = unpack_streams(payload, 1, 3)
    head, comment = openjpeg.header_overhead(1, precision=12, signed=False, irreversible=True, resolutions=6)
    assert {j2k_header_length(s) for s in streams} == {head} and comment > 0
    assert read_varint(payload, 1) == (head, 2)


def test_quality_rises_with_rate(astronaut):
    values = []
    for ratio in (8, 32, 128):
        codec = create_codec("jpeg2000", ratio=ratio)
        values.append(psnr(codec.decode(codec.encode(astronaut)).data, astronaut.data, 255))
    assert values[0] > values[1] > values[2] > 22


def test_reversible_lossy_and_resolutions_parameters(astronaut):
    cube = astronaut.with_data(np.ascontiguousarray(astronaut.data[:1, :128, :128]))
    for params in ({"irreversible": False}, {"resolutions": 1}, {"resolutions": 3}):
        codec = create_codec("jpeg2000", ratio=10, **params)
        assert psnr(codec.decode(codec.encode(cube)).data, cube.data, 255) > 25
    assert create_codec("jpeg2000", resolutions=1).row_columns(cube)["j2k_resolutions"] == 1
    assert create_codec("jpeg2000").row_columns(cube)["j2k_resolutions"] == 6
    assert create_codec("jpeg2000", irreversible=False).row_columns(cube)["j2k_wavelet"] == "5/3"


def test_max_resolutions_follows_the_smaller_side():
    assert openjpeg.max_resolutions(1, 1000, 6) == 1
    assert openjpeg.max_resolutions(31, 31, 6) == 5  # 2**4 = 16 <= 31 < 32
    assert openjpeg.max_resolutions(32, 64, 6) == 6
    assert openjpeg.max_resolutions(4096, 4096, 6) == 6


def test_float_and_wide_data_are_rescaled_for_lossy_and_refused_for_lossless():
    rng = np.random.default_rng(5)
    y, x = np.mgrid[:32, :32]
    floats = Cube(np.stack([np.sin(x / 6.0) * 0.3, np.cos(y / 4.0) * 2.0]).astype(np.float32))
    codec = create_codec("jpeg2000", ratio=4)
    out = codec.decode(codec.encode(floats))
    assert out.dtype == np.float32 and np.abs(out.data - floats.data).max() < 0.01
    assert codec.row_columns(floats)["rescaled_bits"] == "float32->16"
    wide = Cube(rng.integers(0, 1 << 20, (1, 16, 16)).astype(np.uint32), bit_depth=20)
    assert codec.row_columns(wide)["rescaled_bits"] == "20->16"
    assert codec.decode(codec.encode(wide)).shape == wide.shape
    lossless = create_codec("jpeg2000", lossless=True)
    for cube in (floats, wide):
        with pytest.raises(UnsupportedCubeError, match="at most 16 bits"):
            lossless.encode(cube)


@pytest.mark.parametrize("params", [{"ratio": 0.5}, {"ratio": 20000}, {"lossless": "yes"}, {"resolutions": 0},
                                    {"resolutions": 2.5}, {"rescale": "pixel"}, {"quality": 50}])
def test_bad_parameters_are_refused(params):
    with pytest.raises(CodecParameterError):
        create_codec("jpeg2000", **params)


def test_damaged_streams_raise_corrupt_stream_error():
    cube = smooth(2, 64, 64, "uint16", 12)
    codec = create_codec("jpeg2000", ratio=8)
    stream = codec.encode(cube)
    header, payload = container.unpack(stream)
    streams = unpack_streams(payload, 1, 2)
    from hsbench.codecs.bandpack import pack_streams

    def repack(bands: list[bytes], flags: int = 0) -> bytes:
        return container.pack(header, bytes([flags]) + pack_streams(bands, lambda s: 0))

    for bad in (
        repack([streams[0], streams[1][:60]]),  # a codestream cut short
        repack([streams[0], streams[1][: len(streams[1]) // 2]]),
        repack([streams[0], b"\x00" * 50]),  # not a codestream
        container.pack(header, bytes(payload[:-10])),  # the packing itself cut short
        repack(streams, flags=1),  # claims a rescaling table it does not have
    ):
        with pytest.raises(CorruptStreamError):
            codec.decode(bad)
    # a codestream that decodes but disagrees with the header (8-bit band where 12-bit was announced)
    eight = create_codec("jpeg2000", ratio=8).encode(smooth(2, 64, 64, "uint8", 8))
    _, payload8 = container.unpack(eight)
    with pytest.raises(CorruptStreamError, match="12-bit"):
        codec.decode(container.pack(header, bytes(payload8)))
    with pytest.raises(CorruptStreamError):
        codec.decode(stream[:-1])


def test_library_versions_report_openjpeg():
    versions = get_codec("jpeg2000").library_versions()
    assert re.fullmatch(r"\d+\.\d+\.\d+", versions["openjpeg"]), versions
    assert versions["glymur"] != "missing"


def _run_isolated(code: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "XDG_CONFIG_HOME": "/nonexistent-hsbench-test"}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd="/", timeout=120)


_NO_SYSTEM_LIBRARY = """
import ctypes.util
real = ctypes.util.find_library
ctypes.util.find_library = lambda name: None if name == "openjp2" else real(name)
"""


def test_bundled_openjpeg_is_found_when_the_system_has_none():
    if not openjpeg.bundled_openjpeg_candidates():
        pytest.skip("neither the Pillow nor the imagecodecs wheel here ships libopenjp2")
    code = _NO_SYSTEM_LIBRARY + """
import numpy as np
from hsbench.codecs import create_codec
from hsbench.codecs.jpeg2000 import openjpeg
from hsbench.cube import Cube
assert openjpeg.openjpeg_path() in [str(p) for p in openjpeg.bundled_openjpeg_candidates()]
cube = Cube(np.arange(60, dtype=np.uint16).reshape(1, 6, 10), bit_depth=12)
codec = create_codec("jpeg2000", lossless=True)
assert (codec.decode(codec.encode(cube)).data == cube.data).all()
print("OK", openjpeg.openjpeg_version())
"""
    result = _run_isolated(code)
    assert result.returncode == 0 and "OK" in result.stdout, result.stderr


def test_system_openjpeg_is_preferred():
    candidates = openjpeg.bundled_openjpeg_candidates()
    if len(candidates) < 2:
        pytest.skip("needs two OpenJPEG copies to tell them apart")
    chosen = str(candidates[-1])  # stands in for the system's library
    code = f"""
import ctypes.util
real = ctypes.util.find_library
ctypes.util.find_library = lambda name: {chosen!r} if name == "openjp2" else real(name)
from hsbench.codecs.jpeg2000 import openjpeg
assert openjpeg.openjpeg_path() == {chosen!r}, openjpeg.openjpeg_path()
import glymur.config
assert glymur.config.find_library is ctypes.util.find_library  # the hook is not left behind
print("OK")
"""
    result = _run_isolated(code)
    assert result.returncode == 0 and "OK" in result.stdout, result.stderr


def test_clear_error_when_no_openjpeg_exists():
    code = _NO_SYSTEM_LIBRARY + """
from hsbench.codecs.jpeg2000 import openjpeg
openjpeg.bundled_openjpeg_candidates = lambda: []
from hsbench.codecs import create_codec
from hsbench.errors import CodecUnavailableError
try:
    create_codec("jpeg2000")
except CodecUnavailableError as exc:
    print("REFUSED", exc)
"""
    result = _run_isolated(code)
    assert "REFUSED" in result.stdout and "libopenjp2" in result.stdout, result.stdout + result.stderr


def test_clear_error_when_glymur_was_bound_to_nothing_first():
    if not openjpeg.bundled_openjpeg_candidates():
        pytest.skip("neither the Pillow nor the imagecodecs wheel here ships libopenjp2")
    code = _NO_SYSTEM_LIBRARY + """
import warnings
warnings.simplefilter("ignore")
import glymur  # binds no library: the system has none and glymur does not know the bundled ones
from hsbench.codecs import create_codec
from hsbench.errors import CodecUnavailableError
try:
    create_codec("jpeg2000")
except CodecUnavailableError as exc:
    print("REFUSED", exc)
"""
    result = _run_isolated(code)
    assert "REFUSED glymur was imported before hsbench" in result.stdout, result.stdout + result.stderr
    assert "load_glymur()" in result.stdout


@pytest.mark.parametrize("dtype,bit_depth", [("int8", 8), ("uint32", 16), ("int32", 13)])
def test_other_storage_types_at_native_precision(dtype, bit_depth):
    cube = random_cube((2, 9, 14), dtype, bit_depth, seed=7)
    codec = create_codec("jpeg2000", lossless=True)
    out = codec.decode(codec.encode(cube))
    assert out.dtype == cube.dtype and codec.row_columns(cube)["rescaled_bits"] == "none"
    np.testing.assert_array_equal(out.data, cube.data)
    lossy = create_codec("jpeg2000", ratio=2)
    assert lossy.decode(lossy.encode(cube)).shape == cube.shape  # decoded values stay in range


def _cod_mct(codestream: bytes) -> int:
    """The multiple component transformation byte of the COD marker (T.800 A.6.1, SGcod)."""
    pos = codestream.index(b"\xff\x52")
    return codestream[pos + 8]


def test_three_bands_are_one_codestream_with_the_colour_transform(astronaut):
    for params, wanted, mct_byte in (({}, "ict", 1), ({"irreversible": False}, "rct", 1),
                                     ({"lossless": True}, "rct", 1), ({"mct": False}, "none", 0)):
        codec = create_codec("jpeg2000", ratio=16, **params)
        assert codec.row_columns(astronaut)["j2k_mct"] == wanted
        _, payload = container.unpack(codec.encode(astronaut))
        assert payload[0] & 0x04 == (0x04 if mct_byte else 0)
        streams = unpack_streams(payload, 1, 1 if mct_byte else 3)
        with openjpeg.scratch_file() as path:
            for stream in streams:
                assert _cod_mct(stream) == mct_byte
                comps, _, _ = openjpeg.decode(stream, path)
                assert comps.shape[0] == (3 if mct_byte else 1)
    four = Cube(np.concatenate([astronaut.data, astronaut.data[:1]]), bit_depth=8)
    assert create_codec("jpeg2000").row_columns(four)["j2k_mct"] == "none"
    with pytest.raises(CodecParameterError, match="mct"):
        create_codec("jpeg2000", mct="yes")


@pytest.mark.parametrize("dtype,bit_depth", [("uint8", 8), ("uint16", 12), ("int16", 16)])
def test_colour_transform_lossless_is_exact(dtype, bit_depth):
    cube = random_cube((3, 33, 47), dtype, bit_depth, seed=11)
    codec = create_codec("jpeg2000", lossless=True)
    np.testing.assert_array_equal(codec.decode(codec.encode(cube)).data, cube.data)


def _pillow_codestream(rgb: np.ndarray, **options) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG2000", no_jp2=True, num_resolutions=6, **options)
    return openjpeg.strip_comments(buffer.getvalue())


@pytest.mark.parametrize("irreversible,ratio", [(True, 16), (True, 64), (False, 24), (False, None)])
def test_colour_codestreams_equal_pillows(astronaut, irreversible, ratio):
    """Pillow's JPEG 2000 plugin is another OpenJPEG front end: the same settings give the same bytes.

    Both hand OpenJPEG the same parameters (64x64 code-blocks, LRCP, one layer, ``tcp_rates``,
    ``tcp_mct=1``), so the codestreams are byte-identical once OpenJPEG's COM marker, which names
    the library version and which hsbench drops, is removed; this holds even when Pillow's bundled
    OpenJPEG and the one glymur binds are different releases (2.5.4 and 2.5.0 where this was written).
    """
    rgb = np.ascontiguousarray(np.moveaxis(astronaut.data, 0, -1))
    options = {"irreversible": irreversible, "mct": 1}
    if ratio is not None:
        options |= {"quality_mode": "rates", "quality_layers": [ratio]}
    with openjpeg.scratch_file() as path:
        ours = openjpeg.encode(astronaut.data, path, precision=8, signed=False, ratio=ratio,
                               irreversible=irreversible, resolutions=6, mct=True)
    assert ours == _pillow_codestream(rgb, **options)


def test_pillow_decodes_the_codecs_codestream_to_the_same_pixels(astronaut):
    """The codestream inside an hsbench stream, headers restored, is a standard one: Pillow reads it alike."""
    from PIL import Image

    codec = create_codec("jpeg2000", ratio=32)
    stream = codec.encode(astronaut)
    (codestream,) = unpack_streams(container.unpack(stream)[1], 1, 1)
    theirs = np.asarray(Image.open(io.BytesIO(codestream)))
    np.testing.assert_array_equal(np.moveaxis(theirs, -1, 0), codec.decode(stream).data)


def test_kodak_colour_transform_gains_over_2_db_at_ratio_16(kodak):
    """On the 24 Kodak images, one codestream with the ICT beats per-band coding by >= 2 dB (mean PSNR)."""
    from PIL import Image

    files = sorted(kodak.glob("kodim*.png"))
    gains = []
    for file in files:
        cube = Cube.from_hwc(np.asarray(Image.open(file).convert("RGB")), bit_depth=8)
        values = []
        for mct in (True, False):
            codec = create_codec("jpeg2000", ratio=16, mct=mct)
            stream = codec.encode(cube)
            assert abs(cube.nominal_bytes / len(stream) / 16 - 1) < 0.03
            values.append(psnr(codec.decode(stream).data, cube.data, 255))
        gains.append(values[0] - values[1])
    assert np.mean(gains) >= 2.0 and min(gains) > 1.0, gains


def test_siz_is_checked_against_the_frame_before_openjpeg_allocates(monkeypatch):
    """A SIZ forged to 50000 x 50000 (2.5e9 samples, 10 GB of OpenJPEG buffers) never reaches OpenJPEG."""
    from dataclasses import replace

    from hsbench.codecs.jpeg2000 import siz_geometry

    cube = smooth(2, 16, 24, "uint16", 12)
    codec = create_codec("jpeg2000", ratio=8)
    header, payload = container.unpack(codec.encode(cube))
    payload = bytes(payload)
    at = payload.index(b"\xff\x4f\xff\x51")  # SOC + SIZ of the shared band header
    band = payload[at:]
    assert siz_geometry(band) == (16, 24, 1, 12, False)
    forged = bytearray(payload)
    forged[at + 8 : at + 16] = (50000).to_bytes(4, "big") * 2  # Xsiz, Ysiz
    calls = []
    monkeypatch.setattr(openjpeg, "decode", lambda *a: calls.append(a))
    with pytest.raises(CorruptStreamError, match="SIZ describes 1 component.*of 50000x50000"):
        codec.decode(container.pack(header, bytes(forged)))
    # the frame forged to agree with that SIZ: refused by the payload-length bound
    with pytest.raises(CorruptStreamError, match="samples per payload byte"):
        codec.decode(container.pack(replace(header, shape=(2, 50000, 50000)), bytes(forged)))
    assert not calls


@pytest.mark.parametrize(
    "frame",
    [{"bit_depth": 16}, {"dtype": np.dtype(np.uint8), "bit_depth": 8}, {"dtype": np.dtype(np.int16)},
     {"dtype": np.dtype(np.float32), "bit_depth": 32, "value_range": (0.0, 1.0)}],
)
def test_frame_sample_type_is_checked_against_the_codestreams(frame):
    from dataclasses import replace

    header, payload = container.unpack(create_codec("jpeg2000", ratio=8).encode(smooth(2, 16, 24, "uint16", 12)))
    with pytest.raises(CorruptStreamError, match="SIZ|flags"):
        create_codec("jpeg2000").decode(container.pack(replace(header, **frame), bytes(payload)))


def test_colour_transform_codestream_siz_is_checked_before_openjpeg(monkeypatch):
    """The 3-component codestream of the colour transform: its SIZ must describe the 3 framed bands."""
    cube = smooth(3, 16, 24, "uint16", 12)
    codec = create_codec("jpeg2000", ratio=8)
    header, payload = container.unpack(codec.encode(cube))
    payload = bytes(payload)
    at = payload.index(b"\xff\x4f\xff\x51")
    assert payload[0] & 0x04 and openjpeg.siz_geometry(payload[at:]) == (16, 24, 3, 12, False)
    calls = []
    monkeypatch.setattr(openjpeg, "decode", lambda *a: calls.append(a))
    forged = bytearray(payload)
    forged[at + 8 : at + 16] = (50000).to_bytes(4, "big") * 2  # Xsiz, Ysiz
    with pytest.raises(CorruptStreamError, match="SIZ describes 3 component.*of 50000x50000.*announces 3 component"):
        codec.decode(container.pack(header, bytes(forged)))
    forged = bytearray(payload)
    forged[at + 42 + 3] |= 0x80  # second component signed: differs from the first
    with pytest.raises(CorruptStreamError, match="different precision"):
        codec.decode(container.pack(header, bytes(forged)))
    with pytest.raises(CorruptStreamError, match="flags 0x0c"):  # cube scope without a rescaling table
        codec.decode(container.pack(header, bytes([payload[0] | 0x08]) + payload[1:]))
    assert not calls
    mono = create_codec("jpeg2000", ratio=8, mct=False)
    _, per_band = container.unpack(mono.encode(cube))  # three 1-component codestreams
    first = unpack_streams(per_band, 1, 3)[0]
    with pytest.raises(CorruptStreamError, match="SIZ describes 1 component.*announces 3 component"):
        codec.decode(container.pack(header, bytes([per_band[0] | 0x04]) + pack_streams([first], j2k_header_length)))
