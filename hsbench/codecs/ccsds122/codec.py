"""``ccsds122``: a CCSDS 122.0-B-2 style DWT image coder, applied band by band.

Pipeline per band (CCSDS 122.0-B-2, "Image Data Compression", Blue Book, 2017):

1. Pad rows and columns to multiples of 8 by replicating the last row / column
   (the decoder crops them away).
2. 3-level 2-D DWT (section 3): the reversible integer 9/7-M transform with the
   standard's subband weights (left shifts LL3/HL3/LH3 3, HH3 2, HL2/LH2 2, HH2 1,
   HL1/LH1 1, HH1 0; section 3.9) when ``lossless=True``; otherwise the float CDF
   9/7 transform, its coefficients rounded to integers (no weights: the float
   transform is already close to orthonormal). See :mod:`hsbench.codecs.ccsds122.dwt97`.
3. The bit-plane encoder (section 4) over blocks of 1 DC and 63 AC coefficients
   (3 parents, 12 children, 48 grandchildren) in segments of ``segment_blocks``
   blocks, cut at SegByteLimit bytes per segment, which is the rate control. See
   :mod:`hsbench.codecs.ccsds122.bpe` for the stages and the simplifications
   (own symbol mapping and Rice-type codes for the stage 1-3 words instead of the
   standard's tables; header parts 2-4 replaced by the stream header below), which
   make the stream CCSDS 122-structured but not bit-exact CCSDS 122.0-B-2.

The rate knob ``bpppc`` (bits per pixel per band, i.e. per band-pixel; called
``bpp`` before, which still works with a warning) becomes
``SegByteLimit = floor(bpppc * rows * cols * S / (8 * blocks))``, the byte budget of
a segment of ``S`` blocks, so that a band of ``rows x cols`` real pixels gets about
``bpppc * rows * cols / 8`` bytes. ``lossless=True`` codes every bit plane of the
integer transform (``bpppc`` is then ignored) and is exact.

Payload layout: 1 byte flags (bit 0: integer DWT / lossless, bit 1: signed samples,
bits 2-5: pixel bit depth - 1, as the standard's header part 4 carries SignedPixels
and PixelBitDepth), 3 bytes S, 4 bytes SegByteLimit (0: none), all little-endian,
then the segments of band 0, band 1, ... Integer samples of 1 to 16 bits, unsigned
or signed (the standard's dynamic range), are supported. The decoder checks the
bit depth and signedness against the stream's framing, and the framing's geometry
against the payload length: every segment of ``S`` blocks (64 pixels each) costs at
least one bit per block (its DC values) or, when cut, SegByteLimit bytes, which the
encoder never sets below ``0.01 * 64 * S / 8`` (the knob's lower end); so a payload
byte stands for at most 800 samples (``max_samples_per_byte`` = 1024).
"""

from __future__ import annotations

import functools
import struct
from typing import Any

import numpy as np

from hsbench.codecs.base import Codec, Kind, Knob
from hsbench.codecs.container import StreamHeader
from hsbench.cube import Cube, integer_range
from hsbench.errors import CodecParameterError, CorruptStreamError, UnsupportedCubeError

#: int64 coefficient bytes transformed at a time (whole bands, at least one): bounds the memory
#: of encoding and decoding a large cube.
BAND_CHUNK_BYTES = 64 << 20

#: Subband weight (left shift) of each of the 64 block slots for the integer DWT (section 3.9).
INTEGER_SHIFTS = np.array([3, 3, 3, 2] + [2] * 8 + [1] * 4 + [1] * 32 + [0] * 16, dtype=np.int64)
FLOAT_SHIFTS = np.zeros(64, dtype=np.int64)
MAX_SEGMENT_BLOCKS = 1 << 20  # the standard's limit on S
MAX_BIT_DEPTH = 16
_HEADER = struct.Struct("<B3sI")
_MIN_SEG_BYTES = 8
_LOSSLESS, _SIGNED, _DEPTH_SHIFT = 0x01, 0x02, 2  # payload flags byte (module docstring)


