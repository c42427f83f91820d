"""Rate-distortion tables on the common image set, their flags, rd.md, and overlays of different image sets."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from conftest import run_cli
from hsbench.analysis import image_set_notes, model_name, overlay_labels, rd_table, write_tables
from hsbench.bdrate import bd_table

CKPT = "/root/.cache/hsbench/models/sscnet-3f2a9c1d0b7e4a21.pt"


def _rows(fail: dict[tuple[str, str], bool] | None = None) -> pd.DataFrame:
    """Two codecs x 3 rate points x 3 images; image i3 is much harder (high rate, low PSNR)."""
    fail = fail or {}
    rows = []
    for codec, offset in (("anchor", 0.0), ("test", 1.5)):
        for q in (1, 2, 3):
            for img, (rate_scale, psnr_shift) in {"i1": (1.0, 0.0), "i2": (1.2, -1.0), "i3": (4.0, -12.0)}.items():
                bpppc = 0.25 * 2 ** q * rate_scale
                ok = not fail.get((codec, img), False)
                rows.append({
                    "key": f"{codec}{q}{img}", "dataset": "d", "codec": codec,
                    "params": json.dumps({"q": q, "checkpoint": CKPT}), "image": img,
                    "status": "ok" if ok else "failed", "bpppc": bpppc if ok else np.nan,
                    "psnr": 30 + 6 * np.log2(bpppc) + psnr_shift + offset if ok else np.nan,
                    "max_abs_error": 3.0 if ok else np.nan, "error": "" if ok else "ValueError: no",
                })
    return pd.DataFrame(rows)


def test_points_and_bd_rate_are_on_the_images_every_codec_finished():
    df = _rows({("test", "i3"): True})
    rd = rd_table(df)
    assert set(rd["images"]) == {2}  # i3 is dropped for both codecs, not only for the one that failed
    anchor = rd[rd["codec"] == "anchor"].sort_values("bpppc")
    assert anchor["bpppc"].tolist() == pytest.approx([0.25 * 2 ** q * 1.1 for q in (1, 2, 3)])
    assert rd.set_index("codec")["images_finished"].to_dict() == {"anchor": 3, "test": 2}
    assert rd.groupby("codec")["images_incomplete"].all().to_dict() == {"anchor": False, "test": True}
    # the BD-rate equals the one of a run that had only the common images
    common = _rows()
    common = common[common["image"] != "i3"]
    got = bd_table(rd, "anchor", ["psnr"])
    want = bd_table(rd_table(common), "anchor", ["psnr"])
    assert got["bd_rate_pct"].tolist() == pytest.approx(want["bd_rate_pct"].tolist())
    assert not np.isnan(got["bd_rate_pct"]).any()


def test_a_metric_missing_on_one_image_is_missing_for_the_point():
    df = _rows()
    df.loc[(df["codec"] == "test") & (df["image"] == "i2"), "psnr"] = np.nan
    rd = rd_table(df)
    assert rd.loc[rd["codec"] == "test", "psnr"].isna().all()  # not a mean over the other two images
    assert rd.loc[rd["codec"] == "test", "bpppc"].notna().all()


def test_the_model_estimate_of_the_rate_is_averaged_beside_the_real_rate():
    df = _rows()
    learned = df["codec"] == "test"
    df.loc[learned, "estimated_bpppc"] = df.loc[learned, "bpppc"] * 0.9
    rd = rd_table(df).set_index("codec")
    assert list(rd.columns[list(rd.columns).index("bpppc"):][:2]) == ["bpppc", "estimated_bpppc"]
    assert rd.loc["test", "estimated_bpppc"].tolist() == pytest.approx((rd.loc["test", "bpppc"] * 0.9).tolist())
    assert rd.loc["anchor", "estimated_bpppc"].isna().all()  # a classical codec has no estimate
    assert "estimated_bpppc" not in rd_table(_rows())


def test_rd_md_flags_incomplete_points_and_names_the_model_not_its_path(tmp_path):
    df = _rows({("test", "i3"): True})
    write_tables(df, tmp_path)
    md = (tmp_path / "rd.md").read_text()
    assert "/root/.cache" not in md and "sscnet-3f2a9c1d0b7e4a21" in md
    assert "averaged over the 2 image(s) that all points finished, of 3" in md and "test(q=1) lacks i3" in md
    header = next(line for line in md.splitlines() if line.startswith("| dataset"))
    assert "images_incomplete" in header and "| params |" not in header
    assert json.loads(pd.read_csv(tmp_path / "rd.csv")["params"][0])["checkpoint"] == CKPT
    assert image_set_notes(_rows()) == []
    assert model_name(json.dumps({"checkpoint": CKPT})) == "sscnet-3f2a9c1d0b7e4a21"
    assert model_name(json.dumps({"q": 1})) == ""


def test_overlaying_runs_over_different_images_says_so(plugin, images, tmp_path, capsys):
    labels, notes = overlay_labels([("r1", _rows()), ("r2", _rows({("anchor", "i1"): True}))])
    assert labels == ["r1 (3 images; other images than the other runs)",
                      "r2 (2 images; other images than the other runs)"]
    assert len(notes) == 1 and "different images" in notes[0]
    assert overlay_labels([("r1", _rows()), ("r2", _rows())]) == (["r1", "r2"], [])

    full, part = tmp_path / "full", tmp_path / "part"
    assert run_cli("run", "--codecs", "testraw", "--dataset", f"folder:{images}", "--out", str(full),
                   "--quiet", "--no-plots") == 0
    assert run_cli("run", "--codecs", "testraw", "--dataset", f"folder:{images}", "--max-images", "2",
                   "--out", str(part), "--quiet", "--no-plots") == 0
    capsys.readouterr()
    assert run_cli("plot", str(full), str(part), "--out", str(tmp_path / "overlay")) == 0
    err = capsys.readouterr().err
    assert "curves are over different images (full: 4, part: 2 images)" in err
