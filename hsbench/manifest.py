"""The run manifest: what produced a run folder, so its numbers can be reproduced.

``manifest.json`` records the command, hsbench and library versions, the
machine, the git commit of the hsbench source (when it runs from a checkout),
the datasets with their provenance, and the SHA-256 of every image coded.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from hsbench import __version__

#: Libraries whose versions every manifest records.
LIBRARIES = (
    "numpy", "scipy", "pillow", "glymur", "imagecodecs", "scikit-image", "numba", "torch",
    "constriction", "pandas", "matplotlib", "dask", "distributed",
)


def library_versions(names: Sequence[str] = LIBRARIES) -> dict[str, str]:
    """Installed versions of ``names`` (``"missing"`` when not installed)."""
    out = {}
    for name in names:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "missing"
    return out


def git_commit() -> str | None:
    """Commit of the hsbench source tree, with ``+dirty`` for local changes; None outside git."""
    src = Path(__file__).resolve().parent
    try:
        head = subprocess.run(
            ["git", "-C", str(src), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(src), "status", "--porcelain", "--", "."], capture_output=True, text=True, timeout=5
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+dirty" if dirty else "")


def machine() -> dict[str, Any]:
    """Processor, cores, memory, OS and accelerator of this machine."""
    info: dict[str, Any] = {
        "hostname": platform.node(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "cpu_count": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["processor"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["memory_gb"] = round(int(line.split()[1]) / 1024**2, 1)
                break
    except OSError:
        pass
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        if torch.cuda.is_available():
            info["cuda_device"] = torch.cuda.get_device_name(0)
    return info


def build_manifest(
    command: Sequence[str],
    datasets: Sequence[dict[str, Any]],
    image_hashes: dict[str, dict[str, str]],
    options: dict[str, Any],
    started: float,
) -> dict[str, Any]:
    """The manifest of a run (see the module docstring)."""
    return {
        "command": list(command),
        "hsbench_version": __version__,
        "git_commit": git_commit(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine(),
        "libraries": library_versions(),
        "options": options,
        "datasets": list(datasets),
        "image_sha256": image_hashes,
    }


def write_manifest(path: str | Path, manifest: dict[str, Any]) -> Path:
    """Write ``manifest`` as indented JSON."""
    path = Path(path)
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
    return path
