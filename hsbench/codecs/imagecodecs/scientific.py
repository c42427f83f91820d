"""Error-bounded scientific coders of imagecodecs: zfp, SZ3 and LERC, on the whole cube.

All three take an absolute error bound; the knob ``max_error`` is that bound in
sample units (DN for integer cubes, the data's own units for float cubes), and
every decoded sample lies within it, like ``ccsds123``'s ``max_error``
(``docs/conventions.md``, section 1, "Error bounds"). ``max_error=0`` is lossless.

* ``zfp`` (Lindstrom, "Fixed-rate compressed floating-point arrays", IEEE TVCG 20(12),
  2014) in fixed-accuracy mode on the 3-D array (4 x 4 x 4 blocks across bands, rows
  and columns): decorrelating block transform, embedded bit-plane coding down to the
  tolerance. ``max_error=0`` uses zfp's reversible (lossless) mode, a different coder
  (integer transform, no bit-plane truncation) that on noisy data can take fewer bytes
  than fixed-accuracy at the smallest tolerances.
* ``sz3`` (Liang et al., "SZ3: A modular framework for composing prediction-based
  error-bounded lossy compressors", IEEE TBD 9(2), 2023): prediction (interpolation /
  Lorenzo), linear quantisation with bin width ``2 * bound``, Huffman + zstd. SZ3's
  decoder ends the process (an uncaught C++ exception, e.g. "LinearQuantizer uid
  mismatch") on a stream it cannot parse: hsbench reads and checks the stream's header
  first (:func:`sz3_dimensions`), and a CRC-32 of the SZ3 stream closing the payload keeps
  damaged bodies away from it, even behind a rewritten frame. SZ3's body (zstd-compressed
  quantiser, Huffman and predictor state) is not validated field by field: a body crafted
  with both CRCs recomputed can still end the process.
* ``lerc`` (Esri's Limited Error Raster Compression, LERC 2): per band, small tiles
  quantised with step ``2 * bound`` and bit-stuffed; integer bands natively.

Integer cubes: zfp and SZ3 code floating-point values (float32 for samples of at most
24 bits, which it holds exactly, float64 beyond); the decoded values are rounded
to integers and clipped to the nominal range. An integer bound ``e`` is passed as the
tolerance ``e + 0.49``: a value within it rounds to within ``e`` of the (integer)
original, so ``max_error=0`` is lossless too. LERC's integer mode takes ``e + 0.5``
(its own lossless setting is 0.5). A fractional ``max_error`` on integer data acts as
its integer part.
"""

from __future__ import annotations

import math
import struct
from dataclasses import replace
from typing import Any, ClassVar

import numpy as np

from hsbench.codecs.base import Kind, Knob
from hsbench.codecs.container import StreamHeader
from hsbench.codecs.imagecodecs.base import ImagecodecsCodec
from hsbench.cube import Cube, integer_range
from hsbench.errors import CorruptStreamError, UnsupportedCubeError

#: Margin below half a step: a float within ``e + ROUND_MARGIN`` of an integer rounds to within ``e``.
ROUND_MARGIN = 0.49


