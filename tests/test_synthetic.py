"""Tests of the synthetic-hsi embedded dataset (hsbench.datasets.synthetic and helpers)."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hsbench.datasets import open_dataset
from hsbench.datasets.spectral_library import contiguous_segments, earthlib_data_dir, read_envi_library
from hsbench.datasets.synthetic import (
    SCENES,
    TRAIN_SCENES,
    SyntheticHSIDataset,
    SyntheticScene,
    render_scene,
    synthesize,
)
from hsbench.datasets.synthetic_layout import Canvas, power_law_field
from hsbench.datasets.synthetic_sensor import at_sensor_dn
from hsbench.errors import DatasetError

#: Cube.sha256() of every scene. A change here means the generator changed: bump
#: hsbench.datasets.synthetic.GENERATOR_VERSION and record the new hashes.
EXPECTED_SHA256 = {
    "agriculture-12bit": "6304e1a94aca03593c6fac226869532654bdffcbb03bcfbf30623bf5aff6963d",
    "urban-16bit": "e1d2bff20581a2e616fe138faf52add61ec8b0676dc94e26c84270038c3d4ed7",
    "burn-scar-12bit": "bf803e94d340996a67283e9c0084f39562ed6f024330c5d83cc342d62fd9c1da",
}


@pytest.fixture(scope="module", params=list(SCENES))
def scene(request: pytest.FixtureRequest) -> SyntheticScene:
    return render_scene(request.param)


def _independent_library() -> tuple[np.ndarray, list[str]]:
    """earthlib's spectra read with plain numpy, independently of hsbench's reader."""
    folder = earthlib_data_dir()
    spectra = np.fromfile(folder / "spectra.sli", dtype="<f4").reshape(-1, 180)
    with open(folder / "spectra.csv", newline="") as fh:
        names = [row["NAME"] for row in csv.DictReader(fh)]
    return spectra, names


def test_catalogue_matches_recorded_hashes() -> None:
    assert set(SCENES) == set(EXPECTED_SHA256)


def test_scene_hash_is_recorded(scene: SyntheticScene) -> None:
    assert scene.cube.sha256() == EXPECTED_SHA256[scene.cube.name]


def test_regeneration_is_bit_identical(scene: SyntheticScene) -> None:
    again = synthesize(scene.spec)
    assert np.array_equal(again.cube.data, scene.cube.data)
    assert again.cube.sha256() == scene.cube.sha256()


def test_scenes_do_not_depend_on_simd_or_threads() -> None:
    """Same hashes in a process whose numpy may use no SIMD extension beyond its baseline
    and one BLAS / OpenMP thread, standing in for another machine."""
    from numpy._core._multiarray_umath import __cpu_dispatch__

    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    if __cpu_dispatch__:
        env["NPY_DISABLE_CPU_FEATURES"] = " ".join(__cpu_dispatch__)
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[1]), env.get("PYTHONPATH", "")])
    code = (
        "from hsbench.datasets.synthetic import SCENES, synthesize\n"
        "for n, s in SCENES.items(): print(n, synthesize(s).cube.sha256())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    hashes = dict(line.split() for line in out.stdout.splitlines())
    assert hashes == EXPECTED_SHA256


def test_format_bit_depth_and_range(scene: SyntheticScene) -> None:
    cube = scene.cube
    assert cube.dtype == np.uint16
    assert cube.bit_depth in (12, 16)
    assert cube.bands >= 100
    assert 200 <= cube.rows <= 320 and 200 <= cube.cols <= 320
    top = (1 << cube.bit_depth) - 1
    data = cube.data
    assert int(data.max()) <= top
    assert int(data.min()) > 0, "the dark offset keeps samples above 0"
    # a realistic part of the range: bright pixels well up, almost nothing saturated
    assert np.percentile(data, 99.9) > 0.3 * top
    assert np.mean(data == top) < 1e-3


def test_wavelengths_in_nanometres_and_increasing(scene: SyntheticScene) -> None:
    wl = np.array(scene.cube.wavelengths)
    assert wl.shape == (scene.cube.bands,)
    assert np.all(np.diff(wl) > 0)
    assert wl[0] == pytest.approx(400.0) and wl[-1] == pytest.approx(2450.0)
    assert scene.cube.meta["wavelength_units"] == "nm"


def test_endmembers_are_earthlib_spectra(scene: SyntheticScene) -> None:
    spectra, names = _independent_library()
    for name, reflectance in zip(scene.endmember_names, scene.reflectance):
        rows = [i for i, n in enumerate(names) if n == name]
        assert any(np.array_equal(spectra[i].astype(np.float64), reflectance) for i in rows), name


def test_pure_pixels_carry_their_library_spectrum(scene: SyntheticScene) -> None:
    """Inverting the noise-free sensor model on a pure pixel gives back the library spectrum."""
    cube, spec = scene.cube, scene.spec
    wl = np.array(cube.wavelengths)
    white, _ = at_sensor_dn(np.ones((1, wl.size)), wl, spec.atmosphere, spec.sensor)
    total = scene.abundances.sum(axis=0)
    checked = 0
    for k in range(len(scene.endmember_names)):
        fraction = scene.abundances[k] / np.maximum(total, 1e-9)
        candidates = (fraction > 0.99) & (total > 0.5)
        if not candidates.any():
            continue
        r, c = np.unravel_index(np.argmax(np.where(candidates, total, 0)), total.shape)
        pixel = cube.data[:, r, c].astype(np.float64) - scene.dark_dn - scene.path_dn
        assert np.corrcoef(pixel, scene.signatures[k])[0, 1] > 0.99
        retrieved = pixel / white[0]
        library = scene.reflectance[k]
        cos = retrieved @ library / (np.linalg.norm(retrieved) * np.linalg.norm(library))
        assert np.degrees(np.arccos(min(cos, 1.0))) < 3.0, scene.endmember_names[k]
        checked += 1
    assert checked >= 3  # mixed materials (litter under canopy, soil) have no pure pixel


def test_adjacent_bands_are_highly_correlated(scene: SyntheticScene) -> None:
    data = scene.cube.data.astype(np.float64).reshape(scene.cube.bands, -1)
    corr = []
    for seg in contiguous_segments(np.array(scene.cube.wavelengths)):
        for b in range(seg.start, seg.stop - 1):
            corr.append(np.corrcoef(data[b], data[b + 1])[0, 1])
    corr = np.array(corr)
    assert np.median(corr) > 0.99
    assert corr.min() > 0.8


def test_spatial_structure_is_natural(scene: SyntheticScene) -> None:
    """Neither constant, nor white noise, nor piecewise constant."""
    for b in (20, 60, 120, 160):
        band = scene.cube.data[b].astype(np.float64)
        assert band.std() > 20 * scene.spec.sensor.read_noise_dn
        horizontal = np.corrcoef(band[:, 1:].ravel(), band[:, :-1].ravel())[0, 1]
        vertical = np.corrcoef(band[1:].ravel(), band[:-1].ravel())[0, 1]
        assert 0.6 < horizontal < 0.995 and 0.6 < vertical < 0.995
        assert np.mean(np.diff(band, axis=1) == 0) < 0.1


def test_noise_is_present_and_follows_the_sensor_model(scene: SyntheticScene) -> None:
    clean = synthesize(scene.spec, noise=False).cube.data.astype(np.float64)
    noisy = scene.cube.data.astype(np.float64)
    sensor = scene.spec.sensor
    for b in (10, 70, 150):
        residual = noisy[b] - clean[b]
        signal = clean[b] - scene.dark_dn[b]
        expected_var = np.mean(signal / sensor.e_per_dn + sensor.read_noise_dn**2) + 1 / 6  # + two roundings
        assert residual.var() == pytest.approx(expected_var, rel=0.1)
        assert abs(residual.mean()) < 0.05 * residual.std()
        # white: independent from one pixel to the next
        assert abs(np.corrcoef(residual[:, 1:].ravel(), residual[:, :-1].ravel())[0, 1]) < 0.05


def test_dataset_api(tmp_path) -> None:
    dataset = open_dataset("synthetic-hsi", tmp_path)
    assert dataset.image_ids() == list(SCENES)
    cube = dataset.load("urban-16bit")
    assert cube.name == "urban-16bit"
    assert cube.sha256() == EXPECTED_SHA256["urban-16bit"]
    cube.data[0, 0, 0] = 0  # a writable copy: the cached scene is untouched
    assert render_scene("urban-16bit").cube.sha256() == EXPECTED_SHA256["urban-16bit"]
    info = dataset.info()
    assert info["spectral_library"]["license"] == "MIT"
    assert re.match(r"\d+\.\d+", info["spectral_library"]["version"])
    assert set(info["scenes"]) == set(SCENES)
    with pytest.raises(DatasetError, match="agriculture-12bit"):
        dataset.load("no-such-scene")


def test_training_split_holds_other_scenes_of_the_same_kind(tmp_path) -> None:
    test_set = open_dataset("synthetic-hsi", tmp_path)
    assert test_set.train_spec == "synthetic-hsi-train"
    train_set = open_dataset(test_set.train_spec, tmp_path)
    assert train_set.image_ids() == list(TRAIN_SCENES)
    assert not set(train_set.image_ids()) & set(test_set.image_ids())
    train = train_set.load("agriculture-12bit-train1")
    test = render_scene("agriculture-12bit").cube
    assert train.shape == test.shape and train.bit_depth == test.bit_depth
    assert train.wavelengths == test.wavelengths
    assert np.mean(train.data != test.data) > 0.9
    with pytest.raises(DatasetError, match="no scene"):
        train_set.load("agriculture-12bit")
    with pytest.raises(DatasetError, match="split"):
        SyntheticHSIDataset(test_set.ref, split="validation")


def test_library_reader_rejects_broken_files(tmp_path) -> None:
    with pytest.raises(DatasetError, match="missing"):
        read_envi_library(tmp_path / "absent.sli")
    sli = tmp_path / "lib.sli"
    np.arange(6, dtype="<f4").tofile(sli)
    header = "ENVI\nsamples = 3\nlines = 2\nbands = 1\ndata type = 4\nbyte order = 0\nwavelength = {0.4, 0.5, 0.6}\n"
    (tmp_path / "lib.sli.hdr").write_text(header)
    lib = read_envi_library(sli)
    assert lib.reflectance.shape == (2, 3)
    assert np.allclose(lib.wavelengths_nm, [400, 500, 600])
    (tmp_path / "lib.sli.hdr").write_text(header.replace("lines = 2", "lines = 3"))
    with pytest.raises(DatasetError, match="bytes"):
        read_envi_library(sli)


def test_power_law_field_has_the_requested_spectral_slope() -> None:
    """Radially averaged power spectrum of the field falls as |f|**-beta."""
    rng = np.random.default_rng(0)
    for beta in (2.0, 3.0):
        field = power_law_field(rng, (256, 256), beta, pad=0)
        power = np.abs(np.fft.fft2(field)) ** 2
        f = np.hypot(np.fft.fftfreq(256)[:, None], np.fft.fftfreq(256)[None, :])
        bins = np.geomspace(0.02, 0.4, 12)
        idx = np.digitize(f, bins)
        centres = [f[idx == i].mean() for i in range(1, len(bins))]
        means = [power[idx == i].mean() for i in range(1, len(bins))]
        slope = np.polyfit(np.log(centres), np.log(means), 1)[0]
        assert slope == pytest.approx(-beta, abs=0.25)


def test_canvas_over_compositing_keeps_abundances_summing_to_one() -> None:
    canvas = Canvas((8, 8), 3)
    canvas.paint(1.0, {0: 1.0})
    ramp = np.linspace(0, 1, 64).reshape(8, 8)
    canvas.paint(ramp, {1: 0.3, 2: 0.7})
    canvas.paint(ramp[::-1], {2: 1.0})
    assert np.allclose(canvas.weights.sum(axis=0), 1.0)
    assert np.all(canvas.weights >= 0)
