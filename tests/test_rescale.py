"""Explicit rescaling to fewer bits and per-band stream packing (shared by the JPEG codecs)."""

from __future__ import annotations

import numpy as np
import pytest

from hsbench.codecs.bandpack import pack_streams, read_varint, unpack_streams, write_varint
from hsbench.codecs.rescale import LinearRescale, describe
from hsbench.cube import Cube
from hsbench.errors import CorruptStreamError


@pytest.mark.parametrize("dtype", ["uint16", "int16", "int32", "float32", "float64"])
@pytest.mark.parametrize("scope", ["band", "cube"])
def test_rescale_round_trip_error_is_at_most_half_a_step(dtype, scope):
    rng = np.random.default_rng(0)
    data = (rng.normal(size=(3, 9, 11)) * [[[100.0]], [[3000.0]], [[7.0]]]).astype(dtype)
    mapping = LinearRescale.fit(data, 8, scope)
    codes = mapping.forward(data)
    assert codes.dtype == np.uint8 and codes.min() == 0 and codes.max() == 255
    back = mapping.inverse(codes, data.dtype)
    step = mapping.step().reshape(-1, 1, 1)
    slack = 0.5 if data.dtype.kind in "iu" else 1e-3  # integer outputs round once more
    assert np.all(np.abs(back.astype(np.float64) - data) <= step / 2 + slack)
    for band, band_codes in zip(data, codes):  # monotone: the order of samples survives
        order = np.argsort(band, axis=None, kind="stable")
        assert np.all(np.diff(band_codes.astype(int).ravel()[order]) >= 0)
    restored, end = LinearRescale.from_bytes(memoryview(mapping.to_bytes()), 0, 8, len(mapping.lows), data.dtype)
    assert end == len(mapping.to_bytes())
    np.testing.assert_array_equal(restored.inverse(codes, data.dtype), back)


def test_constant_band_is_exact():
    data = np.full((2, 4, 4), 1234, np.uint16)
    mapping = LinearRescale.fit(data, 8, "band")
    np.testing.assert_array_equal(mapping.inverse(mapping.forward(data), data.dtype), data)


def test_describe_names_the_rescaling():
    assert describe(Cube(np.zeros((1, 2, 2), np.uint16), bit_depth=12), 8) == "12->8"
    assert describe(Cube(np.zeros((1, 2, 2), np.uint8)), 8) == "none"
    assert describe(Cube(np.zeros((1, 2, 2), np.int16)), 16) == "s16->16"
    assert describe(Cube(np.zeros((1, 2, 2), np.float32)), 16) == "float32->16"


def test_damaged_rescaling_table_is_refused():
    table = np.array([10, 5], np.uint16).tobytes()  # high below low
    with pytest.raises(CorruptStreamError):
        LinearRescale.from_bytes(memoryview(table), 0, 8, 1, np.dtype(np.uint16))
    with pytest.raises(CorruptStreamError):
        LinearRescale.from_bytes(memoryview(table[:3]), 0, 8, 1, np.dtype(np.uint16))


@pytest.mark.parametrize("value", [0, 1, 127, 128, 300, 2**32 + 5])
def test_varint_round_trip(value):
    encoded = write_varint(value)
    assert read_varint(encoded, 0) == (value, len(encoded))


def test_pack_streams_shares_a_common_header_and_restores_streams():
    streams = [b"HEADER" + bytes([i]) * (i + 1) for i in range(4)]
    packed = pack_streams(streams, lambda s: 6)
    assert packed.count(b"HEADER") == 1
    assert unpack_streams(packed, 0, 4) == streams
    different = [b"HEAD-A" + b"x", b"HEAD-B" + b"y"]
    assert unpack_streams(pack_streams(different, lambda s: 6), 0, 2) == different
    with pytest.raises(CorruptStreamError):
        unpack_streams(packed[:-1], 0, 4)
    with pytest.raises(CorruptStreamError):
        unpack_streams(packed + b"\0", 0, 4)
