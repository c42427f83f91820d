"""Metric values against those of the float64 scipy implementation before the numba kernels.

``tests/data/metrics_reference.json`` holds every column of :func:`hsbench.metrics.evaluate`
(and the array functions' values) for the deterministic pairs below, computed by
the implementation of commit 9810510 (scipy ``correlate1d`` in float64, one
``_ssim_cs`` call per scale). The compiled implementation must give the same values
to 1e-6 (absolute and relative). Regenerate only on purpose, with the code whose
values are the reference::

    PYTHONPATH=. python tests/test_metrics_reference.py
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

from hsbench import metrics as M
from hsbench.cube import Cube

REFERENCE = Path(__file__).resolve().parent / "data" / "metrics_reference.json"


def _noisy(x: np.ndarray, sigma: float, lo: float, hi: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y = x.astype(np.float64) + rng.normal(0.0, sigma, x.shape)
    if np.issubdtype(x.dtype, np.integer):
        y = np.rint(y)
    return np.clip(y, lo, hi).astype(x.dtype)


def _smooth(shape: tuple[int, int, int], seed: int) -> np.ndarray:
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    a = ndimage.gaussian_filter(rng.random(shape), (0, 2, 2))
    return (a - a.min()) / (a.max() - a.min())


def _astronaut() -> tuple[Cube, np.ndarray]:
    from skimage import data

    x = np.ascontiguousarray(np.moveaxis(data.astronaut(), -1, 0))
    return Cube(x, bit_depth=8, name="astronaut"), _noisy(x, 6.0, 0, 255, 1)


def _odd_12bit() -> tuple[Cube, np.ndarray]:
    x = np.rint(_smooth((4, 171, 165), 2) * 4000 + 40).astype(np.uint16)
    return Cube(x, bit_depth=12, name="odd12"), _noisy(x, 30.0, 0, 4095, 3)


def _many_chunks_16bit() -> tuple[Cube, np.ndarray]:
    x = np.rint(_smooth((40, 128, 130), 4) * 60000 + 500).astype(np.uint16)
    return Cube(x, bit_depth=16, name="chunks16"), _noisy(x, 400.0, 0, 65535, 5)


def _float_small() -> tuple[Cube, np.ndarray]:
    x = _smooth((5, 40, 37), 6) * 0.8 + 0.1
    return Cube(x, value_range=(0.0, 1.0), name="float"), _noisy(x, 0.02, 0.0, 1.0, 7)


def _auto_window() -> tuple[Cube, np.ndarray]:
    x = np.rint(_smooth((3, 96, 100), 8) * 250).astype(np.uint8)
    return Cube(x, bit_depth=8, name="auto"), _noisy(x, 4.0, 0, 255, 9)


#: name -> (pair factory, keyword arguments of evaluate)
CASES: dict[str, tuple[Callable[[], tuple[Cube, np.ndarray]], dict[str, Any]]] = {
    "astronaut-rgb8": (_astronaut, {}),
    "odd-4x171x165-12bit": (_odd_12bit, {}),
    "chunks-40x128x130-16bit": (_many_chunks_16bit, {}),
    "float-5x40x37": (_float_small, {}),
    "auto-window-3x96x100": (_auto_window, {"ms_ssim_win_size": "auto"}),
}


def _values(cube: Cube, y: np.ndarray, kwargs: dict[str, Any]) -> dict[str, Any]:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", M.MetricUndefinedWarning)
        row = M.evaluate(cube, y, **kwargs)
        row["ms_ssim_bands_win7"] = [float(v) for v in M.ms_ssim_bands(cube.data, y, cube.peak, win_size=7)]
        row["ssim_bands_win7"] = [float(v) for v in M.ssim_bands(cube.data, y, cube.peak, win_size=7,
                                                                 win_sigma=1.2)]
    return row


def _close(got: Any, want: Any) -> bool:
    if isinstance(want, list):
        return len(got) == len(want) and all(_close(g, w) for g, w in zip(got, want))
    if isinstance(want, float) or want is None:
        want = math.nan if want is None else want
        got = float(got)
        if math.isnan(want) or math.isinf(want):
            return (math.isnan(got) and math.isnan(want)) or got == want
        return abs(got - want) <= 1e-6 * max(1.0, abs(want))
    return got == want


@pytest.mark.parametrize("case", sorted(CASES))
def test_values_equal_the_stored_reference(case: str) -> None:
    reference = json.loads(REFERENCE.read_text(encoding="utf-8"))[case]
    factory, kwargs = CASES[case]
    got = _values(*factory(), kwargs)
    assert set(got) == set(reference)
    wrong = {k: (got[k], v) for k, v in reference.items() if not _close(got[k], v)}
    assert not wrong, wrong


if __name__ == "__main__":
    def _plain(v: Any) -> Any:
        if isinstance(v, list):
            return [_plain(u) for u in v]
        if isinstance(v, (float, np.floating)):
            return None if math.isnan(v) else float(v)
        if isinstance(v, np.bool_):
            return bool(v)
        return v

    out = {name: {k: _plain(v) for k, v in _values(*f(), kw).items()} for name, (f, kw) in CASES.items()}
    REFERENCE.write_text(json.dumps(out, indent=1, sort_keys=True, allow_nan=True) + "\n", encoding="utf-8")
    print(f"wrote {REFERENCE}")
