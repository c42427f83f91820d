"""Timing of one codec on one cube: median of repeated encode / decode runs, warm-up excluded.

With ``repeat = N > 1`` the codec first runs one untimed warm-up encode + decode
(imports, JIT compilation, caches, model loading), traced with :mod:`tracemalloc`
for the peak memory numpy and Python allocate, then ``N`` timed encode + decode
pairs; the row reports the **median** of the timed runs (robust to a noisy
neighbour) and all the runs. With ``repeat = 1`` (the default) one pair is timed
and nothing is excluded, which is the cheapest honest measurement for a sweep.

Every run must produce the same bytes: a codec is pure (``DESIGN.md``, "The
codec interface"), and a codec that is not fails the job instead of reporting
a rate it does not reproduce.
"""

from __future__ import annotations

import statistics
import time
import tracemalloc
from dataclasses import dataclass, field
from typing import Any

from hsbench.cube import Cube
from hsbench.errors import HsbenchError


@dataclass
class CodecTiming:
    """Result of :func:`time_codec`: the stream, the decoded cube and the timings."""

    stream: bytes
    decoded: Cube
    encode_runs: list[float] = field(default_factory=list)
    decode_runs: list[float] = field(default_factory=list)
    warmup: bool = False
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
            "traced_peak_mb": self.traced_peak_mb,
        }


def time_codec(codec: Any, cube: Cube, repeat: int = 1) -> CodecTiming:
    """Encode and decode ``cube`` with ``codec``; ``repeat`` timed runs after a warm-up when ``repeat > 1``."""
    repeat = int(repeat)
    if repeat < 1:
        raise HsbenchError(f"--repeat must be at least 1, got {repeat}")
    warm_stream: bytes | None = None
    traced = None
    if repeat > 1:
        tracemalloc.start()
        try:
            warm_stream = codec.encode(cube)
            codec.decode(warm_stream)
            traced = tracemalloc.get_traced_memory()[1] / 1e6
        finally:
            tracemalloc.stop()
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
    return CodecTiming(stream, decoded, enc, dec, repeat > 1, traced)
