"""Metrics against independent references: hand computations, scikit-image,
pytorch-msssim (an independent MS-SSIM implementation over torch) and direct loops."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from skimage.metrics import mean_squared_error, peak_signal_noise_ratio, structural_similarity

from hsbench import metrics as M
from hsbench.cube import Cube
from hsbench.errors import InvalidCubeError


EXPECTED_COLUMNS = {
    "mse", "mae", "max_abs_error", "psnr", "psnr_band_mean", "psnr_dr", "snr", "ssim",
    "ms_ssim", "ms_ssim_db", "ms_ssim_note", "sam_deg", "sam_note", "exact",
    "psnr_bands", "ssim_bands",
}


def _noisy(x: np.ndarray, sigma: float, hi: int, seed: int = 0) -> np.ndarray:
    """``x`` plus clipped Gaussian noise, in x's dtype."""
    rng = np.random.default_rng(seed)
    y = np.rint(x.astype(np.float64) + rng.normal(0.0, sigma, x.shape))
    return np.clip(y, 0, hi).astype(x.dtype)


def _smooth_cube(bands: int, rows: int, cols: int, hi: int, dtype: type, seed: int = 1) -> np.ndarray:
    """A cube with spatial structure (smoothed noise) spanning most of [0, hi]."""
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    a = ndimage.gaussian_filter(rng.random((bands, rows, cols)), (0, 3, 3))
    a = (a - a.min()) / (a.max() - a.min())
    return np.rint(a * hi * 0.9 + hi * 0.05).astype(dtype)


def _ssim_skimage(x: np.ndarray, y: np.ndarray, data_range: float) -> np.ndarray:
    return np.array([
        structural_similarity(
            x[b].astype(np.float64), y[b].astype(np.float64), data_range=data_range,
            gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
        )
        for b in range(x.shape[0])
    ])


def _ms_ssim_torch(x: np.ndarray, y: np.ndarray, data_range: float, win_size: int = 11) -> float:
    """pytorch-msssim in float64 with a float64 Gaussian window (its default window is float32)."""
    torch = pytest.importorskip("torch")
    pytorch_msssim = pytest.importorskip("pytorch_msssim")
    t = torch.arange(win_size, dtype=torch.float64) - win_size // 2
    g = torch.exp(-(t**2) / (2 * 1.5**2))
    win = (g / g.sum()).view(1, 1, 1, win_size).repeat(x.shape[0], 1, 1, 1)
    X = torch.from_numpy(x.astype(np.float64)[None])
    Y = torch.from_numpy(y.astype(np.float64)[None])
    return float(pytorch_msssim.ms_ssim(X, Y, data_range=data_range, win=win))


@pytest.fixture(scope="module")
def astronaut() -> tuple[np.ndarray, np.ndarray]:
    from skimage import data

    x = np.ascontiguousarray(data.astronaut().transpose(2, 0, 1))  # (3, 512, 512) uint8
    return x, _noisy(x, 12.0, 255)


# -- pixel errors by hand ---------------------------------------------------------------------


def test_hand_computed_errors() -> None:
    x = np.zeros((1, 2, 2), np.uint8)
    y = np.array([[[0, 2], [0, 0]]], np.uint8)
    assert M.mse(x, y) == 1.0
    assert M.mae(x, y) == 0.5
    assert M.max_abs_error(x, y) == 2.0
    assert M.psnr(x, y, 255) == pytest.approx(20 * math.log10(255))  # 48.1308 dB


def test_psnr_whole_cube_vs_band_mean_by_hand() -> None:
    x = np.full((2, 2, 2), 100, np.uint8)
    y = x.copy()
    y[0, 0, :] += 1  # band 0: MSE 2/4
    y[1, :, :] += 2  # band 1: MSE 4
    assert M.mse(x, y) == pytest.approx((0.5 + 4) / 2)
    assert M.psnr(x, y, 255) == pytest.approx(10 * math.log10(255**2 / 2.25))
    bands = M.psnr_bands(x, y, 255)
    np.testing.assert_allclose(bands, [10 * math.log10(255**2 / 0.5), 10 * math.log10(255**2 / 4)])
    row = M.evaluate(Cube(x), Cube(y))
    assert row["psnr_band_mean"] == pytest.approx(bands.mean())
    assert row["psnr"] == pytest.approx(M.psnr(x, y, 255))


