"""Bitstream framing shared by every hsbench codec.

A framed stream is what ``Codec.encode`` returns and the only input of
``Codec.decode``; its length is the rate. Layout (little-endian)::

    offset  size  field
    0       4     magic  b"HSB" + framing version (1)
    4       1     n = length of the codec id
    5       n     codec id (ASCII), e.g. b"jpeg2000"
    5+n     1     codec bitstream version
    6+n     1     dtype code (see DTYPE_CODES)
    7+n     1     nominal bit depth
    8+n     2     bands
    10+n    4     rows
    14+n    4     cols
    18+n    4     payload length P
    [22+n   16    float value range low, high as float64: float dtypes only]
    ...     P     codec payload
    ...     4     CRC-32 of everything before it

That is 26 + n bytes (42 + n for float cubes) around the payload: a few tens of
bytes, small next to any real image. The CRC and the explicit payload length
make a truncated or altered stream fail loudly instead of decoding garbage.

The CRC is mandatory: most codecs carry no checksum of their own, so a payload
altered behind a valid frame would often decode silently to wrong pixels; the CRC
is what turns damage in storage or transit into an error. :func:`unpack` also
checks that the fields describe a cube at all (no zero dimension, a bit depth
that fits the dtype, a finite ordered value range), and
:func:`check_implied_size` bounds the geometry by the payload length before a
decoder allocates anything from it.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

import numpy as np

from hsbench.errors import CorruptStreamError

MAGIC = b"HSB\x01"
_FIXED = struct.Struct("<BBBHIII")  # version, dtype, bit depth, bands, rows, cols, payload length
_RANGE = struct.Struct("<dd")
_CRC = struct.Struct("<I")

DTYPE_CODES: dict[str, int] = {
    "uint8": 1, "uint16": 2, "uint32": 3,
    "int8": 4, "int16": 5, "int32": 6,
    "float32": 7, "float64": 8,
}
_CODE_DTYPES = {v: np.dtype(k) for k, v in DTYPE_CODES.items()}


@dataclass(frozen=True)
class StreamHeader:
    """What the framing tells a decoder before it reads its payload."""

    codec: str
    codec_version: int
    dtype: np.dtype
    bit_depth: int
    shape: tuple[int, int, int]
    value_range: tuple[float, float] | None = None

    @property
    def bands(self) -> int:
        return self.shape[0]

    @property
    def rows(self) -> int:
        return self.shape[1]

    @property
    def cols(self) -> int:
        return self.shape[2]


def framing_bytes(codec: str, dtype: np.dtype | str) -> int:
    """Bytes :func:`pack` adds around a payload of ``codec`` for a cube of ``dtype`` (module docstring).

    Codecs with a rate target subtract it from their byte budget, so that the target is the
    ratio of the whole framed stream.
    """
    extra = _RANGE.size if np.dtype(dtype).kind == "f" else 0
    return len(MAGIC) + 1 + len(codec.encode("ascii")) + _FIXED.size + extra + _CRC.size


def pack(header: StreamHeader, payload: bytes) -> bytes:
    """Frame ``payload`` with ``header`` and a CRC-32 (layout in the module docstring)."""
    name = header.codec.encode("ascii")
    if not 0 < len(name) < 256:
        raise ValueError(f"codec id {header.codec!r} must be 1..255 ASCII characters")
    bands, rows, cols = header.shape
    if bands >= 1 << 16:
        raise ValueError(f"{bands} bands exceed the framing's limit of 65535")
    parts = [
        MAGIC,
        bytes([len(name)]),
        name,
        _FIXED.pack(
            header.codec_version,
            DTYPE_CODES[np.dtype(header.dtype).name],
            header.bit_depth,
            bands,
            rows,
            cols,
            len(payload),
        ),
    ]
    if np.dtype(header.dtype).kind == "f":
        lo, hi = header.value_range if header.value_range is not None else (0.0, 1.0)
        parts.append(_RANGE.pack(lo, hi))
    parts.append(payload)
    body = b"".join(parts)
    return body + _CRC.pack(zlib.crc32(body))


def unpack(data: bytes, expect_codec: str | None = None) -> tuple[StreamHeader, memoryview]:
    """Check and split a framed stream into its header and payload.

    Raises :class:`CorruptStreamError` when the stream is not an hsbench stream,
    is truncated, fails its CRC, or (with ``expect_codec``) belongs to another codec.
    """
    data = bytes(data)
    if len(data) < len(MAGIC) + 1 or data[:3] != MAGIC[:3]:
        raise CorruptStreamError("not an hsbench bitstream (bad magic bytes); was it written by hsbench?")
    if data[3] != MAGIC[3]:
        raise CorruptStreamError(
            f"hsbench framing version {data[3]} is not supported (this hsbench reads {MAGIC[3]}); "
            "decode it with the hsbench version that wrote it"
        )
    n = data[4]
    pos = 5 + n
    if len(data) < pos + _FIXED.size + _CRC.size:
        raise CorruptStreamError(f"bitstream truncated: {len(data)} bytes is shorter than its header")
    codec = data[5:pos].decode("ascii", errors="replace")
    version, dcode, bit_depth, bands, rows, cols, plen = _FIXED.unpack_from(data, pos)
    pos += _FIXED.size
    if dcode not in _CODE_DTYPES:
        raise CorruptStreamError(f"bitstream header names unknown dtype code {dcode}")
    dtype = _CODE_DTYPES[dcode]
    value_range = None
    if dtype.kind == "f":
        if len(data) < pos + _RANGE.size:
            raise CorruptStreamError("bitstream truncated inside its header")
        value_range = _RANGE.unpack_from(data, pos)
        pos += _RANGE.size
    expected = pos + plen + _CRC.size
    if len(data) < expected:
        raise CorruptStreamError(
            f"bitstream truncated: {len(data)} bytes, the header announces {expected}"
        )
    if len(data) > expected:
        raise CorruptStreamError(
            f"bitstream has {len(data) - expected} trailing bytes after its CRC; it is not one hsbench stream"
        )
    (crc,) = _CRC.unpack_from(data, pos + plen)
    if zlib.crc32(data[: pos + plen]) != crc:
        raise CorruptStreamError("bitstream CRC mismatch: the data was altered or damaged in transit")
    if expect_codec is not None and codec != expect_codec:
        raise CorruptStreamError(
            f"bitstream was written by codec {codec!r}, not {expect_codec!r}; decode it with {codec!r}"
        )
    header = StreamHeader(codec, version, dtype, bit_depth, (bands, rows, cols), value_range)
    _check_fields(header)
    return header, memoryview(data)[pos : pos + plen]


def _check_fields(header: StreamHeader) -> None:
    """Raise :class:`CorruptStreamError` when the header's fields cannot describe a cube."""
    if 0 in header.shape:
        raise CorruptStreamError(f"bitstream header announces an empty {header.shape} cube")
    bits = header.dtype.itemsize * 8
    if header.dtype.kind == "f":
        if header.bit_depth != bits:
            raise CorruptStreamError(
                f"bitstream header announces {header.bit_depth}-bit {header.dtype} samples; float samples "
                f"have {bits} bits"
            )
        lo, hi = header.value_range  # type: ignore[misc]
        if not (np.isfinite(lo) and np.isfinite(hi) and hi >= lo):
            raise CorruptStreamError(f"bitstream header holds an invalid value range ({lo}, {hi})")
    elif not 1 <= header.bit_depth <= bits:
        raise CorruptStreamError(
            f"bitstream header announces {header.bit_depth}-bit samples in {header.dtype} (1..{bits} bits)"
        )


