"""`hsbench run --ratios` then `hsbench report`: a real small run, its report and its overlays."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import rdcodecs  # noqa: F401  (registers the test codecs in this process)
from conftest import run_cli

pytest.importorskip("hsbench.metrics", reason="hsbench.metrics arrives with the metrics branch")


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory) -> Path:
    """Two real photographs (scikit-image's, shipped offline), cropped small."""
    import skimage.data
    from PIL import Image

    folder = tmp_path_factory.mktemp("imgs")
    Image.fromarray(skimage.data.astronaut()[120:216, 180:276]).save(folder / "astronaut.png")
    Image.fromarray(skimage.data.coffee()[150:246, 200:296]).save(folder / "coffee.png")
    return folder


@pytest.fixture(scope="module")
def run_dir(image_folder, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run") / "r"
    status = run_cli("run", "--codecs", "testquant,testquant-discrete,testquant-fixed", "--dataset",
                     f"folder:{image_folder}", "--ratios", "4,8,16", "--rate-tolerance", "0.03",
                     "--rate-max-iter", "12", "--repeat", "2", "--out", str(out), "--quiet", "--no-plots")
    assert status == 0
    return out


def test_rows_carry_targets_and_timing(run_dir):
    from hsbench.analysis import load_rows, rd_table

    df = load_rows(run_dir)
    quant = df[df["codec"] == "testquant"]
    assert sorted(quant["target"].unique()) == ["cr=16", "cr=4", "cr=8"]
    assert (quant["target_tolerance"] == 0.03).all() and (quant["target_max_iter"] == 12).all()
    reached = quant[quant["target_reached"] == True]  # noqa: E712
    assert len(reached) >= 5
    assert ((reached["cr"] / reached["target_value"] - 1).abs() <= 0.03 + 1e-9).all()
    assert (df["repeat"] == 2).all() and df["warmup"].all()
    assert (df[df["codec"] == "testquant-discrete"]["target_note"].str.contains("nearest of 4")).all()
    rd = rd_table(df)
    # one point per codec and target; the fixed codec has a single point
    assert len(rd[rd["codec"] == "testquant"]) == 3 and len(rd[rd["codec"] == "testquant-fixed"]) == 1


def test_report_contents(run_dir, tmp_path):
    from hsbench.analysis import load_rows, rd_table
    from hsbench.bdrate import bd_rate

    out = tmp_path / "rep"
    assert run_cli("report", str(run_dir), "--anchor", "testquant", "--baseline", "sscnet_virtis",
                   "--out", str(out)) == 0
    md = (out / "report.md").read_text()
    html = (out / "report.html").read_text()
    for section in ("Rate-distortion curves", "BD-rate against the anchor", "Target rates", "Timing", "Failures",
                    "Manifest", "Published baselines"):
        assert f"## {section}" in md and section in html
    assert "data:image/png;base64," in html  # self-contained
    assert list((out / "plots").glob("rd_psnr_*.png")) and list((out / "plots").glob("rd_sam_deg_*.png"))
    assert "sscnet_virtis" in md and "nominal" in md
    # the BD table in bd.csv is the one bdrate computes from the rd points
    bd = pd.read_csv(out / "bd.csv")
    row = bd[(bd["codec"] == "testquant-discrete") & (bd["metric"] == "PSNR")].iloc[0]
    rd = rd_table(load_rows(run_dir))
    a, t = rd[rd["codec"] == "testquant"], rd[rd["codec"] == "testquant-discrete"]
    expect = bd_rate(a["bpppc"], a["psnr"], t["bpppc"], t["psnr"]).value
    assert row["bd_rate_pct"] == pytest.approx(expect) and math.isfinite(expect)
    assert "off their rate target" in row["note"]  # discrete points rarely hit a target exactly
    assert f"{expect:+.2f} %" in md
    # CompressAI exports of each codec
    files = sorted(p.name for p in (out / "compressai").rglob("*.json"))
    assert files == ["testquant-discrete.json", "testquant-fixed.json", "testquant.json"]


def test_report_errors(run_dir, tmp_path, capsys):
    assert run_cli("report", str(run_dir), "--anchor", "nope", "--out", str(tmp_path / "x")) == 2
    assert "--anchor nope" in capsys.readouterr().err
    assert run_cli("report", str(tmp_path / "missing")) == 2
    assert "not an hsbench run folder" in capsys.readouterr().err
    assert run_cli("report", str(run_dir), "--baseline", "nosuch", "--out", str(tmp_path / "y")) == 2
    assert "unknown baseline" in capsys.readouterr().err


def test_plot_with_baseline_overlay(run_dir, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    assert run_cli("plot", str(run_dir), "--baseline", "sscnet_virtis", "--baseline", "hyspecnet11k",
                   "--out", str(tmp_path / "p")) == 0
    # the published PSNRs are normalised-domain ones: drawn on the psnr_norm figure, not on psnr's
    svg = next((tmp_path / "p").glob("rd_psnr_norm_*.svg")).read_text()
    assert "SSCNet conv (sscnet_virtis, nominal rate)" in svg and "HyCoT (hyspecnet11k, nominal rate)" in svg
    peak = next(p for p in (tmp_path / "p").glob("rd_psnr_*.svg") if "psnr_norm" not in p.name).read_text()
    assert "SSCNet conv (sscnet_virtis" not in peak and "HyCoT (hyspecnet11k" not in peak


def test_export_command_round_trips(run_dir, tmp_path, capsys):
    from hsbench.analysis import load_rows, rd_table
    from hsbench.export import load_compressai

    assert run_cli("export", str(run_dir), "--out", str(tmp_path / "x")) == 0
    paths = capsys.readouterr().out.split()
    path = next(p for p in paths if p.endswith("/testquant.json"))
    data = json.loads(Path(path).read_text())
    assert data["bands"] == 3 and len(data["results"]["psnr-rgb"]) == 3
    curve = load_compressai(path)
    rd = rd_table(load_rows(run_dir))
    mine = rd[rd["codec"] == "testquant"].sort_values("bpppc")
    np.testing.assert_allclose(curve.points["bpppc"], mine["bpppc"])
    np.testing.assert_allclose(curve.points["psnr"], mine["psnr"])
    np.testing.assert_allclose(curve.points["bpp"], 3 * mine["bpppc"])
    # and such a file overlays as a reference curve
    import matplotlib

    matplotlib.use("Agg")
    assert run_cli("plot", str(run_dir), "--reference", path, "--out", str(tmp_path / "p")) == 0
    svg = next((tmp_path / "p").glob("rd_psnr_*.svg")).read_text()
    assert "testquant (reference)" in svg
