"""`hsbench run` per-file reading options: --bit-depth, --key, --layout, --dtype, with --bands; recorded in rows."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

import rdcodecs  # noqa: F401  (registers the test codecs in this process)
from conftest import run_cli


def _smooth(shape: tuple[int, int, int], hi: int, seed: int = 0) -> np.ndarray:
    from scipy import ndimage

    a = ndimage.gaussian_filter(np.random.default_rng(seed).random(shape), (0, 3, 3))
    return np.rint((a - a.min()) / (a.max() - a.min()) * hi)


def _last_row(out: Path) -> dict:
    return [json.loads(line) for line in (out / "rows.jsonl").read_text().splitlines()][-1]


def test_bit_depth_sets_the_peak_and_is_recorded(tmp_path):
    """12-bit samples in uint16: --bit-depth 12 scores them with peak 4095, not 65535."""
    np.save(tmp_path / "scene.npy", _smooth((4, 40, 44), 4000).astype(np.uint16))
    rows = {}
    for depth in (None, 12):
        out = tmp_path / f"run{depth}"
        extra = ["--bit-depth", str(depth)] if depth else []
        assert run_cli("run", "--dataset", str(tmp_path / "scene.npy"), "--codecs", "testquant", "--param",
                       "step=8", *extra, "--out", str(out), "--quiet", "--no-plots") == 0
        rows[depth] = _last_row(out)
    assert rows[None]["bit_depth"] == 16 and rows[None]["peak"] == 65535
    assert rows[12]["bit_depth"] == 12 and rows[12]["peak"] == 4095
    assert json.loads(rows[12]["dataset_options"]) == {"bit_depth": "12"}
    # the same reconstruction error (the quantiser does not depend on the depth): PSNR moves by the peak ratio
    assert rows[12]["mse"] == pytest.approx(rows[None]["mse"], rel=1e-12)
    assert rows[None]["psnr"] - rows[12]["psnr"] == pytest.approx(20 * math.log10(65535 / 4095), abs=1e-9)
    assert rows[12]["cr"] == pytest.approx(rows[None]["cr"] * 12 / 16, rel=1e-12)


def test_mat_key_dtype_and_bands_are_applied_and_recorded(tmp_path):
    import scipy.io

    signed = _smooth((30, 34, 6), 3000, seed=1) - 1500  # rows x cols x bands, signed integers stored as double
    scipy.io.savemat(tmp_path / "scene.mat", {"radiance": signed, "mask": np.ones((30, 34, 2))})
    out = tmp_path / "run"
    assert run_cli("run", "--dataset", f"file:{tmp_path / 'scene.mat'}", "--key", "radiance", "--dtype", "int16",
                   "--bit-depth", "12", "--bands", "1:5", "--codecs", "jpeg2000", "--param", "ratio=8",
                   "--out", str(out), "--quiet", "--no-plots") == 0
    row = _last_row(out)
    assert row["status"] == "ok", row.get("error")
    assert row["signed"] is True and row["bit_depth"] == 12 and row["bands"] == 4 and row["peak"] == 4095
    assert json.loads(row["dataset_options"]) == {"bands": "1:5", "bit_depth": "12", "dtype": "int16",
                                                  "key": "radiance"}
    assert json.loads((out / "manifest.json").read_text())["options"]["dataset_options"]["key"] == "radiance"


def test_reader_option_errors_say_what_to_do(tmp_path, images, capsys):
    assert run_cli("run", "--dataset", f"folder:{images}", "--key", "x", "--codecs", "testquant",
                   "--out", str(tmp_path / "a"), "--quiet") == 2
    err = capsys.readouterr().err
    assert "reader option(s) key do not apply to .png files (key: .mat files)" in err
    assert run_cli("run", "--dataset", f"folder:{images}", "--dtype", "float32", "--codecs", "testquant",
                   "--out", str(tmp_path / "b"), "--quiet") == 2
    assert "dtype must be an integer sample type" in capsys.readouterr().err
    assert run_cli("run", "--dataset", "samples", "--bit-depth", "12", "--codecs", "testquant",
                   "--out", str(tmp_path / "c"), "--quiet") == 2
    assert "apply to folder:PATH / file:PATH specs" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        run_cli("run", "--layout", "whb")


def test_run_help_names_file_and_bare_path_forms(capsys):
    with pytest.raises(SystemExit):
        run_cli("run", "--help")
    text = " ".join(capsys.readouterr().out.split())
    assert "folder:PATH" in text and "file:PATH or a bare path to one image file" in text
    for option in ("--bit-depth N", "--key NAME", "--layout {hwb,bhw}", "--dtype TYPE", "--bands BANDS"):
        assert option in text
