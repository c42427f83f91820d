"""Fuzz every registered, available codec's decoder (the decoding contract of ``hsbench.codecs.base``).

Each codec runs in its own process (``tests/fuzz_driver.py``): small cubes are coded, then
truncated, bit-flipped, corrupted behind a recomputed frame CRC and given forged frame
fields. Every decode must give a cube of the framed geometry or a ``CorruptStreamError``;
no other exception, no allocation beyond a small multiple of what the frame implies (traced
peak, and an ``RLIMIT_DATA`` cap), no decode slower than ``MAX_SECONDS``. A codec added to the
registry later is fuzzed here without any change; it may declare ``fuzz_shapes``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hsbench.codecs.registry import codec_names, get_codec
from hsbench.errors import HsbenchError

DRIVER = Path(__file__).with_name("fuzz_driver.py")
REPO = Path(__file__).resolve().parents[1]
MAX_SECONDS = 2.0  # one decode of a small damaged stream; a hang or a quadratic blow-up exceeds it


def _available() -> list[str]:
    names = []
    for name in codec_names():
        try:
            get_codec(name).check_available()
        except HsbenchError:
            continue
        names.append(name)
    return names


@pytest.mark.parametrize("name", _available())
def test_damaged_and_forged_streams_fail_only_as_corrupt_streams(name: str, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(
        [sys.executable, str(DRIVER), name, str(tmp_path)],
        capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.splitlines()[-1])
    assert report["setups"], f"{name}: no cube to fuzz with"
    assert not report["failures"], "\n".join([*report["setups"], *report["failures"][:20]])
    assert report["cases"] >= 100 * len(report["setups"]) and report["corrupt"] > report["cases"] // 4
    assert report["max_seconds"] < MAX_SECONDS
    assert report["max_peak_ratio"] <= 1.0
