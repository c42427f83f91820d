"""The normalised-domain PSNR column (``psnr_norm``) and which published PSNRs are overlaid on which figure."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hsbench.baselines import _read, load_baseline
from hsbench.errors import HsbenchError
from hsbench.metrics import psnr, psnr_norm


def naive_psnr_norm(x: np.ndarray, y: np.ndarray, tile: int) -> float:
    """Independent reference: normalise both with the original's per-band min / max, PSNR per tile, mean."""
    lo = x.min(axis=(1, 2), keepdims=True).astype(float)
    hi = x.max(axis=(1, 2), keepdims=True).astype(float)
    xn, yn = (x - lo) / (hi - lo), (y - lo) / (hi - lo)
    values = []
    for r in range(0, x.shape[1], tile):
        for c in range(0, x.shape[2], tile):
            mse = np.mean((xn[:, r : r + tile, c : c + tile] - yn[:, r : r + tile, c : c + tile]) ** 2)
            values.append(10 * math.log10(1 / mse))
    return float(np.mean(values))


@pytest.mark.parametrize(("shape", "tile"), [((5, 100, 70), 64), ((3, 64, 64), 64), ((7, 33, 129), 16), ((2, 9, 9), 64)])
def test_psnr_norm_matches_an_independent_computation(shape: tuple[int, int, int], tile: int) -> None:
    rng = np.random.default_rng(sum(shape))
    x = rng.integers(0, 4096, shape).astype(np.uint16)
    y = np.clip(x.astype(int) + rng.integers(-9, 10, shape), 0, 4095).astype(np.uint16)
    assert psnr_norm(x, y, tile=tile) == pytest.approx(naive_psnr_norm(x, y, tile), abs=1e-9)


def test_psnr_norm_is_per_band_scale_free_and_differs_from_peak_psnr() -> None:
    """Each band is judged against its own range: scaling one band (both images) leaves the value unchanged."""
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 1, (4, 64, 64))
    y = x + rng.normal(0, 0.01, x.shape)
    scaled_x, scaled_y = x.copy(), y.copy()
    scaled_x[2] *= 1000
    scaled_y[2] *= 1000
    assert psnr_norm(scaled_x, scaled_y) == pytest.approx(psnr_norm(x, y), abs=1e-9)
    assert psnr(scaled_x, scaled_y, 1000.0) != pytest.approx(psnr(x, y, 1000.0), abs=0.1)


def test_psnr_norm_known_value_and_edge_cases() -> None:
    x = np.zeros((2, 64, 64))
    x[:, 0, 0] = 1.0  # range 1 in both bands
    y = x + 0.01  # error 0.01 everywhere: 40 dB in every tile
    assert psnr_norm(x, y) == pytest.approx(40.0)
    assert psnr_norm(x, x) == math.inf
    assert psnr_norm(x, y, span=[0.1, 0.1]) == pytest.approx(20.0)  # a training set's range instead
    with pytest.raises(ValueError, match="tile"):
        psnr_norm(x, y, tile=0)


def test_published_psnrs_overlay_only_their_definition() -> None:
    virtis = load_baseline("sscnet_virtis")
    assert virtis.curves("psnr") == []  # hsbench's psnr (peak 2^D - 1) is another definition
    conv = dict(virtis.curves("psnr_norm"))["SSCNet conv (sscnet_virtis, nominal rate)"]
    assert conv["psnr_norm"].tolist() == [66.79, 67.677]
    hy = load_baseline("hyspecnet11k")
    assert hy.curves("psnr") == [] and len(hy.curves("psnr_norm")) == 4
    lomb = load_baseline("sscnet_lombardia")
    assert lomb.curves("psnr") == [] and lomb.curves("psnr_norm") == []  # none of Table 4 is an hsbench PSNR
    sscnet = dict(lomb.curves("psnr_norm_global_per_band"))["SSCNet (sscnet_lombardia, nominal rate)"]
    assert sscnet["psnr_norm_global_per_band"].iloc[0] == pytest.approx(np.mean(
        [48.440, 49.709, 49.783, 51.318, 49.569, 48.542, 44.527, 51.043, 50.876]))
    assert len(lomb.curves("ssim")) == 3  # other metrics as before


def test_a_baseline_psnr_without_definition_is_refused() -> None:
    text = "# citation: x\nmethod,rate_convention,bpppc,psnr\nA,real,1.0,30\n"
    with pytest.raises(HsbenchError, match="psnr_definition"):
        _read(text, "mine")
    ok = _read(text.replace("psnr\n", "psnr,psnr_definition\n").replace("30\n", "30,psnr\n"), "mine")
    assert dict(ok.curves("psnr"))["A (mine, real rate)"]["psnr"].tolist() == [30]