def test_snr_by_hand() -> None:
    x = np.array([[[3, 4]]], np.uint8)
    y = np.array([[[3, 3]]], np.uint8)
    assert M.snr(x, y) == pytest.approx(10 * math.log10(25 / 1))  # signal 9 + 16, noise 1
    assert M.snr(x, x) == math.inf


def test_psnr_dr_uses_band_dynamic_range() -> None:
    rng = np.random.default_rng(3)
    x = rng.integers(1000, 3000, (4, 20, 30)).astype(np.uint16)
    x[2] = 1234  # constant band: no dynamic range, left out
    y = _noisy(x, 5.0, 65535)
    expected = np.mean([
        peak_signal_noise_ratio(x[b], y[b], data_range=float(x[b].max()) - float(x[b].min()))
        for b in (0, 1, 3)
    ])
    assert M.psnr_dr(x, y) == pytest.approx(expected, rel=1e-12)
    with pytest.warns(M.MetricUndefinedWarning, match="constant"):
        assert math.isnan(M.psnr_dr(np.full((2, 4, 4), 7), np.full((2, 4, 4), 8)))


# -- against scikit-image ------------------------------------------------------------------------


def test_8bit_rgb_against_skimage(astronaut: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = astronaut
    row = M.evaluate(Cube(x), Cube(y))
    assert row["psnr"] == pytest.approx(peak_signal_noise_ratio(x, y, data_range=255), rel=1e-12)
    assert row["mse"] == pytest.approx(mean_squared_error(x, y), rel=1e-12)
    ref_bands = [peak_signal_noise_ratio(x[b], y[b], data_range=255) for b in range(3)]
    np.testing.assert_allclose(row["psnr_bands"], ref_bands, rtol=1e-12)
    ref_ssim = _ssim_skimage(x, y, 255)
    np.testing.assert_allclose(row["ssim_bands"], ref_ssim, rtol=1e-10)
    assert row["ssim"] == pytest.approx(ref_ssim.mean(), rel=1e-10)
    diff = np.abs(x.astype(int) - y.astype(int))
    assert row["mae"] == pytest.approx(diff.mean(), rel=1e-12)
    assert row["max_abs_error"] == diff.max()
    assert row["exact"] is False
    assert row["peak"] == 255.0


@pytest.mark.parametrize("bit_depth", [16, 12])
def test_16bit_storage_against_skimage(bit_depth: int) -> None:
    hi = 2**bit_depth - 1
    x = _smooth_cube(6, 40, 48, hi, np.uint16)
    y = _noisy(x, hi / 500, hi)
    cube = Cube(x, bit_depth=bit_depth)
    row = M.evaluate(cube, cube.with_data(y))
    assert row["peak"] == hi
    assert row["psnr"] == pytest.approx(peak_signal_noise_ratio(x, y, data_range=hi), rel=1e-12)
    np.testing.assert_allclose(row["ssim_bands"], _ssim_skimage(x, y, hi), rtol=1e-10)
    np.testing.assert_allclose(M.ssim_bands(x, y, hi), row["ssim_bands"], rtol=1e-13)


def test_float_cube_uses_declared_value_range() -> None:
    rng = np.random.default_rng(5)
    x = (0.2 + 0.5 * rng.random((3, 32, 32))).astype(np.float32)  # data span ~[0.2, 0.7]
    y = (x + rng.normal(0, 0.01, x.shape)).astype(np.float32)
    cube = Cube(x, value_range=(0.0, 1.0))
    row = M.evaluate(cube, cube.with_data(y))
    assert row["peak"] == 1.0
    assert row["psnr"] == pytest.approx(peak_signal_noise_ratio(x, y, data_range=1.0), rel=1e-9)
    np.testing.assert_allclose(row["ssim_bands"], _ssim_skimage(x, y, 1.0), rtol=1e-10)
    # without a declared range the data's own min / max define the peak
    auto = Cube(x)
    assert M.evaluate(auto, y)["peak"] == pytest.approx(float(x.max()) - float(x.min()))


def test_signed_integer_peak() -> None:
    x = np.array([[[-2048, 0], [100, 2047]]], np.int16)
    y = x.copy()
    y[0, 0, 0] += 3
    row = M.evaluate(Cube(x, bit_depth=12), y)
    assert row["peak"] == 4095
    assert row["psnr"] == pytest.approx(10 * math.log10(4095**2 / (9 / 4)))


def test_simulated_indian_pines_against_skimage(indian_pines_mat) -> None:
    path = indian_pines_mat
    from scipy.io import loadmat

    x = np.ascontiguousarray(loadmat(path)["simu_indian"].transpose(2, 0, 1)[:, :48, :64])
    y = x + np.random.default_rng(7).normal(0, 0.005, x.shape)
    row = M.evaluate(Cube(x, value_range=(0.0, 1.0)), y)
    assert len(row["psnr_bands"]) == 224
    ref = [peak_signal_noise_ratio(x[b], y[b], data_range=1.0) for b in range(224)]
    np.testing.assert_allclose(row["psnr_bands"], ref, rtol=1e-12)
    np.testing.assert_allclose(row["ssim_bands"], _ssim_skimage(x, y, 1.0), rtol=1e-9)
    ref_sam = np.degrees(np.arccos(np.clip(
        (x * y).sum(0) / (np.linalg.norm(x, axis=0) * np.linalg.norm(y, axis=0)), -1, 1))).mean()
    assert row["sam_deg"] == pytest.approx(ref_sam, rel=1e-9)


# -- MS-SSIM against pytorch-msssim ------------------------------------------------------------------


def test_ms_ssim_against_pytorch_msssim(astronaut: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = astronaut
    ref = _ms_ssim_torch(x, y, 255)
    row = M.evaluate(Cube(x), Cube(y))
    assert row["ms_ssim"] == pytest.approx(ref, rel=1e-12)
    assert row["ms_ssim_note"] == ""
    assert row["ms_ssim_db"] == pytest.approx(-10 * math.log10(1 - ref), rel=1e-9)
    assert M.ms_ssim(x, y, 255) == pytest.approx(ref, rel=1e-12)


def test_ms_ssim_16bit_against_pytorch_msssim() -> None:
    x = _smooth_cube(2, 176, 192, 65535, np.uint16)
    y = _noisy(x, 400.0, 65535)
    assert M.ms_ssim(x, y, 65535) == pytest.approx(_ms_ssim_torch(x, y, 65535), rel=1e-12)


def test_ms_ssim_smaller_window_against_pytorch_msssim() -> None:
    x = _smooth_cube(3, 128, 128, 255, np.uint8)
    y = _noisy(x, 8.0, 255)
    ref = _ms_ssim_torch(x, y, 255, win_size=7)
    assert M.ms_ssim(x, y, 255, win_size=7) == pytest.approx(ref, rel=1e-12)
    row = M.evaluate(Cube(x), Cube(y), ms_ssim_win_size="auto")
    assert row["ms_ssim"] == pytest.approx(ref, rel=1e-12)
    assert "window 7 px" in row["ms_ssim_note"]


def test_ms_ssim_too_small_is_nan_with_reason() -> None:
    x = _smooth_cube(2, 64, 200, 255, np.uint8)
    y = _noisy(x, 8.0, 255)
    row = M.evaluate(Cube(x), Cube(y))
    assert math.isnan(row["ms_ssim"]) and math.isnan(row["ms_ssim_db"])
    assert "160" in row["ms_ssim_note"] and "64" in row["ms_ssim_note"]
    assert "win_size=3" in row["ms_ssim_note"]  # the hint names a window that fits
    assert not math.isnan(row["ssim"])  # plain SSIM is still defined
    with pytest.warns(M.MetricUndefinedWarning, match="MS-SSIM is undefined"):
        assert math.isnan(M.ms_ssim(x, y, 255))
    # the boundary of SPEC section 1: the shorter side must exceed (11 - 1) * 16 = 160 px
    assert M.ms_ssim_window(160, 300) == 9 and M.ms_ssim_window(161, 300) == 11
    assert M.ms_ssim_window(128, 128) == 7 and M.ms_ssim_window(64, 64) == 3
    assert M.ms_ssim_window(32, 32) is None
    edge = _smooth_cube(1, 161, 170, 255, np.uint8)  # odd sizes at every scale
    value = M.ms_ssim(edge, _noisy(edge, 8.0, 255), 255)
    assert 0.0 < value < 1.0
    small = M.evaluate(Cube(x[:, :8, :8]), y[:, :8, :8])
    assert math.isnan(small["ssim"]) and math.isnan(small["ms_ssim"])


def test_ms_ssim_downsampling_replicates_odd_edges() -> None:
    # Wang's reference msssim.m: imfilter(img, ones(2)/4, 'symmetric', 'same') then img(1:2:end, 1:2:end),
    # so an odd last row / column is averaged with itself.
    a = np.arange(1.0, 10.0).reshape(1, 3, 3)
    np.testing.assert_array_equal(M._downsample2(a), [[[3.0, 4.5], [7.5, 9.0]]])
    b = np.arange(8.0).reshape(1, 2, 4)
    np.testing.assert_array_equal(M._downsample2(b), [[[2.5, 4.5]]])


# -- SAM -------------------------------------------------------------------------------------------


def test_sam_by_hand() -> None:
    x = np.array([[[1, 3]], [[0, 4]]], np.uint8)  # pixel spectra (1, 0) and (3, 4)
    y = np.array([[[1, 4]], [[1, 3]]], np.uint8)  # pixel spectra (1, 1) and (4, 3)
    expected = (45.0 + math.degrees(math.acos(24 / 25))) / 2
    assert M.sam(x, y) == pytest.approx(expected, rel=1e-12)
    zero_y = np.zeros_like(y)
    assert M.sam(x, zero_y) == pytest.approx(90.0)  # a vanished spectrum is orthogonal


def test_sam_against_pixel_loop_and_zero_spectra_left_out() -> None:
    rng = np.random.default_rng(11)
    x = rng.integers(0, 4096, (7, 9, 11)).astype(np.uint16)
    x[:, 2, 3] = 0
    x[:, 5, :] = 0  # a whole row of all-zero spectra
    y = _noisy(x, 200.0, 4095)
    angles = []
    for r in range(9):
        for c in range(11):
            a = x[:, r, c].astype(float)
            b = y[:, r, c].astype(float)
            if not a.any():
                continue
            cos = a @ b / (np.linalg.norm(a) * np.linalg.norm(b))
            angles.append(math.degrees(math.acos(min(1.0, max(-1.0, cos)))))
    assert M.sam(x, y) == pytest.approx(np.mean(angles), rel=1e-12)
    row = M.evaluate(Cube(x, bit_depth=12), y)
    assert row["sam_deg"] == pytest.approx(np.mean(angles), rel=1e-12)
    assert row["sam_note"].startswith("12 of 99 pixels left out")


def test_sam_single_band_is_nan_with_reason() -> None:
    x = np.arange(16, dtype=np.uint8).reshape(1, 4, 4)
    row = M.evaluate(Cube(x), x)
    assert math.isnan(row["sam_deg"]) and "single band" in row["sam_note"]
    with pytest.warns(M.MetricUndefinedWarning, match="single band"):
        assert math.isnan(M.sam(x, x))


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.floats(0.1, 10.0))
def test_sam_is_scale_invariant(seed: int, scale: float) -> None:
    rng = np.random.default_rng(seed)
    x = rng.random((5, 3, 4)) + 0.01
    y = x + rng.normal(0, 0.05, x.shape)
    assert M.sam(x, scale * y) == pytest.approx(M.sam(x, y), rel=1e-9, abs=1e-9)


# -- identity, errors, chunking ----------------------------------------------------------------------


def test_identical_images() -> None:
    x = _smooth_cube(4, 170, 170, 65535, np.uint16)
    row = M.evaluate(Cube(x), Cube(x.copy()))
    assert row["exact"] is True
    assert row["psnr"] == math.inf and row["psnr_band_mean"] == math.inf and row["psnr_dr"] == math.inf
    assert row["snr"] == math.inf
    assert row["mse"] == row["mae"] == row["max_abs_error"] == 0.0
    assert row["ssim"] == pytest.approx(1.0, abs=1e-12)
    assert row["ms_ssim"] == pytest.approx(1.0, abs=1e-12)
    assert row["sam_deg"] == 0.0
    assert set(row) >= EXPECTED_COLUMNS
    assert all(isinstance(row[k], float) for k in EXPECTED_COLUMNS - {"exact", "ms_ssim_note", "sam_note", "psnr_bands", "ssim_bands"})
    assert M.ms_ssim_db(1.0) == math.inf


def test_mismatched_shapes_raise_clear_error() -> None:
    x = np.zeros((3, 16, 16), np.uint8)
    with pytest.raises(InvalidCubeError, match=r"\(3, 16, 15\).*\(3, 16, 16\)"):
        M.evaluate(Cube(x, name="kodim01"), Cube(np.zeros((3, 16, 15), np.uint8)))
    with pytest.raises(InvalidCubeError, match="does not match"):
        M.psnr(x, x[:2], 255)
    with pytest.raises(InvalidCubeError, match="expected a"):
        M.mse(np.zeros(5), np.zeros(5))
    with pytest.raises(ValueError, match="positive"):
        M.psnr(x, x, 0)
    with pytest.raises(ValueError, match="odd integer"):
        M.ms_ssim(x, x, 255, win_size=8)


def test_chunked_evaluation_matches_single_chunk(monkeypatch: pytest.MonkeyPatch) -> None:
    x = _smooth_cube(5, 168, 170, 4095, np.uint16)
    y = _noisy(x, 30.0, 4095)
    cube = Cube(x, bit_depth=12)
    whole = M.evaluate(cube, y)
    monkeypatch.setattr(M, "CHUNK_SAMPLES", 1)  # one band per chunk
    banded = M.evaluate(cube, y)
    for key in ("mse", "psnr", "psnr_dr", "snr", "ssim", "ms_ssim", "sam_deg"):
        assert banded[key] == pytest.approx(whole[key], rel=1e-12), key
    assert banded["max_abs_error"] == whole["max_abs_error"]


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 4), st.integers(1, 9), st.integers(1, 9))
def test_errors_match_skimage_on_random_arrays(seed: int, b: int, h: int, w: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 65536, (b, h, w)).astype(np.uint16)
    y = rng.integers(0, 65536, (b, h, w)).astype(np.uint16)
    assert M.mse(x, y) == pytest.approx(mean_squared_error(x, y), rel=1e-12)
    assert M.mse(x, y) == pytest.approx(M.mse(y, x), rel=1e-15)
    if (x != y).any():
        assert M.psnr(x, y, 65535) == pytest.approx(peak_signal_noise_ratio(x, y, data_range=65535), rel=1e-12)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 3), st.integers(11, 30), st.integers(11, 30),
       st.sampled_from([(11, 1.5), (7, 0.8), (3, 0.3)]))
