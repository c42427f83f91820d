from dataclasses import replace

import numpy as np
import pytest

from hsbench.codecs import container
from hsbench.errors import CorruptStreamError


def _header(dtype="uint16", shape=(3, 5, 7), value_range=None, bit_depth=12):
    return container.StreamHeader("mycodec", 2, np.dtype(dtype), bit_depth, shape, value_range)


def test_round_trip_and_overhead():
    header = _header()
    stream = container.pack(header, b"payload")
    got, payload = container.unpack(stream, expect_codec="mycodec")
    assert got == header and bytes(payload) == b"payload"
    assert len(stream) - len(b"payload") == 26 + len("mycodec")


def test_float_header_keeps_value_range():
    header = _header("float32", value_range=(-1.5, 2.0), bit_depth=32)
    got, _ = container.unpack(container.pack(header, b""))
    assert got.value_range == (-1.5, 2.0) and got.dtype == np.float32


@pytest.mark.parametrize("cut", [1, 5, 20, 30])
def test_truncated_stream_is_detected(cut):
    stream = container.pack(_header(), b"x" * 40)
    with pytest.raises(CorruptStreamError, match="truncated"):
        container.unpack(stream[:-cut])


def test_flipped_bit_fails_crc():
    stream = bytearray(container.pack(_header(), b"x" * 40))
    stream[30] ^= 0x10
    with pytest.raises(CorruptStreamError, match="CRC"):
        container.unpack(bytes(stream))


def test_foreign_bytes_and_wrong_codec():
    with pytest.raises(CorruptStreamError, match="not an hsbench bitstream"):
        container.unpack(b"\x89PNG\r\n\x1a\n....")
    stream = container.pack(_header(), b"abc")
    with pytest.raises(CorruptStreamError, match="written by codec 'mycodec', not 'other'"):
        container.unpack(stream, expect_codec="other")
    assert container.peek_codec(stream) == "mycodec"
    with pytest.raises(CorruptStreamError, match="trailing"):
        container.unpack(stream + b"\0")


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"shape": (3, 0, 7)}, "empty"),
        ({"bit_depth": 0}, "0-bit samples in uint16"),
        ({"bit_depth": 17}, "17-bit samples in uint16"),
        ({"dtype": np.dtype("float32"), "bit_depth": 12, "value_range": (0.0, 1.0)}, "float samples have 32 bits"),
        ({"dtype": np.dtype("float64"), "bit_depth": 64, "value_range": (1.0, 0.0)}, "invalid value range"),
        ({"dtype": np.dtype("float64"), "bit_depth": 64, "value_range": (0.0, float("nan"))}, "invalid value range"),
    ],
)
def test_fields_that_cannot_describe_a_cube_are_refused(fields, message):
    stream = container.pack(replace(_header(), **fields), b"x")  # a valid CRC over forged fields
    with pytest.raises(CorruptStreamError, match=message):
        container.unpack(stream)


def test_constant_float_range_is_a_valid_header():
    header = _header("float32", value_range=(0.5, 0.5), bit_depth=32)
    assert container.unpack(container.pack(header, b"x"))[0].value_range == (0.5, 0.5)


def test_implied_size_bounds_the_geometry_by_the_payload():
    container.check_implied_size((3, 100, 100), 30, 1000.0, "c")  # 30000 samples, at most 30000
    with pytest.raises(CorruptStreamError, match="30001 samples but the payload has only 30 bytes"):
        container.check_implied_size((1, 1, 30001), 30, 1000.0, "c")
    with pytest.raises(CorruptStreamError, match="at most 8 samples per payload byte"):
        container.check_implied_size((1, 3, 3), 0, 8.0, "c")  # an empty payload counts as one byte
