"""Raw files named the CCSDS / GICI way, and the ``compress`` / ``decompress`` subcommands."""

from __future__ import annotations

import numpy as np
import pytest

from hsbench.cli import main
from hsbench.codecs import container
from hsbench.codecs.ccsds123 import decompress, unpack_header
from hsbench.cube import Cube
from hsbench.datasets.raw import parse_raw_name, raw_name, read_raw, write_raw
from hsbench.errors import DatasetError



@pytest.mark.parametrize(
    "name,dtype,shape,stem",
    [
        ("aviris_maine_f030828t01p00r05_sc10.uncal-u16be-224x512x680.raw", ">u2", (224, 512, 680),
         "aviris_maine_f030828t01p00r05_sc10.uncal"),
        ("scene-s16le-3x4x5.raw", "<i2", (3, 4, 5), "scene"),
        ("landsat-u8-6x100x200.raw", "u1", (6, 100, 200), "landsat"),
        ("airs-s32be-1501x135x90.raw", ">i4", (1501, 135, 90), "airs"),
        ("AG9.224x512x614_2.raw", ">u2", (224, 512, 614), "AG9"),
        ("hyperion.242x256x256_3_1.raw", "<i2", (242, 256, 256), "hyperion"),
        ("x.2x3x4_6.raw", ">f4", (2, 3, 4), "x"),
    ],
)
def test_parse_raw_name(name, dtype, shape, stem):
    layout = parse_raw_name(name)
    assert layout.dtype == np.dtype(dtype) and layout.shape == shape and layout.name == stem


@pytest.mark.parametrize("name", ["image.raw", "a-u12be-1x2x3.raw", "a-u16-1x2x3.raw", "b.1x2x3_5.raw", "c-u16be-0x2x3.raw"])
def test_parse_raw_name_rejects(name):
    with pytest.raises(DatasetError):
        parse_raw_name(name)


@pytest.mark.parametrize("dtype,order", [(np.uint16, "be"), (np.int16, "le"), (np.uint8, "be"), (np.int32, "be")])
def test_write_then_read_raw(tmp_path, dtype, order):
    rng = np.random.default_rng(0)
    info = np.iinfo(dtype)
    data = rng.integers(max(info.min, -30000), min(info.max, 60000), size=(3, 4, 5)).astype(dtype)
    path = write_raw(Cube(data, name="scene"), tmp_path, byteorder=order)
    assert path.name == raw_name("scene", np.dtype(dtype), (3, 4, 5), order)
    # the bytes are BSQ in the declared byte order, readable by any tool
    np.testing.assert_array_equal(np.fromfile(path, dtype=np.dtype(dtype).newbyteorder(">" if order == "be" else "<")),
                                  data.ravel())
    back = read_raw(path)
    np.testing.assert_array_equal(back.data, data)
    assert back.name == "scene" and back.dtype == np.dtype(dtype)


def test_read_raw_checks_size_and_declared_depth(tmp_path):
    path = tmp_path / "a-u16be-2x2x2.raw"
    path.write_bytes(b"\x00" * 15)
    with pytest.raises(DatasetError, match="15 bytes"):
        read_raw(path)
    path.write_bytes(np.full(8, 4095, dtype=">u2").tobytes())
    assert read_raw(path, bit_depth=12).bit_depth == 12
    path.write_bytes(np.full(8, 5000, dtype=">u2").tobytes())
    with pytest.raises(Exception, match="12-bit"):
        read_raw(path, bit_depth=12)


def _smooth(shape, dtype=np.uint16, scale=3000):
    b, h, w = shape
    yy, xx = np.mgrid[0:h, 0:w]
    x = (np.sin(xx / 4) + np.cos(yy / 5) + 2) * scale + np.arange(b)[:, None, None] * 7
    return np.rint(x).astype(dtype)


def test_compress_decompress_raw_file(tmp_path, capsys):
    data = _smooth((4, 12, 10))
    src = write_raw(Cube(data, name="scene"), tmp_path)
    assert main(["compress", "--codec", "ccsds123", str(src)]) == 0
    hsb = src.with_suffix(".hsb")
    assert container.peek_codec(hsb.read_bytes()) == "ccsds123"
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    assert main(["decompress", str(hsb), "-o", str(out_dir)]) == 0
    out = out_dir / src.name
    assert out.read_bytes() == src.read_bytes()  # lossless, same CCSDS name
    assert "bpppc" in capsys.readouterr().out