class ErrorBoundedCodec(ImagecodecsCodec):
    """Shared knob, bound and sample handling of the error-bounded coders (module docstring)."""

    kind: ClassVar[Kind] = Kind.NEAR_LOSSLESS
    knob: ClassVar[Knob] = Knob(
        "max_error", 0, 65535, increases_rate=False, default_points=(0, 1, 2, 4, 8, 16, 32, 64),
        help="absolute error bound in sample units (0 = lossless)",
    )
    params: ClassVar[dict[str, Any]] = {"max_error": 0}

    def bound(self, cube: Cube) -> float:
        """The guaranteed bound: ``max_error`` (its integer part for integer cubes)."""
        value = float(self.config["max_error"])
        return value if cube.is_float else float(math.floor(value))

    def max_error(self, cube: Cube) -> float:
        """Every decoded sample is within :meth:`bound` of the original."""
        return self.bound(cube)

    def supports(self, cube: Cube) -> None:
        """Integer and float cubes of every hsbench dtype."""

    @staticmethod
    def float_type(dtype: np.dtype, bit_depth: int) -> np.dtype:
        """Floating type samples are coded in: a float dtype itself, float32 for <= 24-bit integers, else float64."""
        dtype = np.dtype(dtype)
        if dtype.kind == "f":
            return dtype
        return np.dtype(np.float32 if bit_depth <= 24 else np.float64)

    def coded_type(self, cube: Cube) -> np.dtype:
        """:meth:`float_type` of ``cube``."""
        return self.float_type(cube.dtype, int(cube.bit_depth))  # type: ignore[arg-type]

    def tolerance(self, cube: Cube) -> float:
        """Bound handed to a floating-point coder: ``e`` for floats, ``e + 0.49`` for integers."""
        e = self.bound(cube)
        return e if cube.is_float else e + ROUND_MARGIN

    @staticmethod
    def to_samples(values: np.ndarray, header: StreamHeader) -> np.ndarray:
        """Decoded values as the framing's dtype: integers rounded and clipped to the nominal range."""
        dtype = np.dtype(header.dtype)
        if dtype.kind == "f":
            return values.astype(dtype, copy=False)
        lo, hi = integer_range(header.bit_depth, dtype.kind == "i")
        return np.clip(np.rint(values), lo, hi).astype(dtype)

    def check_decoded(self, values: Any, header: StreamHeader) -> np.ndarray:
        """A decoded array, reshaped to the framing's geometry (refused when its size differs)."""
        values = np.asarray(values)
        if values.size != int(np.prod(header.shape, dtype=np.int64)):
            raise CorruptStreamError(
                f"{self.name}: the stream decodes to an array of shape {values.shape}; the framing announces "
                f"{header.shape}"
            )
        return values.reshape(header.shape)


#: zfp stream header: magic "zfp" and codec version 5 (zfp 1.0), then the field metadata.
ZFP_MAGIC = b"zfp\x05"
ZFP_TYPES = {1: np.dtype(np.int32), 2: np.dtype(np.int64), 3: np.dtype(np.float32), 4: np.dtype(np.float64)}


def zfp_field(stream: bytes) -> tuple[np.dtype, tuple[int, ...]]:
    """Scalar type and C-order shape that a zfp stream header describes (read without zfp).

    Layout (zfp 1.0 ``zfp_write_header``, bits LSB first): 32 bits magic, then 52 bits of
    field metadata: type - 1 (2 bits), dimensions - 1 (2 bits), then each size - 1 in
    ``48 / dims`` bits, x (the fastest axis) first. zfp allocates the field this header
    describes, so :class:`ZfpCodec` compares it with the framing before decoding.
    """
    if len(stream) < 16 or stream[:4] != ZFP_MAGIC:
        raise CorruptStreamError("zfp payload does not start with a zfp 1.0 stream header")
    meta = (int.from_bytes(stream[:16], "little") >> 32) & ((1 << 52) - 1)
    dims = ((meta >> 2) & 3) + 1
    width = 48 // dims
    sizes = [((meta >> (4 + i * width)) & ((1 << width) - 1)) + 1 for i in range(dims)]
    return ZFP_TYPES[(meta & 3) + 1], tuple(reversed(sizes))