def test_ssim_matches_skimage_on_random_shapes(seed: int, b: int, h: int, w: int, window: tuple[int, float]) -> None:
    """The compiled SSIM pass at every image size from the window itself up (one valid output pixel);
    scikit-image derives its window from sigma (``2 int(3.5 sigma + 0.5) + 1`` taps), hence the pairs."""
    win, sigma = window
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 4096, (b, h, w)).astype(np.uint16)
    y = np.clip(x + rng.normal(0, 200, x.shape), 0, 4095).astype(np.uint16)
    ref = [structural_similarity(x[i].astype(np.float64), y[i].astype(np.float64), data_range=4095, win_size=win,
                                 gaussian_weights=True, sigma=sigma, use_sample_covariance=False, truncate=3.5)
           for i in range(b)]
    np.testing.assert_allclose(M.ssim_bands(x, y, 4095, win_size=win, win_sigma=sigma), ref, rtol=1e-9, atol=1e-12)


# -- rate and speed -------------------------------------------------------------------------------------


def test_rate_formulas() -> None:
    # SPEC section 1: Lombardia 9x48x48 16-bit against 500 float32 latent values (2000 bytes)
    shape = (9, 48, 48)
    assert M.compression_ratio(2000, shape, 16) == pytest.approx(331776 / 16000)
    assert M.bpppc(2000, shape) == pytest.approx(8 * 2000 / (9 * 48 * 48))
    assert M.bpp(2000, shape) == pytest.approx(8 * 2000 / (48 * 48))
    # an 8-bit RGB image at 1 bit per pixel: 24:1
    assert M.compression_ratio(768 * 512 // 8, (3, 512, 768), 8) == pytest.approx(24.0)
    cube = Cube(np.zeros((4, 10, 10), np.uint16), bit_depth=12)
    cols = M.rate_columns(cube, 60)
    assert cols == {"bytes": 60, "bpppc": 1.2, "bpp": 4.8, "cr": pytest.approx(10.0)}
    with pytest.raises(ValueError, match="at least one byte"):
        M.bpppc(0, shape)
    with pytest.raises(ValueError, match="shape"):
        M.bpppc(10, (48, 48))


def test_throughput_and_timing_columns() -> None:
    assert M.throughput_mbps(2_000_000, 0.5) == 4.0
    assert math.isnan(M.throughput_mbps(1000, None)) and math.isnan(M.throughput_mbps(1000, 0.0))
    with pytest.raises(ValueError, match="negative"):
        M.throughput_mbps(1000, -1.0)
    cube = Cube(np.zeros((10, 100, 100), np.uint16), bit_depth=12)  # 150,000 raw bytes at 12 bits
    cols = M.timing_columns(cube, 0.15, None)
    assert cols["encode_s"] == 0.15 and cols["encode_mbps"] == pytest.approx(1.0)
    assert math.isnan(cols["decode_s"]) and math.isnan(cols["decode_mbps"])