@functools.lru_cache(maxsize=32)
def block_index(rows: int, cols: int) -> np.ndarray:
    """Flat indices into a 3-level Mallat DWT image ``(rows, cols)`` of each block's 64 coefficients.

    Row ``k`` (blocks in raster order, section 4.1) lists the DC coefficient, the
    parents in HL3 / LH3 / HH3, the 2x2 children in HL2 / LH2 / HH2 and the 4x4
    grandchildren in HL1 / LH1 / HH1, in the slot order of
    :mod:`hsbench.codecs.ccsds122.bpe`.
    """
    h8, w8 = rows // 8, cols // 8
    r, c = np.meshgrid(np.arange(h8), np.arange(w8), indexing="ij")
    r, c = r.ravel(), c.ravel()
    out = np.empty((h8 * w8, 64), dtype=np.int64)

    def origin(level: int, family: int) -> tuple[int, int]:
        h, w = rows >> level, cols >> level
        return ((0, w), (h, 0), (h, w))[family]

    out[:, 0] = r * cols + c
    for i in range(3):
        oy, ox = origin(3, i)
        out[:, 1 + i] = (oy + r) * cols + ox + c
        oy, ox = origin(2, i)
        for k in range(4):
            dr, dc = divmod(k, 2)
            out[:, 4 + 4 * i + k] = (oy + 2 * r + dr) * cols + ox + 2 * c + dc
        oy, ox = origin(1, i)
        for j in range(4):
            dr, dc = divmod(j, 2)
            for k in range(4):
                er, ec = divmod(k, 2)
                out[:, 16 + 16 * i + 4 * j + k] = (oy + 4 * r + 2 * dr + er) * cols + ox + 4 * c + 2 * dc + ec
    out.setflags(write=False)
    return out