class ZfpCodec(ErrorBoundedCodec):
    """zfp fixed-accuracy mode on the (B, H, W) array; reversible mode at ``max_error=0``."""

    name: ClassVar[str] = "zfp"
    #: zfp keeps bit planes down to the largest power of two <= the tolerance and its errors stay
    #: well below it (measured on synthetic-hsi: about a quarter), so 1 would buy nothing over 0
    #: and the sweep reaches further.
    knob: ClassVar[Knob] = replace(ErrorBoundedCodec.knob, default_points=(0, 2, 4, 8, 16, 32, 64, 128, 256))
    library: ClassVar[str] = "ZFP"
    library_prefix: ClassVar[str] = "zfp"
    #: Each 4 x 4 x 4 block costs at least one bit: at most 64 values a bit. Measured on a constant
    #: 1 x 2048 x 2048 band: 622608 bytes or more (at most 7 samples a byte).
    max_samples_per_byte: ClassVar[float] = 8.0 * 64
    description: ClassVar[str] = (
        "zfp (via imagecodecs) fixed-accuracy mode on the 3-D cube, absolute error bound max_error; "
        "0 = reversible (lossless)"
    )

    def row_columns(self, cube: Cube) -> dict[str, Any]:
        """zfp mode and the tolerance passed to it."""
        if self.bound(cube) == 0:
            return {"zfp_mode": "reversible", "zfp_tolerance": 0.0}
        return {"zfp_mode": "fixed-accuracy", "zfp_tolerance": self.tolerance(cube)}

    def encode_payload(self, cube: Cube) -> bytes:
        """The zfp stream with its header (field type and shape)."""
        module = self.lib()
        if self.bound(cube) == 0:
            if cube.is_float:
                values = cube.data
            else:  # integers reversibly as int32 (int64 for 32-bit unsigned)
                wide = int(cube.bit_depth) == 32 and not cube.signed  # type: ignore[arg-type]
                values = cube.data.astype(np.int64 if wide else np.int32)
            return bytes(module.zfp_encode(np.ascontiguousarray(values), mode="reversible"))
        values = np.ascontiguousarray(cube.data, dtype=self.coded_type(cube))
        return bytes(module.zfp_encode(values, level=self.tolerance(cube), mode="accuracy"))

    def decode_array(self, payload: memoryview, header: StreamHeader) -> np.ndarray:
        """zfp decoding; the zfp header's type and shape are checked against the framing first."""
        stream = bytes(payload)
        zfp_type, shape = zfp_field(stream)
        dtype = np.dtype(header.dtype)
        if dtype.kind == "f":
            expected_type = dtype
        elif header.bit_depth == 32 and dtype.kind == "u":
            expected_type = np.dtype(np.int64)  # reversible; a lossy stream has float64 (below)
        else:
            expected_type = np.dtype(np.int32)
        allowed = {expected_type, self.float_type(dtype, header.bit_depth)}
        if zfp_type not in allowed or shape != header.shape:
            raise CorruptStreamError(
                f"zfp stream holds {zfp_type} values of shape {shape}; the framing announces {header.shape} "
                f"{header.dtype} samples"
            )
        values = self.decode_call("the zfp stream", "zfp_decode", stream)
        return self.to_samples(self.check_decoded(values, header), header)


#: SZ3 3.3 streams (as imagecodecs writes them) start: a length byte, the magic 0xF342F310.
SZ3_MAGIC = (0xF342F310).to_bytes(4, "little")


def sz3_dimensions(stream: bytes) -> tuple[bytes, tuple[int, ...], int]:
    """Data version, dimensions (slowest first, sizes of 1 dropped) and value count of an SZ3 stream.

    SZ3's decoder aborts the process (an uncaught C++ exception) on a stream it cannot
    parse, so :class:`Sz3Codec` reads these fields itself first. Layout: length byte,
    magic (4), data version (4), N (1), bit width w (1), N dimensions packed in w bits each
    (LSB first), value count (uint64).
    """
    if len(stream) < 11 or stream[1:5] != SZ3_MAGIC:
        raise CorruptStreamError("sz3 payload is not an SZ3 stream (magic number missing)")
    version = bytes(stream[5:9])
    ndim, width = stream[9], stream[10]
    if not 1 <= ndim <= 4 or not 1 <= width <= 64:
        raise CorruptStreamError(f"sz3 stream header is damaged ({ndim} dimensions of {width} bits)")
    packed = (ndim * width + 7) // 8
    if len(stream) < 11 + packed + 8:
        raise CorruptStreamError("sz3 stream is truncated inside its header")
    bits = int.from_bytes(stream[11 : 11 + packed], "little")
    dims = tuple((bits >> (i * width)) & ((1 << width) - 1) for i in range(ndim))
    count = int.from_bytes(stream[11 + packed : 19 + packed], "little")
    return version, dims, count


