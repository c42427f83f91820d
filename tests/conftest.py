"""Shared test fixtures: the offline data beside the project and the test codec plugin."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

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
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


def run_cli(*args: str) -> int:
    """Run ``hsbench ARGS`` in this process and return its exit status."""
    from hsbench.cli import main

    return main(list(args))