def _padded(n: int) -> int:
    return max(8, -(-n // 8) * 8)


def _nblocks(rows: int, cols: int) -> int:
    """8x8 blocks of a band of ``rows x cols`` pixels once padded."""
    return (_padded(rows) // 8) * (_padded(cols) // 8)


def _bpe():
    from hsbench.codecs.ccsds122 import bpe  # numba is imported here, not when the registry loads

    return bpe


class Ccsds122Codec(Codec):
    """CCSDS 122.0-B-2 style wavelet coder per band: 9/7 DWT + bit-plane encoder with segment byte limits."""

    name = "ccsds122"
    kind = Kind.LOSSY
    knob = Knob(
        name="bpppc",
        low=0.01,
        high=32.0,
        increases_rate=True,
        default_points=(0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0),
        log_scale=True,
        unit="bits/pixel/band",
        help="target bits per pixel of each band, turned into the per-segment byte limit SegByteLimit",
    )
    params: dict[str, Any] = {"bpppc": 1.0, "lossless": False, "segment_blocks": None}
    aliases = {"bpp": "bpppc"}
    version = 2  # 2: bit depth and signedness in the payload's flags byte
    max_samples_per_byte = 1024.0  # <= 800 (module docstring)
    fuzz_shapes = ((2, 16, 24), (1, 9, 13))
    requires = ("numba",)
    description = (
        "CCSDS 122.0-B-2 style DWT coder per band (integer 9/7-M lossless / float 9/7 lossy, "
        "bit-plane encoder, SegByteLimit rate control; own word codes, not bit-exact)"
    )

    def validate_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """Check ``lossless`` (bool) and ``segment_blocks`` (None = whole band, or 1 .. 2**20)."""
        if not isinstance(params["lossless"], (bool, np.bool_)):
            raise CodecParameterError(f"lossless must be true or false, got {params['lossless']!r}")
        params["lossless"] = bool(params["lossless"])
        s = params["segment_blocks"]
        if s is not None:
            if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or not 1 <= s <= MAX_SEGMENT_BLOCKS:
                raise CodecParameterError(
                    f"segment_blocks must be an integer in 1..{MAX_SEGMENT_BLOCKS} (blocks of 8x8 pixels per "
                    f"segment) or None for whole bands, got {s!r}"
                )
            params["segment_blocks"] = int(s)
        return params

    def supports(self, cube: Cube) -> None:
        """Integer samples of at most 16 bits, as CCSDS 122.0-B-2 allows."""
        if cube.is_float:
            raise UnsupportedCubeError(
                f"ccsds122 codes integer samples only, got {cube.dtype}; quantise the data to at most "
                f"{MAX_BIT_DEPTH}-bit integers first"
            )
        if int(cube.bit_depth) > MAX_BIT_DEPTH:  # type: ignore[arg-type]
            raise UnsupportedCubeError(
                f"ccsds122 supports bit depths up to {MAX_BIT_DEPTH} (CCSDS 122.0-B-2 dynamic range), "
                f"got {cube.bit_depth}-bit {cube.dtype} data; rescale it or declare the true bit depth"
            )

    def max_error(self, cube: Cube) -> float | None:
        """0 in lossless mode, no bound otherwise."""
        return 0.0 if self.config["lossless"] else None

    # -- geometry and rate -------------------------------------------------------
    def _segment_blocks(self, nblocks: int) -> int:
        s = self.config["segment_blocks"]
        return min(nblocks, MAX_SEGMENT_BLOCKS if s is None else s)

    def seg_byte_limit(self, rows: int, cols: int) -> int:
        """SegByteLimit for a band of ``rows x cols`` pixels (0 in lossless mode: no limit)."""
        if self.config["lossless"]:
            return 0
        nblocks = _nblocks(rows, cols)
        s = self._segment_blocks(nblocks)
        return max(_MIN_SEG_BYTES, int(self.config["bpppc"] * rows * cols * s / (8 * nblocks)))

    def row_columns(self, cube: Cube) -> dict[str, Any]:
        """Transform, segment size and SegByteLimit used on ``cube``."""
        return {
            "dwt": "integer 9/7-M" if self.config["lossless"] else "float 9/7",
            "segment_blocks": self._segment_blocks(_nblocks(cube.rows, cube.cols)),
            "seg_byte_limit": self.seg_byte_limit(cube.rows, cube.cols),
        }

    # -- coding -------------------------------------------------------------------
    def _transform(self, data: np.ndarray) -> np.ndarray:
        from hsbench.codecs.ccsds122 import dwt97

        B, H, W = data.shape
        padded = np.pad(data.astype(np.int64), ((0, 0), (0, _padded(H) - H), (0, _padded(W) - W)), mode="edge")
        if self.config["lossless"]:
            return dwt97.forward_integer(padded, 3)
        return np.rint(dwt97.forward_float(padded, 3)).astype(np.int64)

    def _band_step(self, rows: int, cols: int) -> int:
        """Bands transformed together: about :data:`BAND_CHUNK_BYTES` of int64 coefficients, at least one."""
        return max(1, BAND_CHUNK_BYTES // (8 * _padded(rows) * _padded(cols)))

    def encode_payload(self, cube: Cube) -> bytes:
        """Header, then the bit-plane coded segments of every band.

        Bands are transformed and coded a few at a time (:meth:`_band_step`), so a
        large cube never has whole-cube int64 / float64 copies; every band's
        segments are independent, so the stream is the same whatever the grouping.
        """
        bpe = _bpe()
        B = cube.bands
        Hp, Wp = _padded(cube.rows), _padded(cube.cols)
        idx = block_index(Hp, Wp)
        nb = idx.shape[0]
        lossless = self.config["lossless"]
        shifts = INTEGER_SHIFTS if lossless else FLOAT_SHIFTS
        s = self._segment_blocks(nb)
        limit = self.seg_byte_limit(cube.rows, cube.cols)
        nseg = -(-nb // s)
        flags = int(lossless) | (_SIGNED if cube.signed else 0) | ((int(cube.bit_depth) - 1) << _DEPTH_SHIFT)
        parts = [_HEADER.pack(flags, s.to_bytes(3, "little"), limit)]
        buf = np.zeros(0, dtype=np.uint8)
        step = self._band_step(cube.rows, cube.cols)
        for b0 in range(0, B, step):
            coef = self._transform(cube.data[b0 : b0 + step])
            blocks = coef.reshape(coef.shape[0], -1)[:, idx] << shifts
            del coef
            bits = int(np.abs(blocks).max()).bit_length()
            if bits > 30:  # BitDepthDC / BitDepthAC are 5-bit fields
                raise UnsupportedCubeError(
                    f"ccsds122: DWT coefficients of {bits} bits exceed the standard's 5-bit bit-depth fields; "
                    "use data of at most 16 bits"
                )
            # Worst case of a fully coded band: per coefficient and plane at most one type or refinement
            # bit plus a sign, 19 transition bits per block and plane, 64 bits of DC / bit-depth data.
            per_block = (64 * (bits + 2) + 19 * bits + 64) // 8 + 1
            need = nb * per_block + nseg * (8 + bits) + 64
            if buf.size < need:
                buf = np.zeros(need, dtype=np.uint8)
            for band in range(blocks.shape[0]):
                n = bpe.encode_band(np.ascontiguousarray(blocks[band]), shifts, int(shifts[0]), s, limit, buf)
                parts.append(buf[:n].tobytes())
                buf[:n] = 0
        return b"".join(parts)

    def decode_payload(self, payload: memoryview, header: StreamHeader) -> np.ndarray:
        """Parse the header, decode every band's segments, invert the DWT and crop the padding."""
        from hsbench.codecs.ccsds122 import dwt97

        bpe = _bpe()
        data = np.frombuffer(payload, dtype=np.uint8)
        if data.size < _HEADER.size:
            raise CorruptStreamError("ccsds122: payload shorter than its 8-byte header")
        flags, s_bytes, limit = _HEADER.unpack_from(data)
        s = int.from_bytes(s_bytes, "little")
        lossless = bool(flags & _LOSSLESS)
        if flags >> 6 or not 1 <= s <= MAX_SEGMENT_BLOCKS or (lossless and limit != 0):
            raise CorruptStreamError(f"ccsds122: invalid payload header (flags {flags}, S {s}, limit {limit})")
        depth, signed = ((flags >> _DEPTH_SHIFT) & 15) + 1, bool(flags & _SIGNED)
        if header.dtype.kind not in "iu" or (depth, signed) != (header.bit_depth, header.dtype.kind == "i"):
            raise CorruptStreamError(
                f"ccsds122: the payload holds {depth}-bit {'signed' if signed else 'unsigned'} samples, the "
                f"stream's framing announces {header.bit_depth}-bit {header.dtype}"
            )
        B, H, W = header.shape
        nb = _nblocks(H, W)
        floor = max(_MIN_SEG_BYTES, int(self.knob.low * H * W * min(s, nb) / (8 * nb)))
        if not lossless and limit < floor:  # what seg_byte_limit gives at the knob's lower end
            raise CorruptStreamError(
                f"ccsds122: SegByteLimit {limit} is below {floor}, the least the encoder writes for "
                f"{H} x {W} bands in segments of {min(s, nb)} blocks"
            )
        Hp, Wp = _padded(H), _padded(W)
        idx = block_index(Hp, Wp)
        shifts = INTEGER_SHIFTS if lossless else FLOAT_SHIFTS
        lo, hi = integer_range(header.bit_depth, header.dtype.kind == "i")
        out = np.empty((B, H, W), dtype=header.dtype)
        blocks = np.empty((nb, 64), dtype=np.int64)
        pos = _HEADER.size
        step = self._band_step(H, W)
        for b0 in range(0, B, step):  # a few bands at a time, as in encode_payload
            n = min(step, B - b0)
            coef = np.empty((n, Hp * Wp), dtype=np.int64)
            for j in range(n):
                pos = bpe.decode_band(data, pos, nb, shifts, int(shifts[0]), min(s, nb), limit, blocks)
                if pos < 0:
                    what = "truncated" if pos == bpe.ERR_TRUNCATED else "corrupt"
                    raise CorruptStreamError(f"ccsds122: band {b0 + j} of {B}: the bit-plane data is {what}")
                coef[j, idx] = blocks >> shifts
            coef = coef.reshape(n, Hp, Wp)
            if lossless:  # exact: samples outside the range can only come from a damaged stream
                image = dwt97.inverse_integer(coef, 3)[:, :H, :W]
                if image.min() < lo or image.max() > hi:
                    raise CorruptStreamError("ccsds122: lossless stream decodes to samples outside the bit depth")
            else:
                image = np.rint(dwt97.inverse_float(coef, 3)[:, :H, :W])
                np.minimum(image, hi, out=image)
                np.maximum(image, lo, out=image)
            out[b0 : b0 + n] = image
            del coef, image
        if pos != data.size:
            raise CorruptStreamError(f"ccsds122: {data.size - pos} unexpected bytes after the last band")
        return out
