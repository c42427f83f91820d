"""Timing of one codec on one cube: median of repeated encode / decode runs, of **warm** runs.

The first encode + decode a process makes with a codec pays one-time costs the
codec's users pay once: imports, numba compilation, model loading, library and
cache set-up. Timed runs therefore follow an untimed **warm-up** encode + decode.
The ``warmup`` mode says when it runs:

- ``"once"`` (the default with ``--repeat 1``): the first time this process codes
  with this codec configuration a cube of this dtype, bit depth and band count
  (:func:`warm_key`), on the cube's top-left corner of at most
  :data:`WARMUP_CROP` x :data:`WARMUP_CROP` pixels (all bands; the whole cube when
  the codec refuses the crop). That pays the one-time costs, which do not depend
  on the image size, for the cost of a tiny image; later jobs of the same worker
  process are already warm. Caches a codec keys on the image size are not warmed;
- ``"each"`` (the default with ``--repeat N > 1``): before every job's timed runs,
  on the whole cube, traced with :mod:`tracemalloc` for the peak memory numpy and
  Python allocate in one encode + decode (``codec_traced_peak_mb``);
- ``"none"``: no warm-up; the timed run includes the one-time costs.

The row's ``warmup`` column says what happened: ``"job"`` (this job warmed up),
``"process"`` (an earlier job of this process did) or ``"none"`` (timed cold).
Then ``repeat`` timed encode + decode pairs run and the row reports the **median**
(robust to a noisy neighbour) and all the runs.

Every run must produce the same bytes: a codec is pure (``docs/design.md``, "The
codec interface"), and a codec that is not fails the job instead of reporting
a rate it does not reproduce.
"""

from __future__ import annotations

import statistics
import time
import tracemalloc
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hsbench.cube import Cube
from hsbench.errors import HsbenchError


@dataclass
class CodecTiming:
    """Result of :func:`time_codec`: the stream, the decoded cube and the timings."""

    stream: bytes
    decoded: Cube
    encode_runs: list[float] = field(default_factory=list)
    decode_runs: list[float] = field(default_factory=list)
    #: ``"job"``, ``"process"`` or ``"none"`` (see the module docstring)
    warmup: str = "none"
    traced_peak_mb: float | None = None

    @property
    def encode_s(self) -> float:
        """Median encode seconds over the timed runs."""
        return statistics.median(self.encode_runs)

    @property
    def decode_s(self) -> float:
        """Median decode seconds over the timed runs."""
        return statistics.median(self.decode_runs)

    def row_columns(self) -> dict[str, Any]:
        """Columns for the result row (the median times go through ``metrics.timing_columns``)."""
        return {
            "repeat": len(self.encode_runs),
            "warmup": self.warmup,
            "encode_s_runs": ",".join(f"{t:.6g}" for t in self.encode_runs),
            "decode_s_runs": ",".join(f"{t:.6g}" for t in self.decode_runs),
            "codec_traced_peak_mb": self.traced_peak_mb,
        }


#: The ``warmup`` modes of :func:`time_codec` (see the module docstring).
WARMUP_MODES = ("once", "each", "none")
#: Largest rows / cols of the cube corner a ``"once"`` warm-up codes.
WARMUP_CROP = 64
#: Codec configurations this process has warmed up (:func:`warm_key`).
_WARMED: set[tuple[Any, ...]] = set()


def default_warmup(repeat: int) -> str:
    """The warm-up mode when none is given: ``"each"`` with ``repeat > 1``, else ``"once"``."""
    return "each" if int(repeat) > 1 else "once"


def warm_key(codec: Any, cube: Cube) -> tuple[Any, ...]:
    """What a warm-up covers: the codec class and configuration, and the cube's dtype, bit depth and
    band count (JIT signatures and models depend on them, not on the image size)."""
    cls = type(codec)
    config = tuple(sorted((k, repr(v)) for k, v in getattr(codec, "config", {}).items()))
    return (cls.__module__, cls.__qualname__, config, cube.dtype.str, cube.bit_depth, cube.bands)


def _warm_up_once(codec: Any, cube: Cube) -> None:
    """Encode + decode the cube's corner (:data:`WARMUP_CROP`), or the cube when the codec refuses it."""
    if cube.rows > WARMUP_CROP or cube.cols > WARMUP_CROP:
        corner = cube.with_data(np.ascontiguousarray(cube.data[:, :WARMUP_CROP, :WARMUP_CROP]))
        try:
            codec.decode(codec.encode(corner))
            return
        except Exception:  # too small for this codec, a constant corner ...: warm up on the whole cube
            pass
    codec.decode(codec.encode(cube))


def time_codec(codec: Any, cube: Cube, repeat: int = 1, warmup: str | None = None) -> CodecTiming:
    """Encode and decode ``cube`` with ``codec``: ``repeat`` timed runs after the warm-up ``warmup`` asks for.

    ``warmup`` is one of :data:`WARMUP_MODES` (default :func:`default_warmup` of ``repeat``).
    """
    repeat = int(repeat)
    if repeat < 1:
        raise HsbenchError(f"--repeat must be at least 1, got {repeat}")
    mode = warmup or default_warmup(repeat)
    if mode not in WARMUP_MODES:
        raise HsbenchError(f"--warmup must be one of {', '.join(WARMUP_MODES)}, got {mode!r}")
    key = warm_key(codec, cube)
    warm_stream: bytes | None = None
    traced = None
    state = "none"
    if mode == "once" and key not in _WARMED:
        _warm_up_once(codec, cube)
        state = "job"
    elif mode == "each":
        tracemalloc.start()
        try:
            warm_stream = codec.encode(cube)
            codec.decode(warm_stream)
            traced = tracemalloc.get_traced_memory()[1] / 1e6
        finally:
            tracemalloc.stop()
        state = "job"
    elif mode == "once":
        state = "process"
    enc: list[float] = []
    dec: list[float] = []
    stream = b""
    decoded = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        s = codec.encode(cube)
        t1 = time.perf_counter()
        d = codec.decode(s)
        t2 = time.perf_counter()
        enc.append(t1 - t0)
        dec.append(t2 - t1)
        if (stream and s != stream) or (warm_stream is not None and s != warm_stream):
            raise HsbenchError(
                f"{getattr(codec, 'label', codec)} is not deterministic: two encodes of the same image gave "
                "different bytes, so its rate cannot be reproduced"
            )
        stream, decoded = s, d
    assert decoded is not None
    _WARMED.add(key)
    return CodecTiming(stream, decoded, enc, dec, state, traced)
