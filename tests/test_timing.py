"""Repeated, warmed-up encode / decode timing (hsbench.timing)."""

from __future__ import annotations

import json
import os
import statistics
import time

import numpy as np
import pytest

import rdcodecs
from hsbench.errors import HsbenchError
from hsbench.timing import time_codec


def test_repeat_median_and_round_trip():
    cube = rdcodecs.smooth_cube()
    codec = rdcodecs.QuantCodec(step=4.0)
    t = time_codec(codec, cube, repeat=3)
    assert len(t.encode_runs) == 3 and len(t.decode_runs) == 3 and t.warmup == "job"  # "each" by default
    assert t.encode_s == statistics.median(t.encode_runs) and t.traced_peak_mb > 0
    assert t.stream == codec.encode(cube)
    assert np.abs(t.decoded.data.astype(int) - cube.data.astype(int)).max() <= 2
    cols = t.row_columns()
    assert cols["repeat"] == 3 and len(cols["encode_s_runs"].split(",")) == 3 and cols["codec_traced_peak_mb"] > 0
    cold = time_codec(codec, cube, warmup="none")
    assert len(cold.encode_runs) == 1 and cold.warmup == "none" and cold.traced_peak_mb is None
    with pytest.raises(HsbenchError, match="--warmup must be one of"):
        time_codec(codec, cube, warmup="twice")


class _SlowFirstCodec(rdcodecs.QuantCodec):
    """Pays a one-time cost (like numba compilation or model loading) on its first encode in a process."""

    name = "testquant-slowfirst"
    compiled: set = set()

    def encode_payload(self, cube):
        if "encode" not in self.compiled:
            time.sleep(0.3)
            self.compiled.add("encode")
        return super().encode_payload(cube)


def test_default_timing_with_repeat_1_is_warm():
    """With the default --repeat 1 the one-time cost lands in an untimed warm-up, once per process."""
    cube = rdcodecs.smooth_cube()
    first = time_codec(_SlowFirstCodec(step=4.0), cube)
    assert first.warmup == "job" and first.encode_s < 0.15
    again = time_codec(_SlowFirstCodec(step=4.0), rdcodecs.smooth_cube(size=40, seed=3))  # same process: warm
    assert again.warmup == "process" and again.traced_peak_mb is None
    other = time_codec(_SlowFirstCodec(step=4.0), rdcodecs.smooth_cube(bands=3))  # other bands: warms up again
    assert other.warmup == "job"
    _SlowFirstCodec.compiled.clear()
    cold = time_codec(_SlowFirstCodec(step=4.0), cube, warmup="none")
    assert cold.warmup == "none" and cold.encode_s >= 0.3  # what the old default measured


def test_timing_md_says_the_times_are_warm(tmp_path):
    from hsbench.analysis import load_rows, timing_table, write_tables

    rows = [{"key": f"k{i}", "dataset": "d", "codec": "c", "params": "{}", "image": f"i{i}", "status": "ok",
             "bpppc": 1.0, "encode_s": 0.1, "decode_s": 0.1, "warmup": w, "peak_rss_mb": 50.0 + i}
            for i, w in enumerate(["job", "process", False])]
    (tmp_path / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    df = load_rows(tmp_path)  # an old row's peak_rss_mb loads as worker_peak_rss_mb
    assert "peak_rss_mb" not in df and df["worker_peak_rss_mb"].tolist() == [50.0, 51.0, 52.0]
    table = timing_table(df)
    assert int(table["cold_jobs"].iloc[0]) == 1 and table["worker_peak_rss_mb"].iloc[0] == 52.0
    write_tables(df, tmp_path)
    md = (tmp_path / "timing.md").read_text()
    assert md.startswith("Encode / decode times are medians over jobs of warm runs")
    assert "1 job(s) were timed cold" in md
    assert "cold_jobs" not in timing_table(df.iloc[:2]).columns


def test_non_deterministic_codec_fails():
    class Noisy(rdcodecs.QuantCodec):
        name = "testquant-noisy"

        def encode_payload(self, cube):
            return super().encode_payload(cube) + os.urandom(4)

        def decode_payload(self, payload, header):
            return super().decode_payload(payload[:-4], header)

    with pytest.raises(HsbenchError, match="not deterministic"):
        time_codec(Noisy(), rdcodecs.smooth_cube(), repeat=2)
    with pytest.raises(HsbenchError, match="at least 1"):
        time_codec(Noisy(), rdcodecs.smooth_cube(), repeat=0)


def test_once_warm_up_codes_a_corner_and_falls_back_to_the_whole_cube():
    seen: list[tuple[int, int, int]] = []

    class Recording(rdcodecs.QuantCodec):
        name = "testquant-recording"
        min_size = 0

        def encode_payload(self, cube):
            if cube.rows < self.min_size:
                raise HsbenchError("too small for this codec")
            seen.append(cube.shape)
            return super().encode_payload(cube)

    big = rdcodecs.smooth_cube(size=150)
    t = time_codec(Recording(step=2.0), big)
    assert t.warmup == "job" and seen == [(4, 64, 64), (4, 150, 150)]
    seen.clear()
    Recording.min_size = 100
    t = time_codec(Recording(step=3.0), big)  # the corner is refused: the warm-up codes the whole cube
    assert t.warmup == "job" and seen == [(4, 150, 150), (4, 150, 150)]
