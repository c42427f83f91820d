"""Install hygiene: numba's cache goes to the user cache folder, never into the installed package.

numba's ``cache=True`` writes ``__pycache__/*.nbi`` / ``*.nbc`` beside the source by
default; in an installed hsbench those folders survive ``pip uninstall`` and shadow a
later editable install. Each test compiles a cached function of a throw-away package
in a fresh interpreter, as an installed hsbench module would be.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

pytest.importorskip("numba")

MODULE = """
from numba import njit


@njit(cache=True)
def add_one(x):
    return x + 1
"""


def _compile(tmp_path: Path, env: dict[str, str], numba_first: bool = False) -> str:
    pkg = tmp_path / "site" / "fakepkg"
    pkg.mkdir(parents=True, exist_ok=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "kernels.py").write_text(MODULE)
    code = ("import numba\n" if numba_first else "") + (
        "import hsbench, numba.core.config as c\n"
        "from fakepkg.kernels import add_one\n"
        "assert add_one(1) == 2\n"
        "print(c.CACHE_DIR)\n"
    )
    full = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "HSBENCH_CACHE_DIR")}
    full.update(env)
    full["PYTHONPATH"] = os.pathsep.join([str(REPO), str(tmp_path / "site")])
    done = subprocess.run([sys.executable, "-c", code], env=full, capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _cache_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.suffix in (".nbi", ".nbc")]


@pytest.mark.parametrize("numba_first", [False, True], ids=["hsbench-first", "numba-first"])
def test_numba_cache_lands_in_the_hsbench_cache_folder(tmp_path, numba_first):
    cache = tmp_path / "cache"
    reported = _compile(tmp_path, {"HSBENCH_CACHE_DIR": str(cache)}, numba_first)
    assert Path(reported) == cache / "numba"
    assert _cache_files(cache / "numba"), "numba wrote no cache where hsbench pointed it"
    assert _cache_files(tmp_path / "site") == [], "numba wrote its cache into the package"


def test_a_numba_cache_dir_set_by_the_user_is_respected(tmp_path):
    mine = tmp_path / "mine"
    reported = _compile(tmp_path, {"HSBENCH_CACHE_DIR": str(tmp_path / "cache"), "NUMBA_CACHE_DIR": str(mine)})
    assert Path(reported) == mine and _cache_files(mine)
    assert not (tmp_path / "cache").exists()



def test_the_package_list_names_every_package_of_the_tree():
    """pyproject.toml lists hsbench's packages by hand (``hsbench.baselines`` lives in the top-level
    ``baselines/`` folder), so a new subpackage must be added there or it is missing from installs."""
    import tomllib

    setuptools_cfg = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    mapped = setuptools_cfg["package-dir"]
    tree = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "hsbench").rglob("__init__.py")}
    tree |= {name for name, folder in mapped.items() if (REPO / folder / "__init__.py").is_file()}
    assert sorted(setuptools_cfg["packages"]) == sorted(tree)


def test_the_baselines_are_installed_as_hsbench_baselines():
    from hsbench.baselines import list_baselines, load_baseline

    assert Path(__import__("hsbench.baselines").baselines.__file__).parent == REPO / "baselines"
    names = list_baselines()
    assert {"kodak_bmshj2018", "sscnet_virtis"} <= set(names)
    assert all(load_baseline(n).meta["citation"] for n in names)
