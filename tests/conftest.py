"""Shared test fixtures: the offline data beside the project and the test codec plugin."""

from __future__ import annotations

import os

# One thread per process for the BLAS / OpenMP pools (torch, numpy, numba), in this process and
# in the workers and subprocesses the tests start: the tests use tiny models and images, for
# which a second thread only adds synchronisation, and when the 2 cores of a CI machine are busy,
# torch's spinning threads made one test 7x slower (s2cnet's pre-training: 167 s, 25 s with one
# thread). Tests that compare thread counts set them explicitly.
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from hsbench.datasets.base import DATA_ROOT_ENV  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
PLUGIN_DIR = Path(__file__).resolve().parent / "plugin"
KODAK_IMAGES = tuple(f"kodim{i:02d}.png" for i in range(1, 25))
INDIAN_PINES = ("indian_pines_simulated", "simu_indian.mat")


def data_root() -> Path:
    """The offline test data: ``$HSBENCH_DATA``, else ``../shared/datasets`` beside the repository.

    Usable at collection time (``parametrize``); it does not check that the folder exists.
    """
    return Path(os.environ.get(DATA_ROOT_ENV) or REPO.parent / "shared" / "datasets")


def under_ci() -> bool:
    """True when the environment says CI (``CI=true``, as ``.ci/run`` and most CI services set)."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def require_data(*parts: str) -> Path:
    """``data_root() / parts`` if it exists; else skip the test, or fail it under CI (``CI=true``)."""
    path = data_root().joinpath(*parts)
    if not path.exists():
        message = (f"test data not found: {path} (set {DATA_ROOT_ENV} to the folder holding kodak/ and "
                   "indian_pines_simulated/; default ../shared/datasets beside the repository)")
        if under_ci():
            pytest.fail(message + "; under CI (CI=true) missing test data is an error", pytrace=False)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The data root (Kodak, the simulated Indian Pines cube); skipped when absent, failed under CI."""
    return require_data()


@pytest.fixture(scope="session")
def kodak() -> Path:
    """The Kodak folder with its 24 images ``kodim01.png`` .. ``kodim24.png``."""
    for name in KODAK_IMAGES:
        require_data("kodak", name)
    return data_root() / "kodak"


@pytest.fixture(scope="session")
def indian_pines_mat() -> Path:
    """The simulated Indian Pines cube ``indian_pines_simulated/simu_indian.mat`` (224 bands, 145 x 145)."""
    return require_data(*INDIAN_PINES)


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