class Sz3Codec(ErrorBoundedCodec):
    """SZ3 with an absolute error bound on the (B, H, W) array."""

    name: ClassVar[str] = "sz3"
    library: ClassVar[str] = "SZ3"
    library_prefix: ClassVar[str] = "sz3"
    #: Version 2: the payload is the size in bytes (4 / 8) of the coded floating-point values (SZ3's
    #: header does not record it, and decoding with the other type aborts), the SZ3 stream and a
    #: CRC-32 of both (``sealed``; module docstring).
    version: ClassVar[int] = 2
    sealed: ClassVar[bool] = True
    #: No format floor: a constant array costs SZ3 a nearly fixed size. Measured on a constant
    #: 1 x 2048 x 2048 band: 167 bytes (float32, max_error 4) to 173 bytes (integers), about
    #: 25000 samples a byte; the bound leaves a margin of 40 for larger cubes.
    max_samples_per_byte: ClassVar[float] = float(1 << 20)
    description: ClassVar[str] = (
        "SZ3 (via imagecodecs) prediction + linear quantisation on the 3-D cube, absolute error bound "
        "max_error (integer cubes: 0 = lossless)"
    )

    def supports(self, cube: Cube) -> None:
        """Float cubes need ``max_error > 0`` (SZ3's quantiser has no exact mode for floats)."""
        if cube.is_float and self.bound(cube) == 0:
            raise UnsupportedCubeError(
                f"sz3 cannot code the float cube {cube.name!r} losslessly: its quantiser needs an error bound "
                "above 0. Give max_error > 0, or use zfp / lerc, which have lossless modes"
            )

    def row_columns(self, cube: Cube) -> dict[str, Any]:
        """The absolute bound passed to SZ3."""
        return {"sz3_abs_bound": self.tolerance(cube)}

    def encode_payload(self, cube: Cube) -> bytes:
        """The SZ3 stream of the samples as floating-point values."""
        values = np.ascontiguousarray(cube.data, dtype=self.coded_type(cube))
        stream = bytes(self.lib().sz3_encode(values, mode="abs", abs=self.tolerance(cube)))
        return self.seal(bytes([values.dtype.itemsize]) + stream)

    def decode_array(self, payload: memoryview, header: StreamHeader) -> np.ndarray:
        """Check the value type byte and the SZ3 header against the framing, then decode."""
        dtype = self.float_type(header.dtype, header.bit_depth)
        if len(payload) < 1 or payload[0] != dtype.itemsize:
            raise CorruptStreamError(
                f"sz3 payload holds {payload[0] if len(payload) else '?'}-byte floating-point values; the framing's "
                f"{header.bit_depth}-bit {header.dtype} samples are coded as {dtype}"
            )
        stream = bytes(payload[1:])
        version, dims, count = sz3_dimensions(stream)
        expected = tuple(d for d in header.shape if d > 1) or (1,)
        total = int(np.prod(header.shape, dtype=np.int64))
        if dims != expected or count != total:
            raise CorruptStreamError(
                f"sz3 stream holds {'x'.join(map(str, dims))} values ({count}); the framing announces {header.shape}"
            )
        if version != _sz3_version(self.lib()):
            raise CorruptStreamError(f"sz3 stream has data version {version.hex()}, which this SZ3 does not read")
        values = self.decode_call("the SZ3 stream", "sz3_decode", stream, header.shape, dtype)
        return self.to_samples(self.check_decoded(values, header), header)


_SZ3_VERSION: bytes | None = None


def _sz3_version(module: Any) -> bytes:
    """Data version this SZ3 writes (and reads), from a 1-value stream, computed once."""
    global _SZ3_VERSION
    if _SZ3_VERSION is None:
        _SZ3_VERSION = sz3_dimensions(bytes(module.sz3_encode(np.zeros(2, np.float32), mode="abs", abs=1.0)))[0]
    return _SZ3_VERSION


#: LERC 2 data type codes (``Lerc2::DataType``) of the sample types.
LERC_TYPES = {"i1": 0, "u1": 1, "i2": 2, "u2": 3, "i4": 4, "u4": 5, "f4": 6, "f8": 7}
LERC_HEADER = struct.Struct("<6si I 7i")  # key, version, checksum, rows, cols, depth, valid, block, size, type
LERC_VERSION = 4


