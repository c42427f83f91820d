"""hsbench: benchmark image codecs on hyperspectral, multispectral and RGB data."""

from __future__ import annotations

import os
import sys
from pathlib import Path

__version__ = "0.1.0"

#: Environment variable naming hsbench's cache folder (quick-trained models, numba's compiled code).
CACHE_ENV = "HSBENCH_CACHE_DIR"


def cache_root() -> Path:
    """hsbench's cache folder: ``$HSBENCH_CACHE_DIR``, else the user cache folder of the platform
    (``platformdirs.user_cache_dir("hsbench")``: ``~/.cache/hsbench`` on Linux)."""
    root = os.environ.get(CACHE_ENV)
    if not root:
        import platformdirs

        root = platformdirs.user_cache_dir("hsbench")
    return Path(root).expanduser()


def _use_numba_cache_dir() -> None:
    """Send numba's ``cache=True`` files to ``cache_root()/numba`` unless ``NUMBA_CACHE_DIR`` is set.

    By default numba writes its cache into ``__pycache__`` beside the source, i.e. into
    the installed package; ``pip uninstall`` leaves those folders behind and they then
    shadow an editable install of hsbench (``cannot import name '__version__'``). Runs
    when hsbench is imported, before any hsbench module imports numba; when numba was
    imported first, its loaded configuration is pointed there too. Spawned workers
    inherit the environment variable.
    """
    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    path = str(cache_root() / "numba")
    os.environ["NUMBA_CACHE_DIR"] = path
    config = sys.modules.get("numba.core.config")
    if config is not None:
        config.CACHE_DIR = path  # type: ignore[attr-defined]


_use_numba_cache_dir()

from hsbench.errors import HsbenchError  # noqa: E402

__all__ = ["CACHE_ENV", "HsbenchError", "__version__", "cache_root"]
