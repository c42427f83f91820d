"""Shared test fixtures: the offline data beside the project and the test codec plugin."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "datasets"
PLUGIN_DIR = Path(__file__).resolve().parent / "plugin"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/datasets`` (Kodak, the simulated Indian Pines cube); skip when absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"offline test data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture
def plugin(monkeypatch: pytest.MonkeyPatch) -> str:
    """Put the ``testraw`` codec plugin on the path (also for spawned workers and subprocesses)."""
    monkeypatch.syspath_prepend(str(PLUGIN_DIR))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(PLUGIN_DIR), str(REPO), os.environ.get("PYTHONPATH", "")]))
    from hsbench.codecs import registry

    registry._registered.pop("testraw", None)
    return "testraw"


@pytest.fixture
def images(tmp_path: Path) -> Path:
    """A folder of four small real-looking RGB PNGs (smooth gradients plus texture)."""
    folder = tmp_path / "imgs"
    folder.mkdir()
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:40, 0:48]
    for i in range(4):
        base = (yy * (i + 1) + xx * 2) % 256
        rgb = np.stack([base, base[::-1], (base + 60) % 256], axis=-1) + rng.integers(0, 8, (40, 48, 3))
        Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).save(folder / f"img{i}.png")
    return folder


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


def run_cli(*args: str) -> int:
    """Run ``hsbench ARGS`` in this process and return its exit status."""
    from hsbench.cli import main

    return main(list(args))


