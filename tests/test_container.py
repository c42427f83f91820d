import numpy as np
import pytest

from hsbench.codecs import container
from hsbench.errors import CorruptStreamError


def _header(dtype="uint16", shape=(3, 5, 7), value_range=None):
    return container.StreamHeader("mycodec", 2, np.dtype(dtype), 12, shape, value_range)


def test_round_trip_and_overhead():
    header = _header()
    stream = container.pack(header, b"payload")
    got, payload = container.unpack(stream, expect_codec="mycodec")
    assert got == header and bytes(payload) == b"payload"
    assert len(stream) - len(b"payload") == 26 + len("mycodec")


def test_float_header_keeps_value_range():
    header = _header("float32", value_range=(-1.5, 2.0))
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