def test_bare_ccsds_file_interoperates(tmp_path):
    data = _smooth((3, 9, 11))
    src = tmp_path / "cube.npy"
    np.save(src, data)
    bare = tmp_path / "cube.c123"
    assert main(["compress", "--codec", "ccsds123", "--ccsds", "--param", "max_error=4", "--param", "order=bil",
                 str(src), "-o", str(bare)]) == 0
    raw = bare.read_bytes()
    assert not raw.startswith(container.MAGIC[:3])
    header, _ = unpack_header(raw)
    assert (header.z_size, header.y_size, header.x_size) == data.shape and header.absolute_limit == 4
    assert header.order == "bi" and header.interleave_depth == 1
    # the library decoder reads the bare file, and so does the CLI (recognised, or with --codec)
    decoded, _ = decompress(raw)
    assert np.abs(decoded.astype(int) - data).max() <= 4
    for extra in ([], ["--codec", "ccsds123"]):
        out = tmp_path / f"back{len(extra)}.npy"
        assert main(["decompress", str(bare), "-o", str(out), *extra]) == 0
        np.testing.assert_array_equal(np.load(out), decoded)


def test_compress_an_image(tmp_path, kodak):
    image = kodak / "kodim05.png"
    assert main(["compress", "--codec", "ccsds123", str(image), "-o", str(tmp_path / "k.hsb")]) == 0
    assert main(["decompress", str(tmp_path / "k.hsb"), "-o", str(tmp_path / "k.npy")]) == 0
    from hsbench.datasets.readers import read_image

    np.testing.assert_array_equal(np.load(tmp_path / "k.npy"), read_image(image).data)


def test_compress_and_decompress_report_errors(tmp_path, capsys):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"not a stream at all")
    capsys.readouterr()
    assert main(["decompress", str(junk)]) == 2
    assert "neither an hsbench stream nor" in capsys.readouterr().err
    assert main(["compress", "--codec", "ccsds123", str(tmp_path / "missing.npy")]) == 2
    good = tmp_path / "g.npy"
    np.save(good, np.zeros((2, 3, 3), np.uint16))
    capsys.readouterr()
    assert main(["compress", "--codec", "ccsds123", "--param", "nonsense", str(good)]) == 2
    assert "KEY=VALUE" in capsys.readouterr().err
    assert main(["compress", "--codec", "ccsds123", "--param", "omega=25", str(good)]) == 2
    assert "Omega" in capsys.readouterr().err
    data = tmp_path / "f.npy"
    np.save(data, np.zeros((2, 3, 3), np.float32))
    assert main(["compress", "--codec", "ccsds123", str(data)]) == 2
    assert "integer" in capsys.readouterr().err


def test_bare_ccsds_output_has_a_sha256_sidecar_that_decompress_checks(tmp_path, capsys):
    import hashlib

    data = _smooth((3, 9, 11))
    np.save(tmp_path / "cube.npy", data)
    bare = tmp_path / "cube.c123"
    assert main(["compress", "--codec", "ccsds123", "--ccsds", str(tmp_path / "cube.npy"), "-o", str(bare)]) == 0
    side = tmp_path / "cube.c123.sha256"
    assert side.read_text() == f"{hashlib.sha256(bare.read_bytes()).hexdigest()}  cube.c123\n"  # sha256sum -c format
    capsys.readouterr()
    assert main(["decompress", str(bare), "-o", str(tmp_path / "ok.npy")]) == 0
    assert "warning" not in capsys.readouterr().err
    np.testing.assert_array_equal(np.load(tmp_path / "ok.npy"), data)
    # a bit flipped in the compressed body often decodes silently: the sidecar catches it
    damaged = bytearray(bare.read_bytes())
    damaged[-3] ^= 0x04
    bare.write_bytes(bytes(damaged))
    assert main(["decompress", str(bare), "-o", str(tmp_path / "bad.npy")]) == 2
    assert "SHA-256" in capsys.readouterr().err and not (tmp_path / "bad.npy").exists()
    side.unlink()  # without a sidecar: decoded, with a warning that nothing checks it
    main(["decompress", str(bare), "-o", str(tmp_path / "unchecked.npy")])
    assert "has no checksum" in capsys.readouterr().err


@pytest.mark.parametrize("extra", [["--ccsds", "--param", "max_error=3"], ["--param", "max_error=0"]])
def test_compress_verify_decodes_the_written_file(tmp_path, capsys, extra):
    data = _smooth((2, 8, 7))
    np.save(tmp_path / "cube.npy", data)
    out = tmp_path / "cube.out"
    assert main(["compress", "--codec", "ccsds123", *extra, "--verify", str(tmp_path / "cube.npy"), "-o", str(out)]) == 0
    line = capsys.readouterr().out.splitlines()[-1]
    assert line.startswith(f"verified {out}: decodes to (2, 8, 7)")
    assert ("bound 3" if "--ccsds" in extra else "(exact)") in line


def test_compress_verify_reports_a_codec_that_breaks_its_bound(tmp_path, capsys, monkeypatch):
    from hsbench.codecs.ccsds123 import Ccsds123Codec

    data = _smooth((2, 8, 7))
    np.save(tmp_path / "cube.npy", data)
    monkeypatch.setattr(Ccsds123Codec, "max_error", lambda self, cube: 0.0)  # claims lossless, codes with a = 5
    assert main(["compress", "--codec", "ccsds123", "--param", "max_error=5", "--verify",
                 str(tmp_path / "cube.npy")]) == 2
    assert "verification failed: max |error|" in capsys.readouterr().err