def check_implied_size(shape: tuple[int, int, int], payload_bytes: int, max_samples_per_byte: float,
                       codec: str) -> None:
    """Bound a geometry by the payload that is supposed to describe it.

    A codec declares ``max_samples_per_byte``, the most samples one payload byte stands
    for in any stream its encoder writes (a property of its format: CCSDS 123 spends at
    least one bit per sample, so 8). A frame announcing ``bands * rows * cols`` samples
    with a ``payload_bytes``-byte payload is refused when
    ``bands * rows * cols > max_samples_per_byte * max(payload_bytes, 1)``, so a decoder
    that passes this check allocates at most ``max_samples_per_byte`` samples per byte it
    was given. Raises :class:`CorruptStreamError`.
    """
    samples = int(shape[0]) * int(shape[1]) * int(shape[2])
    allowed = max_samples_per_byte * max(int(payload_bytes), 1)
    if samples > allowed:
        b, h, w = shape
        raise CorruptStreamError(
            f"{codec}: header announces {b} x {h} x {w} = {samples} samples but the payload has only "
            f"{payload_bytes} bytes; {codec} streams hold at most {max_samples_per_byte:g} samples per "
            "payload byte, so the geometry is forged or damaged"
        )


def peek_codec(data: bytes) -> str:
    """The codec id of a framed stream (for ``hsbench decompress``), without checking the CRC."""
    if len(data) < 5 or data[:3] != MAGIC[:3]:
        raise CorruptStreamError("not an hsbench bitstream (bad magic bytes)")
    n = data[4]
    if len(data) < 5 + n:
        raise CorruptStreamError("bitstream truncated inside its header")
    return bytes(data[5 : 5 + n]).decode("ascii", errors="replace")
