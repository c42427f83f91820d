"""The runner: grid, rows, failure isolation, resume after a kill, process pool, outputs."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO, run_cli
from hsbench.analysis import load_rows, rd_table
from hsbench.runner import execute_plan, plan_run


def _lines(run: Path) -> list[dict]:
    return [json.loads(l) for l in (run / "rows.jsonl").read_text().splitlines()]


def test_grid_rows_and_tables(plugin, images, tmp_path):
    out = tmp_path / "run"
    plan = plan_run(["testraw"], [f"folder:{images}"], out)
    assert len(plan.jobs) == 2 * 4  # default sweep level=1,2 x 4 images
    summary = execute_plan(plan, progress=False)
    assert summary.ok == 8 and not summary.failed and summary.exit_status == 0
    df = load_rows(out)
    assert len(df) == 8 and set(df["status"]) == {"ok"}
    row = df.iloc[0]
    assert row["exact"] and row["bytes"] > 3 * 40 * 48
    assert row["bpppc"] == pytest.approx(8 * row["bytes"] / (3 * 40 * 48))
    assert len(row["image_sha256"]) == 64 and row["kind"] == "lossless"
    rd = rd_table(df)
    assert len(rd) == 2 and set(rd["images"]) == {4}


def test_failing_job_is_isolated(plugin, images, tmp_path):
    out = tmp_path / "run"
    plan = plan_run(["testraw"], [f"folder:{images}"], out, params=["fail_on=img2", "level=1"])
    summary = execute_plan(plan, progress=False)
    assert summary.ok == 3 and len(summary.failed) == 1 and summary.exit_status == 1
    bad = summary.failed[0]
    assert bad["image"] == "img2" and "told to fail on img2" in bad["error"]


def test_rerun_skips_finished_jobs(plugin, images, tmp_path):
    out = tmp_path / "run"
    plan = plan_run(["testraw"], [f"folder:{images}"], out)
    execute_plan(plan, progress=False)
    before = (out / "rows.jsonl").read_text()
    again = execute_plan(plan_run(["testraw"], [f"folder:{images}"], out), progress=False)
    assert again.skipped == again.total == 8 and again.ok == 0
    assert (out / "rows.jsonl").read_text() == before


def test_kill_and_resume(plugin, images, tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "hsbench", "run", "--codecs", "testraw", "--dataset", f"folder:{images}",
           "--param", "sleep=0.4", "--param", "level=1,2,3", "--out", str(out), "--quiet", "--no-plots"]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=os.environ.copy())
    deadline = time.time() + 60
    while time.time() < deadline:
        if (out / "rows.jsonl").exists() and len(_lines(out)) >= 3:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    first = _lines(out)
    assert 3 <= len(first) < 12, "the run should have been killed part-way"
    done_keys = {r["key"] for r in first}
    rc = subprocess.run(cmd[:-2] + ["--quiet"], cwd=REPO, env=os.environ.copy(), capture_output=True).returncode
    assert rc == 0
    rows = _lines(out)
    keys = [r["key"] for r in rows]
    assert len(set(keys)) == 12 == len(keys), "no finished job recomputed, no duplicate row"
    assert done_keys <= set(keys[: len(first)])
    df = load_rows(out)
    assert len(df) == 12 and df["key"].is_unique
    assert (out / "rows.csv").exists() and (out / "rd.csv").exists()


def test_process_pool_matches_serial_and_survives_a_dying_worker(plugin, images, tmp_path):
    serial = tmp_path / "serial"
    pool = tmp_path / "pool"
    execute_plan(plan_run(["testraw"], [f"folder:{images}"], serial), progress=False)
    execute_plan(plan_run(["testraw"], [f"folder:{images}"], pool), workers=2, progress=False)
    a, b = load_rows(serial), load_rows(pool)
    cols = ["key", "bytes", "mse", "image_sha256"]
    pd_a = a[cols].sort_values("key").reset_index(drop=True)
    pd_b = b[cols].sort_values("key").reset_index(drop=True)
    assert pd_a.equals(pd_b)
    assert b["pid"].nunique() >= 1

    crash = tmp_path / "crash"
    summary = execute_plan(
        plan_run(["testraw"], [f"folder:{images}"], crash, params=["crash_on=img1", "level=1"]),
        workers=2, progress=False,
    )
    assert summary.ok == 3
    assert [r["image"] for r in summary.failed] == ["img1"]
    assert "WorkerDied" in summary.failed[0]["error"]


def test_cli_end_to_end_outputs_and_plot_overlay(plugin, images, tmp_path):
    out1, out2 = tmp_path / "r1", tmp_path / "r2"
    assert run_cli("run", "--codecs", "testraw", "--dataset", f"folder:{images}", "--out", str(out1), "--quiet") == 0
    assert run_cli("run", "--codecs", "testraw", "--dataset", f"folder:{images}", "--param", "level=5",
                   "--out", str(out2), "--quiet") == 0
    for name in ("rows.jsonl", "rows.csv", "rd.csv", "rd.md", "timing.csv", "timing.md", "manifest.json"):
        assert (out1 / name).is_file(), name
    for metric in ("psnr", "ssim", "sam_deg"):
        # lossless: PSNR is infinite, drawn on the figure's "lossless" row; SSIM and SAM are finite
        assert (out1 / "plots" / f"rd_{metric}_folder_imgs.svg").exists()
    assert "lossless" in (out1 / "plots" / "rd_psnr_folder_imgs.svg").read_text()
    manifest = json.loads((out1 / "manifest.json").read_text())
    assert manifest["command"][:2] == ["hsbench", "run"]
    assert set(manifest["image_sha256"]["folder:imgs"]) == {"img0", "img1", "img2", "img3"}
    assert manifest["machine"]["cpu_count"] >= 1 and "numpy" in manifest["libraries"]
    overlay = tmp_path / "overlay"
    assert run_cli("plot", str(out1), str(out2), "--out", str(overlay)) == 0
    assert (overlay / "rd_ssim_folder_imgs.png").exists()


def test_after_first_row_is_called_once_when_the_first_row_is_in(plugin, images, tmp_path):
    out = tmp_path / "run"
    seen: list[int] = []
    plan = plan_run(["testraw"], [f"folder:{images}"], out, params=["level=1"])
    execute_plan(plan, progress=False, after_first_row=lambda: seen.append(len(_lines(out))))
    assert seen == [1]
    execute_plan(plan, progress=False, after_first_row=lambda: seen.append(-1))  # nothing left to run
    assert seen == [1]


def test_classical_run_imports_no_torch_and_prefetches_the_plot_libraries(images, tmp_path):
    """A run without a learned codec never imports torch; matplotlib comes in (in the background) for
    the plots, and not at all with --no-plots."""
    code = (
        "import sys; from hsbench.cli import main; "
        f"rc = main(['run', '--codecs', 'jpeg2000', '--dataset', 'folder:{images}', '--param', 'ratio=8', "
        f"'--out', sys.argv[1], '--quiet'] + sys.argv[2:]); "
        "print('RC', rc, 'torch' in sys.modules, 'matplotlib.figure' in sys.modules)"
    )
    for extra, plots in (([], True), (["--no-plots"], False)):
        out = subprocess.run([sys.executable, "-c", code, str(tmp_path / f"run{plots}"), *extra],
                             capture_output=True, text=True, check=True).stdout
        assert f"RC 0 False {plots}" in out, out


def test_cli_reports_failures_with_nonzero_status(plugin, images, tmp_path, capsys):
    (images / "broken.png").write_bytes((images / "img0.png").read_bytes()[:100])
    out = tmp_path / "run"
    rc = run_cli("run", "--codecs", "testraw", "--dataset", f"folder:{images}", "--param", "level=1",
                 "--out", str(out), "--quiet")
    assert rc == 1
    err = capsys.readouterr().err
    assert "1 failed" in err and "broken" in err and "truncated or corrupt" in err
    assert (out / "failures.csv").exists()


def test_bad_arguments_give_clear_errors(plugin, images, tmp_path, capsys):
    assert run_cli("run", "--codecs", "testraw", "--dataset", f"folder:{images}", "--param", "nosuch=1") == 2
    assert "no codec in this run has a parameter 'nosuch'" in capsys.readouterr().err
    assert run_cli("run", "--codecs", "nocodec", "--dataset", f"folder:{images}") == 2
    assert "unknown codec 'nocodec'" in capsys.readouterr().err
    assert run_cli("run", "--codecs", "testraw", "--dataset", "nodata") == 2
    assert "unknown dataset 'nodata'" in capsys.readouterr().err


def test_dying_worker_among_many_jobs(plugin, images, tmp_path):
    """Only the job that kills its worker fails; jobs queued behind it all complete."""
    out = tmp_path / "crash-many"
    summary = execute_plan(
        plan_run(["testraw"], [f"folder:{images}"], out, params=["crash_on=img0", "level=1,2,3"]),
        workers=2, progress=False,
    )
    assert summary.ok == 9
    assert sorted(r["image"] for r in summary.failed) == ["img0"] * 3
    assert load_rows(out)["key"].is_unique


def test_constant_float_image_runs_with_peak_metrics_left_empty(tmp_path):
    """A constant float image (value range (v, v)) codes with jpeg and jpeg2000 and its jobs succeed;
    PSNR / SSIM have no peak and are left empty with the reason in the row."""
    folder = tmp_path / "const"
    folder.mkdir()
    np.save(folder / "flat.npy", np.full((2, 24, 24), 0.75, np.float32))
    out = tmp_path / "out"
    assert run_cli("run", "--codecs", "jpeg,jpeg2000", "--dataset", f"folder:{folder}",
                   "--param", "jpeg.quality=50", "--param", "jpeg2000.ratio=8", "--out", str(out),
                   "--quiet", "--no-plots") == 0
    rows = [json.loads(line) for line in (out / "rows.jsonl").read_text().splitlines()]
    assert {r["codec"] for r in rows} == {"jpeg", "jpeg2000"}
    for r in rows:
        assert r["status"] == "ok", r["error"]
        assert r["psnr"] in (None, "nan") or r["psnr"] != r["psnr"]  # empty (NaN), never a number
        assert "constant image" in r["ms_ssim_note"]


def test_a_jobs_key_counts_its_checkpoint_by_content_not_path(tmp_path):
    """The same model at another install path is the same job; a model retrained into the same
    file is a new one (a resumed run must not keep rows of superseded weights)."""
    import os

    from hsbench.datasets import DatasetRef
    from hsbench.jobs import Job

    a, b = tmp_path / "a.pt", tmp_path / "elsewhere" / "a.pt"
    b.parent.mkdir()
    a.write_bytes(b"weights-1")
    b.write_bytes(b"weights-1")
    ref = DatasetRef("samples", str(tmp_path))

    def key(path) -> str:
        return Job("hyperprior", (("checkpoint", str(path)), ("lmbda", 0.013)), ref, "img0").key

    assert key(a) == key(b)
    first = key(a)
    a.write_bytes(b"weights-2")
    os.utime(a, ns=(1, 1))  # a new modification time, as retraining gives
    assert key(a) != first and key(a) != key(b)
    assert key(tmp_path / "missing.pt") != key(a)  # a path that names no file keys by the path
