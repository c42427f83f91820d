"""The suite's offline data (``HSBENCH_DATA``): found, skipped when missing, failed when missing under CI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import KODAK_IMAGES, REPO, data_root

NEEDS_DATA = '''
from conftest import require_data

def test_kodak(kodak):
    assert (kodak / "kodim24.png").is_file()

def test_cube(indian_pines_mat):
    assert indian_pines_mat.name == "simu_indian.mat"

def test_one_image():
    assert require_data("kodak", "kodim05.png").is_file()

def test_root(shared_data):
    assert shared_data.is_dir()
'''


def _pytest(folder: Path, data: Path, ci: str | None) -> subprocess.CompletedProcess[str]:
    """Run the four data tests above in a fresh pytest with ``HSBENCH_DATA=data`` (and ``CI=ci``)."""
    (folder / "test_needs_data.py").write_text(NEEDS_DATA)
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "HSBENCH_DATA")}
    env.update(HSBENCH_DATA=str(data), PYTHONPATH=os.pathsep.join([str(REPO / "tests"), str(REPO)]))
    if ci is not None:
        env["CI"] = ci
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "conftest", "-p", "no:cacheprovider", "-rsf", "-q",
                           str(folder / "test_needs_data.py")], cwd=folder, env=env, capture_output=True, text=True,
                          timeout=120)


def test_data_root_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HSBENCH_DATA", str(tmp_path))
    assert data_root() == tmp_path
    monkeypatch.delenv("HSBENCH_DATA")
    assert data_root() == REPO.parent / "shared" / "datasets"


def test_missing_data_skips_with_the_path_and_the_variable(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    for ci in (None, "false"):
        result = _pytest(tmp_path, empty, ci)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "1 passed, 3 skipped" in result.stdout and "failed" not in result.stdout  # the root exists
        assert f"test data not found: {empty / 'kodak' / 'kodim01.png'}" in result.stdout
        assert "set HSBENCH_DATA" in result.stdout


def test_missing_data_fails_under_ci(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = _pytest(tmp_path, empty / "nowhere", "true")
    assert result.returncode == 1, result.stdout + result.stderr
    # a fixture that fails is an error of its test, require_data inside a test a failure
    assert "1 failed, 3 errors" in result.stdout and "skipped" not in result.stdout
    assert f"test data not found: {empty / 'nowhere'} (set HSBENCH_DATA" in result.stdout
    assert "under CI (CI=true) missing test data is an error" in result.stdout


def test_present_data_is_used_under_ci(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "kodak").mkdir(parents=True)
    for name in KODAK_IMAGES:
        (data / "kodak" / name).write_bytes(b"")
    (data / "indian_pines_simulated").mkdir()
    (data / "indian_pines_simulated" / "simu_indian.mat").write_bytes(b"")
    result = _pytest(tmp_path, data, "true")
    assert result.returncode == 0 and "4 passed" in result.stdout, result.stdout + result.stderr
    (data / "kodak" / "kodim24.png").unlink()  # an incomplete Kodak folder is missing data too
    result = _pytest(tmp_path, data, "true")
    assert result.returncode == 1 and "3 passed, 1 error" in result.stdout, result.stdout + result.stderr
    assert f"test data not found: {data / 'kodak' / 'kodim24.png'}" in result.stdout
