"""Repeated, warmed-up encode / decode timing (hsbench.timing)."""

from __future__ import annotations

import os
import statistics

import numpy as np
import pytest

import rdcodecs
from hsbench.errors import HsbenchError
from hsbench.timing import time_codec


def test_repeat_median_and_round_trip():
    cube = rdcodecs.smooth_cube()
    codec = rdcodecs.QuantCodec(step=4.0)
    t = time_codec(codec, cube, repeat=3)
    assert len(t.encode_runs) == 3 and len(t.decode_runs) == 3 and t.warmup
    assert t.encode_s == statistics.median(t.encode_runs) and t.traced_peak_mb > 0
    assert t.stream == codec.encode(cube)
    assert np.abs(t.decoded.data.astype(int) - cube.data.astype(int)).max() <= 2
    cols = t.row_columns()
    assert cols["repeat"] == 3 and len(cols["encode_s_runs"].split(",")) == 3
    one = time_codec(codec, cube)
    assert len(one.encode_runs) == 1 and not one.warmup and one.traced_peak_mb is None


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
