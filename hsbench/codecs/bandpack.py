"""Concatenating per-band streams into one payload, with their common header stored once.

Band-by-band coders (JPEG, JPEG 2000) produce one complete stream per band, and
with the same parameters every band's stream starts with the same header bytes
(JPEG: SOI .. SOS with the quantisation and Huffman tables; J2K: the main header
SOC .. first SOT). Storing that header once saves a few hundred bytes per band.
Layout::

    varint  H = length of the shared header (0 = none shared)
    H       shared header
    per band:  varint n, then n bytes (the stream, less the shared header)

Varints are unsigned LEB128 (7 bits per byte, low groups first).
"""

from __future__ import annotations

from typing import Callable, Sequence

from hsbench.errors import CorruptStreamError


def write_varint(value: int) -> bytes:
    """Unsigned LEB128 encoding of ``value``."""
    if value < 0:
        raise ValueError("varint must be non-negative")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def read_varint(data: memoryview | bytes, pos: int) -> tuple[int, int]:
    """Decode an unsigned LEB128 value at ``pos``; returns ``(value, next position)``."""
    value = shift = 0
    while True:
        if pos >= len(data):
            raise CorruptStreamError("payload truncated inside a length field")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise CorruptStreamError("payload holds an oversized length field")


def pack_streams(streams: Sequence[bytes], header_length: Callable[[bytes], int]) -> bytes:
    """Join per-band streams; the header (``stream[:header_length(stream)]``) is stored once when all agree."""
    heads = {bytes(s[: header_length(s)]) for s in streams}
    shared = heads.pop() if len(heads) == 1 else b""
    parts = [write_varint(len(shared)), shared]
    for stream in streams:
        body = stream[len(shared) :]
        parts += [write_varint(len(body)), body]
    return b"".join(parts)


def unpack_streams(payload: memoryview | bytes, pos: int, count: int) -> list[bytes]:
    """Inverse of :func:`pack_streams` from ``pos``: the ``count`` complete streams, headers restored."""
    size, pos = read_varint(payload, pos)
    if pos + size > len(payload):
        raise CorruptStreamError("payload truncated inside the shared band header")
    shared = bytes(payload[pos : pos + size])
    pos += size
    streams = []
    for band in range(count):
        size, pos = read_varint(payload, pos)
        if pos + size > len(payload):
            raise CorruptStreamError(f"payload truncated inside band {band} of {count}")
        streams.append(shared + bytes(payload[pos : pos + size]))
        pos += size
    if pos != len(payload):
        raise CorruptStreamError(f"payload has {len(payload) - pos} unexpected bytes after its last band")
    return streams
