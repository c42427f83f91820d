"""Run-time selection: bands, crop, tiles, max_images, split; Kodak from the test data (HSBENCH_DATA)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from hsbench.datasets import open_dataset
from hsbench.datasets.catalog import KODAK_PIXEL_SHA256
from hsbench.datasets.selection import normalize_options, resolve_bands, tile_grid
from hsbench.errors import DatasetError



@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    rng = np.random.default_rng(7)
    for i, shape in enumerate([(6, 20, 30), (6, 17, 9), (6, 8, 8), (6, 10, 10)]):
        np.save(tmp_path / f"img{i}.npy", rng.integers(0, 4096, size=shape).astype(np.uint16))
    return tmp_path


def test_band_expressions() -> None:
    assert resolve_bands("0:3", 10) == [0, 1, 2]
    assert resolve_bands("3,2,1", 10) == [3, 2, 1]
    assert resolve_bands("0:10:4,-1", 10) == [0, 4, 8, 9]
    assert resolve_bands("5:", 7) == [5, 6]
    with pytest.raises(DatasetError, match="band 12 does not exist"):
        resolve_bands("12", 10)
    with pytest.raises(DatasetError, match="bands must be"):
        resolve_bands("a:b", 10)


def test_options_are_canonical_strings() -> None:
    assert normalize_options({"tile": 64, "max_images": "3", "bands": [3, 2, 1], "crop": None}) == (
        ("bands", "3,2,1"), ("max_images", "3"), ("tile", "64x64"),
    )
    with pytest.raises(DatasetError, match="unknown dataset option 'tiles'"):
        normalize_options({"tiles": 64})
    with pytest.raises(DatasetError, match="max_images must be a positive integer"):
        normalize_options({"max_images": "0"})
    with pytest.raises(DatasetError, match="crop must be"):
        normalize_options({"crop": "10-20"})


@pytest.mark.parametrize("tile", ["8", "7x5"])
def test_tiles_reassemble_every_image(folder: Path, tile: str) -> None:
    plain = open_dataset(f"folder:{folder}")
    tiled = open_dataset(f"folder:{folder}", tile=tile)
    for image_id in plain.image_ids():
        original = plain.load(image_id).data
        rebuilt = np.full_like(original, 65535)
        count = 0
        for tid in tiled.image_ids():
            if tid.split("@")[0] != image_id:
                continue
            cube = tiled.load(tid)
            r, c, h, w = cube.meta["tile"]
            assert cube.name == tid and cube.shape == (6, h, w) == tiled.image_shape(tid)
            assert (rebuilt[:, r : r + h, c : c + w] == 65535).all()  # tiles do not overlap
            rebuilt[:, r : r + h, c : c + w] = cube.data
            count += 1
        np.testing.assert_array_equal(rebuilt, original)
        assert count == len(tile_grid(*original.shape[1:], (int(tile.split("x")[0]), int(tile.split("x")[-1]))))


def test_drop_edges_bands_and_crop(folder: Path) -> None:
    ds = open_dataset(f"folder:{folder}", tile="8", tile_edges="drop", bands="1:3", crop="16x16")
    with pytest.raises(DatasetError, match="does not fit"):
        ds.image_ids()  # img2 is 8x8: a 16x16 crop does not fit
    ds = open_dataset(f"folder:{folder}", tile="8", tile_edges="drop", bands="4,1", crop="0:16,1:17", max_images=1)
    ids = ds.image_ids()
    assert ids == ["img0@t0_0", "img0@t0_8", "img0@t8_0", "img0@t8_8"]
    full = open_dataset(f"folder:{folder}").load("img0").data
    np.testing.assert_array_equal(ds.load("img0@t8_8").data, full[[4, 1], 8:16, 9:17])
    info = ds.info()
    assert info["selection"]["bands"] == "4,1" and info["images"] == 4 and info["parent_images"] == 1
    with pytest.raises(DatasetError, match="not on the 8x8 grid"):
        ds.load("img0@t3_0")
    with pytest.raises(DatasetError, match="names no tile"):
        ds.load("img0")


def test_max_images_is_evenly_spaced_and_ref_reopens(folder: Path) -> None:
    ds = open_dataset(f"folder:{folder}", max_images=2)
    assert ds.image_ids() == ["img0", "img2"]
    again = ds.ref.open()
    assert again.image_ids() == ds.image_ids() and dict(again.ref.options) == {"max_images": "2"}


def test_split_where_defined_and_clear_errors_otherwise(folder: Path) -> None:
    with pytest.raises(DatasetError, match="defines no splits"):
        open_dataset(f"folder:{folder}", split="test")
    with pytest.raises(DatasetError, match="defines no splits"):
        open_dataset("samples", split="train")


def test_hyspecnet_split_and_preprocessing(tmp_path: Path) -> None:
    """A miniature HySpecNet tree (the real layout: patches/ + splits/easy|hard/*.csv)."""
    import tifffile

    from hsbench.datasets.catalog import CATALOG
    from hsbench.datasets.scenes import HYSPECNET_KEPT_BANDS

    base = tmp_path / "hyspecnet-11k" / "hyspecnet-11k"
    rng = np.random.default_rng(3)
    names = [f"TILE-{i}" for i in range(3)]
    arrays = {}
    for n in names:
        (base / "patches" / "TILE" / n).mkdir(parents=True)
        arrays[n] = rng.integers(-200, 12000, size=(224, 128, 128)).astype(np.int16)
        tifffile.imwrite(base / "patches" / "TILE" / n / f"{n}-SPECTRAL_IMAGE.TIF", arrays[n], planarconfig="separate")
    for strategy in ("easy", "hard"):
        (base / "splits" / strategy).mkdir(parents=True)
        for part, members in {"train": names[:2], "val": [], "test": names[2:]}.items():
            (base / "splits" / strategy / f"{part}.csv").write_text("".join(f"TILE/{m}/{m}-DATA.npy\n" for m in members))
    for f in CATALOG["hyspecnet-11k"].files:  # the archives are present (downloaded)
        (tmp_path / "hyspecnet-11k" / f.path).touch()
    test = open_dataset("hyspecnet-11k", tmp_path, split="test")
    assert test.image_ids() == ["TILE-2"]
    assert open_dataset("hyspecnet-11k", tmp_path, split="hard:train").image_ids() == names[:2]
    cube = test.load("TILE-2")
    assert cube.shape == (202, 128, 128) and cube.bit_depth == 14 and cube.dtype == np.uint16
    expected = np.clip(arrays["TILE-2"][list(HYSPECNET_KEPT_BANDS)], 0, 10000)
    np.testing.assert_array_equal(cube.data, expected)
    assert 126 not in HYSPECNET_KEPT_BANDS and 166 not in HYSPECNET_KEPT_BANDS and 167 in HYSPECNET_KEPT_BANDS
    with pytest.raises(DatasetError, match="no split 'holdout'"):
        open_dataset("hyspecnet-11k", tmp_path, split="holdout")


def test_kodak_pixels_match_the_published_hashes(kodak: Path) -> None:
    ds = open_dataset("kodak", kodak.parent)
    assert ds.image_ids() == [f"kodim{i:02d}" for i in range(1, 25)]
    for image_id in ds.image_ids():
        cube = ds.load(image_id)
        digest = hashlib.sha256(np.ascontiguousarray(np.moveaxis(cube.data, 0, -1)).tobytes()).hexdigest()
        assert digest == KODAK_PIXEL_SHA256[image_id], image_id
        assert cube.bit_depth == 8 and cube.bands == 3


def test_kodak_tiles_of_one_image_without_decoding_all(kodak: Path) -> None:
    ds = open_dataset("kodak", kodak.parent, tile=128, max_images=1, split="test")
    assert len(ds.image_ids()) == (512 // 128) * (768 // 128)
    assert ds.load("kodim01@t384_640").shape == (3, 128, 128)
    assert ds.info()["license"].startswith("released by Eastman Kodak")
