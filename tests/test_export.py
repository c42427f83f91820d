"""CompressAI results JSON: export, import, round trip; published baselines load."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hsbench.errors import HsbenchError
from hsbench.export import load_compressai, load_references, to_compressai

RESULTS = Path(__file__).resolve().parents[1] / "results"


def _points():
    return pd.DataFrame({
        "bpppc": [1.0, 0.25, 0.5], "bpp": [3.0, 0.75, 1.5], "cr": [8.0, 32.0, 16.0],
        "psnr": [38.0, 30.0, 34.0], "ms_ssim": [0.99, 0.95, 0.975], "ms_ssim_db": [20.0, 13.0103, 16.0206],
        "sam_deg": [1.0, 3.0, 2.0], "label": ["a", "b", "c"],
    })


def test_round_trip(tmp_path):
    data = to_compressai(_points(), "mycodec", "three points", bands=3)
    assert set(data) == {"name", "description", "results", "bands"}
    r = data["results"]
    assert r["bpppc"] == [0.25, 0.5, 1.0]  # sorted by rate
    assert r["psnr-rgb"] == r["psnr"] == [30.0, 34.0, 38.0] and r["ms-ssim-rgb"] == [0.95, 0.975, 0.99]
    path = tmp_path / "mycodec.json"
    path.write_text(json.dumps(data))
    curve = load_compressai(path)
    assert curve.name == "mycodec" and curve.description == "three points"
    for col in ("bpppc", "bpp", "cr", "psnr", "ms_ssim", "ms_ssim_db", "sam_deg"):
        np.testing.assert_allclose(curve.points[col], sorted(_points()[col], reverse=col in ("cr", "sam_deg")))
    [(label, pts)] = curve.curves("psnr")
    assert label == "mycodec (reference)" and list(pts.columns) == ["bpppc", "bpp", "psnr"]
    assert curve.bands == 3  # from the file's "bands" (RGB keys imply 3 as well)


def test_import_a_compressai_file(tmp_path):
    # the layout of CompressAI's results/image/kodak/*.json: bpp over RGB, psnr-rgb, ms-ssim-rgb
    path = tmp_path / "bmshj.json"
    path.write_text(json.dumps({"name": "bmshj2018-factorized", "description": "Kodak",
                                "results": {"psnr-rgb": [27.0, 30.5], "ms-ssim-rgb": [0.9, 0.99], "bpp": [0.3, 0.9]}}))
    curve = load_compressai(path)
    np.testing.assert_allclose(curve.points["bpppc"], [0.1, 0.3])  # 3 channels
    np.testing.assert_allclose(curve.points["ms_ssim_db"], [10.0, 20.0])  # -10 log10(1 - MS-SSIM)
    assert curve.curves("sam_deg") == []


def test_import_errors(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"name": "x", "results": {"bpp": [1, 2], "psnr": [30]}}))
    with pytest.raises(HsbenchError, match="different lengths"):
        load_compressai(bad)
    bad.write_text(json.dumps({"name": "x", "results": {"bpp": [1, 2], "psnr": [30, 31]}}))
    with pytest.raises(HsbenchError, match="band count"):
        load_compressai(bad)
    assert load_compressai(bad, bands=4).points["bpppc"].tolist() == [0.25, 0.5]
    bad.write_text("[1, 2]")
    with pytest.raises(HsbenchError, match="CompressAI results layout"):
        load_compressai(bad)


def test_lossless_points_become_null():
    pts = pd.DataFrame({"bpppc": [4.0], "psnr": [math.inf], "sam_deg": [0.0]})
    assert to_compressai(pts, "raw")["results"]["psnr"] == [None]


def test_baselines_ship_and_load():
    from hsbench.baselines import list_baselines, load_baseline

    assert list_baselines() == ["hyspecnet11k", "kodak_bmshj2018", "sscnet_lombardia", "sscnet_virtis"]
    lomb = load_baseline("sscnet_lombardia")
    assert "Remote Sensing 14(10):2472" in lomb.meta["citation"] and "nominal" in lomb.meta["rate_convention"]
    curves = dict(lomb.curves("psnr_norm_global_per_band"))
    # Table 4: mean over the nine bands; SSCNet at 20:1 nominal = 16 / 20 bpppc
    sscnet = curves["SSCNet (sscnet_lombardia, nominal rate)"]
    assert sscnet["bpppc"].tolist() == [0.8]
    assert sscnet["psnr_norm_global_per_band"].iloc[0] == pytest.approx(np.mean(
        [48.440, 49.709, 49.783, 51.318, 49.569, 48.542, 44.527, 51.043, 50.876]))
    virtis = load_baseline("sscnet_virtis")
    conv = dict(virtis.curves("psnr_norm"))["SSCNet conv (sscnet_virtis, nominal rate)"]
    assert conv["psnr_norm"].tolist() == [66.79, 67.677] and conv["bpppc"].iloc[1] == pytest.approx(32 / 7)
    hy = load_baseline("hyspecnet11k")
    assert hy.applies("hyspecnet-11k") and not hy.applies("synthetic-hsi")
    assert len(hy.table) == 16 and set(hy.table["rate_convention"]) == {"nominal"}
    with pytest.raises(HsbenchError, match="unknown baseline"):
        load_baseline("nope")


def test_reference_folder_overlays_every_compressai_json(tmp_path, capsys):
    from hsbench.cli import main

    run, ref = tmp_path / "run", tmp_path / "ref"
    assert main(["run", "--codecs", "jpeg", "--dataset", "samples", "--max-images", "1", "--crop", "64x64",
                 "--param", "quality=30,60,90", "--out", str(run), "--quiet", "--no-plots"]) == 0
    assert main(["export", str(run), "--out", str(ref)]) == 0
    (ref / "manifest.json").write_text((run / "manifest.json").read_text())  # not CompressAI: left out
    [curve] = load_references(ref)
    assert curve.name == "jpeg" and len(curve.points) == 3 and curve.bands == 3
    assert [c.name for c in load_references(ref / "samples" / "jpeg.json")] == ["jpeg"]  # a file still works
    capsys.readouterr()
    assert main(["plot", str(run), "--reference", str(ref), "--out", str(tmp_path / "plots")]) == 0
    assert list((tmp_path / "plots").glob("*.png"))

    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "manifest.json").write_text("{}")
    with pytest.raises(HsbenchError, match="holds no CompressAI-style JSON"):
        load_references(empty)
    assert main(["plot", str(run), "--reference", str(empty)]) == 2
    assert "holds no CompressAI-style JSON" in capsys.readouterr().err
    with pytest.raises(HsbenchError, match="no such file or folder"):
        load_references(tmp_path / "missing")


def test_committed_reference_results_are_consistent():
    """results/ (benchmarks/make_results.py): each dataset folder has its tables, manifest and curves."""
    from hsbench.codecs.registry import codec_names

    folders = sorted(p for p in RESULTS.iterdir() if p.is_dir())
    assert {p.name for p in folders} >= {"kodak", "synthetic-hsi", "indian-pines-simulated"}
    names = set(codec_names())
    for folder in folders:
        for f in ("rd.csv", "rd.md", "timing.md", "manifest.json", "run.md"):
            assert (folder / f).is_file(), f"{folder.name}/{f} missing"
        assert json.loads((folder / "manifest.json").read_text())["command"]
        rd = pd.read_csv(folder / "rd.csv")
        assert not rd.empty and set(rd["codec"]) <= names
        curves = load_references(folder)
        assert curves and {c.name for c in curves} <= names
        assert {c.name for c in curves} == set(rd["codec"])
        assert list((folder / "plots").glob("*.png"))
        # portable_paths(): a model is named inside the repository, not by one machine's absolute path
        checkpoints = [json.loads(p).get("checkpoint") for p in rd["params"]]
        assert not [c for c in checkpoints if c and Path(c).is_absolute()], folder.name
        assert "--data-root /" not in (folder / "run.md").read_text(encoding="utf-8")
    size = sum(f.stat().st_size for f in RESULTS.rglob("*") if f.is_file())
    assert size < 3_000_000, f"results/ holds {size} bytes; keep it under 3 MB"
