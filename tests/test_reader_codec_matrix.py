"""Every reader format a test can write x every classical codec: read, encode, decode, check.

Readers hand codecs what they read the way they read it (read-only memmaps of little-endian
BSQ files, transposed copies of BIL / BIP, copy-on-write maps of ``.npy`` files, big-endian
sources converted to native order), so each pair is exercised as a user runs it. A codec
that declares a cube unsupported (``UnsupportedCubeError``) is skipped for that pair; every
other pair must decode to the geometry and dtype it read, within the codec's error bound.
Also here: files whose headers cannot describe them are refused naming the file, and a row
of ``hsbench run`` that fails names the file it was reading.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
import scipy.io
import tifffile
from PIL import Image

from hsbench.codecs.registry import codec_names, create_codec, get_codec
from hsbench.datasets.envi import write_envi
from hsbench.datasets.matlab import write_mat73
from hsbench.datasets.pds3 import write_pds3_qube
from hsbench.datasets.raw import write_raw
from hsbench.datasets.readers import read_image
from hsbench.errors import DatasetError, HsbenchError, UnsupportedCubeError

from conftest import run_cli

SHAPE = (3, 20, 17)  # odd sizes: padding, partial tiles and blocks on every side


def _data(dtype: Any = np.uint16, peak: int = 4095, shape: tuple[int, int, int] = SHAPE) -> np.ndarray:
    b, h, w = shape
    y, x = np.mgrid[0:h, 0:w]
    smooth = (np.sin(x / 3.0)[None] * np.cos(y / 4.0)[None] + 1) / 2 * np.linspace(0.5, 1.0, b)[:, None, None]
    noise = np.random.default_rng(0).integers(0, 9, shape)
    return np.clip(np.rint(smooth * (peak - 8)) + noise, 0, peak).astype(dtype)


def _envi(interleave: str, order: int) -> Callable[[Path], tuple[Path, np.ndarray]]:
    def write(folder: Path) -> tuple[Path, np.ndarray]:
        data = _data()
        return write_envi(folder / "scene.img", data, interleave, order), data
    return write


def _png(folder: Path) -> tuple[Path, np.ndarray]:
    data = _data(np.uint8, 255)
    Image.fromarray(np.ascontiguousarray(np.moveaxis(data, 0, -1))).save(folder / "rgb.png")
    return folder / "rgb.png", data


def _png16(folder: Path) -> tuple[Path, np.ndarray]:
    data = _data(np.uint16, 4095, (1, *SHAPE[1:]))
    Image.fromarray(data[0]).save(folder / "grey16.png")
    return folder / "grey16.png", data


def _tiff(folder: Path) -> tuple[Path, np.ndarray]:
    data = _data()
    tifffile.imwrite(folder / "planar.tif", data, photometric="minisblack", planarconfig="separate")
    return folder / "planar.tif", data


def _npy(folder: Path) -> tuple[Path, np.ndarray]:
    data = _data()
    np.save(folder / "cube.npy", data)
    return folder / "cube.npy", data


def _mat5(folder: Path) -> tuple[Path, np.ndarray]:
    data = _data()
    scipy.io.savemat(folder / "scene.mat", {"cube": np.moveaxis(data, 0, -1)})
    return folder / "scene.mat", data


def _mat73(folder: Path) -> tuple[Path, np.ndarray]:
    data = _data()
    return write_mat73(folder / "scene73.mat", {"cube": np.moveaxis(data, 0, -1)}), data


def _raw(order: str) -> Callable[[Path], tuple[Path, np.ndarray]]:
    def write(folder: Path) -> tuple[Path, np.ndarray]:
        from hsbench.cube import Cube

        data = _data()
        return write_raw(Cube(data, bit_depth=12, name="scene"), folder, byteorder=order), data
    return write


def _gici(folder: Path) -> tuple[Path, np.ndarray]:
    data = _data()
    path = folder / f"scene.{'x'.join(map(str, data.shape))}_2.raw"  # type 2: uint16, big endian
    data.astype(">u2").tofile(path)
    return path, data


def _pds3(folder: Path) -> tuple[Path, np.ndarray]:
    data = _data().astype(np.float32) / 4095
    return write_pds3_qube(folder / "v.qub", data, ("BAND", "SAMPLE", "LINE"), "REAL"), data


FORMATS: dict[str, Callable[[Path], tuple[Path, np.ndarray]]] = {
    "envi-bsq-le": _envi("bsq", 0), "envi-bsq-be": _envi("bsq", 1), "envi-bil-le": _envi("bil", 0),
    "envi-bip-be": _envi("bip", 1), "png-rgb": _png, "png-16bit": _png16, "tiff": _tiff, "npy": _npy,
    "mat-v5": _mat5, "mat-v7.3": _mat73, "raw-ccsds-be": _raw("be"), "raw-ccsds-le": _raw("le"),
    "raw-gici": _gici, "pds3-qube": _pds3,
}


def _classical() -> list[str]:
    """Registered, available codecs that are not learned (those need a model per band count)."""
    from hsbench.codecs.learned.base import LearnedCodec
    from hsbench.codecs.learned.transform import LearnedTransformCodec

    names = []
    for name in codec_names():
        try:
            cls = get_codec(name)
            cls.check_available()
        except HsbenchError:
            continue
        if not issubclass(cls, (LearnedCodec, LearnedTransformCodec)):
            names.append(name)
    return names


@pytest.mark.parametrize("codec_name", _classical())
@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_every_reader_with_every_classical_codec(fmt: str, codec_name: str, tmp_path: Path) -> None:
    path, expected = FORMATS[fmt](tmp_path)
    options = {"bit_depth": 12} if expected.dtype == np.uint16 else {}
    cube = read_image(path, **options)
    np.testing.assert_array_equal(cube.data, expected)
    codec = create_codec(codec_name)
    try:
        codec.supports(cube)
    except UnsupportedCubeError as exc:
        pytest.skip(f"{codec_name} declares {fmt} data unsupported: {exc}")
    out = codec.decode(codec.encode(cube))
    assert out.shape == cube.shape and out.dtype == cube.dtype
    bound = codec.max_error(cube)
    if bound is not None:
        assert np.abs(out.data.astype(np.float64) - cube.data.astype(np.float64)).max() <= bound


def test_little_endian_bsq_envi_is_read_as_a_read_only_map(tmp_path: Path) -> None:
    """The case that broke ccsds123's numba predictor: the matrix above must include it."""
    path, _ = _envi("bsq", 0)(tmp_path)
    assert not read_image(path).data.flags.writeable


