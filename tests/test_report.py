"""`hsbench run --ratios` then `hsbench report`: a real small run, its report and its overlays."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
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
    """Hyperspectral baselines (per-channel rates) are drawn on bpppc figures, never mis-scaled into bpp."""
    import matplotlib

    from hsbench.analysis import load_rows, rd_table
    from hsbench.baselines import load_baseline
    from hsbench.plotting import plot_rd

    matplotlib.use("Agg")
    with pytest.warns(UserWarning, match="not drawn on the bpp .* SSCNet conv \\(sscnet_virtis, nominal rate\\)"):
        assert run_cli("plot", str(run_dir), "--baseline", "sscnet_virtis", "--baseline", "hyspecnet11k",
                       "--out", str(tmp_path / "p")) == 0
    svg = next(p for p in (tmp_path / "p").glob("rd_psnr_*.svg") if "psnr_norm" not in p.name).read_text()
    assert "testquant" in svg and "sscnet_virtis" not in svg
    # the same run's points as 1-band data (bpp = bpppc): bpppc figures; the published PSNRs are
    # normalised-domain ones, so they are drawn on the psnr_norm figure and not on psnr's
    rd = rd_table(load_rows(run_dir)).assign(bpp=lambda t: t["bpppc"])
    files = plot_rd([("r", rd)], tmp_path / "q", metrics=("psnr", "psnr_norm"), formats=("svg",),
                    overlays=[load_baseline("sscnet_virtis"), load_baseline("hyspecnet11k")])
    norm = next(f for f in files if "psnr_norm" in f.name).read_text()
    assert "SSCNet conv (sscnet_virtis, nominal rate)" in norm and "HyCoT (hyspecnet11k, nominal rate)" in norm
    assert "bits per pixel per channel" in norm
    peak = next(f for f in files if "psnr_norm" not in f.name).read_text()
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


# -- the HTML page -------------------------------------------------------------------------------------


def test_inline_markdown_renders_code_bold_links_and_escapes_the_rest():
    from hsbench.report import inline_markdown

    assert inline_markdown("Run folder `runs/a<b>`: **2** jobs, see [docs](docs/x.md).") == (
        'Run folder <code>runs/a&lt;b&gt;</code>: <strong>2</strong> jobs, see <a href="docs/x.md">docs</a>.')
    assert inline_markdown("a < b & `c`") == "a &lt; b &amp; <code>c</code>"
    assert inline_markdown("an odd ` backtick stays") == "an odd ` backtick stays"


def test_report_html_is_rendered_ordered_and_offline(run_dir, tmp_path):
    import re

    from hsbench.report import write_report

    result = write_report(run_dir, tmp_path / "rep", anchor="testquant")
    page = result["html"].read_text()
    body = re.sub(r"<pre>.*?</pre>|<script.*?</script>", "", page, flags=re.S)
    assert "`" not in body, "prose must be rendered, not shown as Markdown"
    assert "<code>" in body
    # figures: PSNR first, each with a caption in words and an interactive twin
    titles = re.findall(r'<img src="data:image/png;base64,[^"]+" alt="([^"]+)"', page)
    # (96-px crops: MS-SSIM is undefined, so its figures are absent)
    assert [t.split(": ", 1)[1] for t in titles] == ["PSNR against rate", "normalised PSNR against rate",
                                                       "spectral angle against rate", "SSIM against rate"]
    assert page.count('class="rdplot"') == len(titles) == len(result["plots"]) // 2
    assert "ms_ssim_db" not in " ".join(titles) and "sam_deg" not in " ".join(titles)
    # plotly.js is inside the page: no script or stylesheet from the network
    assert not re.search(r"<script[^>]+src=|<link[^>]+href=\"https?:", page)
    assert "Plotly.newPlot" in page and len(page) > 3_000_000
    # the BD table: one row per codec, metrics side by side
    assert "<th>PSNR BD-rate</th><th>PSNR BD-quality</th>" in page


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
#: Flags for a headless, offline, throw-away Chromium.
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
                  "--enable-logging=stderr", "--v=0", "--virtual-time-budget=20000")


def _chromium(page: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / f"chromium-profile-{len(list(tmp_path.glob('chromium-profile-*')))}"
    return subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args, page.as_uri()],
                          capture_output=True, text=True, timeout=180)


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed, so report.html was NOT checked "
                    "in a browser (Debian: apt-get install -y chromium)")
def test_report_loads_in_headless_chromium_without_console_messages(run_dir, tmp_path):
    from PIL import Image

    from hsbench.plotting import codec_style
    from hsbench.report import write_report

    page = write_report(run_dir, tmp_path / "rep", anchor="testquant")["html"]
    n_plots = page.read_text().count('class="rdplot"')
    dom = _chromium(page, tmp_path, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    console = [line for line in dom.stderr.splitlines() if "CONSOLE" in line]
    assert not console, console  # no error, warning or log of the page or plotly.js
    # plotly drew every interactive figure (its SVG root appears inside each div)
    assert dom.stdout.count('class="main-svg"') >= n_plots > 0
    assert dom.stdout.count('class="plot-container plotly"') == n_plots

    shot = tmp_path / "shot.png"
    run = _chromium(page, tmp_path, f"--screenshot={shot}", "--window-size=1400,1300")
    assert run.returncode == 0 and shot.exists(), run.stderr[-2000:]
    assert not [line for line in run.stderr.splitlines() if "CONSOLE" in line]
    pixels = np.asarray(Image.open(shot).convert("RGB"), dtype=np.int32)
    assert pixels.shape[:2] == (1300, 1400)
    assert pixels.std() > 20, "the screenshot is blank"
    # the first figures are in view, static and interactive: the anchor codec's colour covers many pixels
    # in both halves of the page
    color = np.array([int(codec_style("testquant").color[i:i + 2], 16) for i in (1, 3, 5)])
    near = (np.abs(pixels - color).sum(axis=2) < 40)
    left, right = near[:, :700].sum(), near[:, 700:].sum()
    assert left > 150 and right > 150, (left, right)