def check_lerc_blobs(stream: bytes, header: StreamHeader) -> None:
    """Check the LERC 2 (version 4) blob headers of a planar stream against the framing.

    A planar stream is one blob per band (Esri LERC ``Lerc2::WriteHeader``): ``"Lerc2 "``,
    version, Fletcher-32 checksum, rows, columns, depth, valid pixels, micro-block size,
    blob size and data type (int32 each), then three doubles. LERC allocates the raster
    its first header describes before checking anything, so each header must describe one
    band of the framing (no mask, depth 1) and the blobs must tile the payload exactly.
    """
    code = LERC_TYPES.get(np.dtype(header.dtype).str[1:])
    pos, bands = 0, 0
    while pos < len(stream):
        if len(stream) - pos < LERC_HEADER.size + 24:
            raise CorruptStreamError(f"lerc stream is truncated inside the header of blob {bands}")
        key, version, _, rows, cols, depth, valid, _, size, dtype = LERC_HEADER.unpack_from(stream, pos)
        if key != b"Lerc2 " or version != LERC_VERSION:
            raise CorruptStreamError(f"lerc blob {bands} is not a LERC 2 version {LERC_VERSION} blob")
        if (rows, cols, depth, valid, dtype) != (header.rows, header.cols, 1, header.rows * header.cols, code) or not (
            LERC_HEADER.size + 24 <= size <= len(stream) - pos
        ):
            raise CorruptStreamError(
                f"lerc blob {bands} describes {rows} x {cols} x {depth} values of type {dtype} ({valid} valid) in "
                f"{size} bytes; the framing announces {header.rows} x {header.cols} {header.dtype} bands"
            )
        pos, bands = pos + size, bands + 1
    if bands != header.bands:
        raise CorruptStreamError(f"lerc stream holds {bands} band blob(s); the framing announces {header.bands}")


class LercCodec(ErrorBoundedCodec):
    """LERC 2 per band with the absolute bound ``maxZError``; integer bands natively."""

    name: ClassVar[str] = "lerc"
    library: ClassVar[str] = "LERC"
    library_prefix: ClassVar[str] = "lerc"
    #: A constant band is its 66-byte blob header and nothing else, whatever its size: measured
    #: 70 bytes for a constant 1 x 2048 x 2048 band of every type (59919 samples a byte). The bound
    #: admits constant bands up to about 1.1e9 samples (33000 x 33000); every blob header is
    #: checked against the framing before LERC allocates (:func:`check_lerc_blobs`).
    max_samples_per_byte: ClassVar[float] = float(1 << 24)
    description: ClassVar[str] = (
        "LERC (Esri, via imagecodecs) per band, absolute error bound max_error (maxZError); 0 = lossless"
    )

    def z_error(self, cube: Cube) -> float:
        """LERC's ``maxZError``: the bound for floats, ``e + 0.5`` for integers (0.5 = lossless)."""
        e = self.bound(cube)
        return e if cube.is_float else e + 0.5

    def row_columns(self, cube: Cube) -> dict[str, Any]:
        """The ``maxZError`` passed to LERC."""
        return {"lerc_max_z_error": self.z_error(cube)}

    def encode_payload(self, cube: Cube) -> bytes:
        """One LERC blob holding every band (planar), in the cube's own dtype."""
        data = np.ascontiguousarray(cube.data)
        return bytes(self.lib().lerc_encode(data, level=self.z_error(cube), planar=True))

    def decode_array(self, payload: memoryview, header: StreamHeader) -> np.ndarray:
        """LERC decoding, after :func:`check_lerc_blobs`; the blob's type must be the framing's."""
        stream = bytes(payload)
        check_lerc_blobs(stream, header)
        values = np.asarray(self.decode_call("the LERC blob", "lerc_decode", stream))
        if values.dtype != np.dtype(header.dtype):
            raise CorruptStreamError(f"lerc blob holds {values.dtype} values; the framing announces {header.dtype}")
        return self.to_samples(self.check_decoded(values, header), header)