def test_envi_header_with_a_negative_size_names_the_file(tmp_path: Path) -> None:
    header = write_envi(tmp_path / "neg.img", _data())
    header.write_text(header.read_text().replace(f"samples = {SHAPE[2]}", "samples = -8"))
    with pytest.raises(DatasetError, match=r"neg\.hdr: ENVI header field samples = -8; it must be a positive"):
        read_image(header)


def test_envi_header_declaring_fewer_bands_than_the_file_holds_names_the_file(tmp_path: Path) -> None:
    header = write_envi(tmp_path / "few.img", _data())
    header.write_text(header.read_text().replace("bands = 3", "bands = 2"))
    with pytest.raises(DatasetError, match=r"few\.img: holds 2040 bytes, 680 more than its header few\.hdr "
                       r"describes .*\(1 more bands\?\)"):
        read_image(header)


def test_npy_declaring_fewer_bands_than_the_file_holds_names_the_file(tmp_path: Path) -> None:
    data = _data()
    np.save(tmp_path / "short.npy", data[:2])
    with open(tmp_path / "short.npy", "ab") as fh:
        fh.write(data[2].tobytes())  # a third band the header does not declare
    with pytest.raises(DatasetError, match=r"short\.npy: holds \d+ bytes, but its \.npy header declares shape "
                       r"\(2, 20, 17\)"):
        read_image(tmp_path / "short.npy")


def test_failed_rows_name_the_file(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    np.save(folder / "floaty.npy", _data().astype(np.float32))  # ccsds123 codes integers only
    header = write_envi(folder / "neg.img", _data())
    header.write_text(header.read_text().replace(f"samples = {SHAPE[2]}", "samples = -8"))
    out = tmp_path / "run"
    run_cli("run", "--codecs", "ccsds123", "--param", "max_error=0", "--dataset", f"folder:{folder}",
            "--out", str(out), "--quiet")
    rows = [json.loads(line) for line in (out / "rows.jsonl").read_text().splitlines()]
    errors = {row["image"]: row["error"] for row in rows}
    assert set(errors) == {"floaty", "neg"} and all(row["status"] == "failed" for row in rows)
    assert str(folder / "floaty.npy") in errors["floaty"] and "integer samples" in errors["floaty"]
    assert str(folder / "neg.hdr") in errors["neg"]
