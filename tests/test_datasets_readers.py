"""Readers round-trip files the tests write themselves; real data from ../shared/datasets when present."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.io
import tifffile

from hsbench.datasets import open_dataset
from hsbench.datasets.envi import parse_header, write_envi
from hsbench.datasets.matlab import write_mat73
from hsbench.datasets.pds3 import write_pds3_qube
from hsbench.datasets.readers import read_image
from hsbench.errors import DatasetError

RNG = np.random.default_rng(1234)


def _cube(dtype: str, shape: tuple[int, int, int] = (4, 6, 5)) -> np.ndarray:
    dt = np.dtype(dtype)
    if dt.kind == "f":
        return RNG.normal(size=shape).astype(dt)
    info = np.iinfo(dt)
    return RNG.integers(max(info.min, -30000), min(info.max, 60000), size=shape, endpoint=True).astype(dt)


@pytest.mark.parametrize("interleave", ["bsq", "bil", "bip"])
@pytest.mark.parametrize("byte_order", [0, 1])
@pytest.mark.parametrize("dtype", ["uint8", "int16", "uint16", "int32", "uint32", "float32", "float64"])
def test_envi_round_trip(tmp_path: Path, interleave: str, byte_order: int, dtype: str) -> None:
    data = _cube(dtype)
    wl = tuple(400.0 + 10 * i for i in range(data.shape[0]))
    header = write_envi(tmp_path / "scene.img", data, interleave, byte_order, wavelengths=wl)
    cube = read_image(header)
    assert cube.data.dtype == data.dtype and cube.data.dtype.isnative
    np.testing.assert_array_equal(cube.data, data)
    assert cube.wavelengths == pytest.approx(wl)
    assert cube.meta["interleave"] == interleave
    # naming the data file finds its header too
    np.testing.assert_array_equal(read_image(tmp_path / "scene.img").data, data)


def test_envi_bytes_are_laid_out_as_the_standard_says(tmp_path: Path) -> None:
    """A BIL big-endian file written by hand (not by write_envi) reads as (B, H, W)."""
    data = np.arange(2 * 3 * 4, dtype=np.uint16).reshape(2, 3, 4) * 257
    (tmp_path / "h.bil").write_bytes(data.transpose(1, 0, 2).astype(">u2").tobytes())
    (tmp_path / "h.hdr").write_text(
        "ENVI\nsamples = 4\nlines = 3\nbands = 2\nheader offset = 0\ndata type = 12\n"
        "interleave = bil\nbyte order = 1\nwavelength units = Micrometers\nwavelength = {0.45,\n 0.55}\n"
    )
    cube = read_image(tmp_path / "h.hdr")
    np.testing.assert_array_equal(cube.data, data)
    assert cube.wavelengths == pytest.approx((450.0, 550.0))


def test_envi_header_offset_and_64bit_ints(tmp_path: Path) -> None:
    data = _cube("int32").astype(np.int64)
    (tmp_path / "o.dat").write_bytes(b"\0" * 16 + data.astype("<i8").tobytes())
    (tmp_path / "o.hdr").write_text("ENVI\nsamples = 5\nlines = 6\nbands = 4\nheader offset = 16\ndata type = 14\ninterleave = bsq\nbyte order = 0\n")
    cube = read_image(tmp_path / "o.hdr")
    assert cube.dtype == np.int32
    np.testing.assert_array_equal(cube.data, data)


def test_envi_errors_name_the_problem(tmp_path: Path) -> None:
    write_envi(tmp_path / "t.img", _cube("uint16"))
    (tmp_path / "t.img").write_bytes((tmp_path / "t.img").read_bytes()[:50])
    with pytest.raises(DatasetError, match="truncated"):
        read_image(tmp_path / "t.hdr")
    (tmp_path / "c.hdr").write_text("ENVI\nsamples = 2\nlines = 2\nbands = 1\ndata type = 6\n")
    (tmp_path / "c.img").write_bytes(b"\0" * 64)
    with pytest.raises(DatasetError, match="data type 6"):
        read_image(tmp_path / "c.hdr")
    (tmp_path / "n.hdr").write_text("ENVI\nsamples = 2\nlines = 2\nbands = 1\ndata type = 1\n")
    with pytest.raises(DatasetError, match="no ENVI data file"):
        read_image(tmp_path / "n.hdr")
    with pytest.raises(DatasetError, match="first line"):
        parse_header("samples = 3\n")


def test_folder_of_envi_files_is_a_dataset(tmp_path: Path) -> None:
    a, b = _cube("uint16"), _cube("uint16")
    write_envi(tmp_path / "a.img", a, "bip")
    write_envi(tmp_path / "b.raw", b, "bil", 1)
    ds = open_dataset(f"folder:{tmp_path}", tile="4")
    assert sorted({i.split("@")[0] for i in ds.image_ids()}) == ["a", "b"]  # data files are not listed twice
    whole = open_dataset(f"folder:{tmp_path}", bit_depth=16)
    np.testing.assert_array_equal(whole.load("b").data, b)


@pytest.mark.parametrize("dtype", ["uint16", "float64"])
def test_mat_v5_round_trip_and_variable_choice(tmp_path: Path, dtype: str) -> None:
    data = _cube(dtype, (7, 5, 6))
    path = tmp_path / "scene.mat"
    scipy.io.savemat(path, {"gt": np.ones((5, 6), np.uint8), "scene": np.moveaxis(data, 0, -1), "small": np.ones((2, 2, 2))})
    cube = read_image(path)
    assert cube.meta["variable"] == "scene"
    np.testing.assert_array_equal(cube.data, data)
    gt = read_image(path, key="gt")
    assert gt.shape == (1, 5, 6)
    with pytest.raises(DatasetError, match="no numeric variable 'nope'"):
        read_image(path, key="nope")


def test_mat_v73_round_trip(tmp_path: Path) -> None:
    data = _cube("uint16", (9, 4, 3))
    path = write_mat73(tmp_path / "scene73.mat", {"labels": np.ones((4, 3)), "cube": np.moveaxis(data, 0, -1).astype(np.float64)})
    cube = read_image(path, dtype="uint16")
    assert cube.meta["variable"] == "cube" and cube.dtype == np.uint16
    np.testing.assert_array_equal(cube.data, data)
    with pytest.raises(DatasetError, match="not integers"):
        read_image(write_mat73(tmp_path / "f.mat", {"x": np.full((2, 2, 2), 0.5)}), dtype="uint16")


def test_tiff_planar_contig_and_pages(tmp_path: Path) -> None:
    data = _cube("uint16", (6, 8, 7))
    tifffile.imwrite(tmp_path / "planar.tif", data, photometric="minisblack", planarconfig="separate")
    tifffile.imwrite(tmp_path / "contig.tif", np.moveaxis(data, 0, -1), photometric="minisblack", planarconfig="contig")
    with tifffile.TiffWriter(tmp_path / "pages.tif") as tw:
        for band in data:
            tw.write(band, photometric="minisblack")
    for name in ("planar", "contig", "pages"):
        np.testing.assert_array_equal(read_image(tmp_path / f"{name}.tif").data, data, err_msg=name)
    rgb = _cube("uint8", (3, 8, 7))
    tifffile.imwrite(tmp_path / "rgb.tif", np.moveaxis(rgb, 0, -1), photometric="rgb")
    np.testing.assert_array_equal(read_image(tmp_path / "rgb.tif").data, rgb)


def test_npy_layouts(tmp_path: Path) -> None:
    data = _cube("float32", (3, 4, 5))
    np.save(tmp_path / "a.npy", data)
    np.save(tmp_path / "b.npy", np.moveaxis(data, 0, -1))
    np.testing.assert_array_equal(read_image(tmp_path / "a.npy").data, data)
    np.testing.assert_array_equal(read_image(tmp_path / "b.npy", layout="hwb").data, data)
    np.save(tmp_path / "c.npy", np.zeros(5))
    with pytest.raises(DatasetError, match="2-D or 3-D"):
        read_image(tmp_path / "c.npy")


@pytest.mark.parametrize("axes", [("BAND", "SAMPLE", "LINE"), ("SAMPLE", "LINE", "BAND"), ("SAMPLE", "BAND", "LINE")])
@pytest.mark.parametrize("suffix", [(0, 0, 0), (1, 2, 1)])
def test_pds3_qube_round_trip(tmp_path: Path, axes: tuple[str, str, str], suffix: tuple[int, int, int]) -> None:
    data = _cube("float32", (5, 4, 6))
    write_pds3_qube(tmp_path / "v.qub", data, axes, "REAL", suffix)
    np.testing.assert_array_equal(read_image(tmp_path / "v.qub").data, data)


def test_pds3_qube_big_endian_bytes_by_hand(tmp_path: Path) -> None:
    """Label written by hand, BIP (BAND fastest) big-endian float core: the VIRTIS layout."""
    data = np.arange(2 * 2 * 3, dtype=np.float32).reshape(2, 2, 3)  # (B, lines, samples)
    label = (
        "PDS_VERSION_ID = PDS3\r\nRECORD_BYTES = 256\r\nLABEL_RECORDS = 2\r\n^QUBE = 3\r\nOBJECT = QUBE\r\n"
        "AXES = 3\r\nAXIS_NAME = (BAND, SAMPLE,\r\n  LINE)\r\nCORE_ITEMS = (2, 3, 2)\r\nCORE_ITEM_BYTES = 4\r\n"
        "CORE_ITEM_TYPE = REAL\r\nSUFFIX_ITEMS = (0, 0, 0)\r\nEND_OBJECT = QUBE\r\nEND\r\n"
    ).encode()
    body = data.transpose(1, 2, 0).astype(">f4").tobytes()
    (tmp_path / "h.qub").write_bytes(label.ljust(512, b" ") + body)
    np.testing.assert_array_equal(read_image(tmp_path / "h.qub").data, data)
    (tmp_path / "vax.qub").write_bytes(label.replace(b"= REAL", b"= VAX_REAL").ljust(512, b" ") + body)
    with pytest.raises(DatasetError, match="VAX_REAL"):
        read_image(tmp_path / "vax.qub")


def test_unknown_and_corrupt_files_fail_clearly(tmp_path: Path) -> None:
    (tmp_path / "x.xyz").write_bytes(b"abc")
    with pytest.raises(DatasetError, match="unknown image format"):
        read_image(tmp_path / "x.xyz")
    (tmp_path / "bad.tif").write_bytes(b"II*\0garbage")
    with pytest.raises(DatasetError, match="bad.tif"):
        read_image(tmp_path / "bad.tif")


def test_simulated_indian_pines_through_the_mat_reader(indian_pines_mat: Path) -> None:
    cube = read_image(indian_pines_mat)
    assert cube.meta["variable"] == "simu_indian"
    assert cube.shape == (224, 145, 145) and cube.dtype == np.float64
    assert 0.04 < float(cube.data.min()) and float(cube.data.max()) < 0.92
    # 17 distinct spectra (one per ground-truth region), as its README says
    assert len(np.unique(cube.data.reshape(224, -1).T, axis=0)) == 17
