"""``ccsds121``: CCSDS 121.0-B-3 lossless data compression (adaptive Rice coding) through libaec.

CCSDS 121.0-B-3 (Blue Book, August 2020) codes a 1-D sequence of n-bit samples:
the preprocessor (section 4) predicts each sample by the previous one (unit-delay
predictor) and maps the prediction error to a non-negative integer; the adaptive
entropy coder (section 5) then codes blocks of J samples with the best of its
options (zero-block, second extension, k-split Rice codes, no compression), and
every reference sample interval of r blocks restarts the predictor with an
uncompressed reference sample. libaec (DKRZ / DLR) implements the standard, and is
the coder behind the HDF / GRIB "szip" filter.

The cube is coded as one sequence, band-sequential (``order="bsq"``: each band's
rows in turn, so the predictor is the left neighbour) or band-interleaved by pixel
(``order="bip"``: the predictor is the same pixel in the previous band). Samples
are D-bit (the cube's nominal depth, 1..32); signed data is offset to unsigned
first (:mod:`.base`), which leaves every prediction error, hence the rate, as it is
(with imagecodecs 2026.3.6 / libaec 1.1.6 the signed mode did not round-trip
12-bit samples in 16-bit words; measured). Parameters: ``block_size`` J (8, 16, 32
or 64) and ``rsi`` r (blocks per reference sample interval, 1..4096).

Payload: ``order`` (0 = bsq, 1 = bip), J, r (uint16 little-endian), then the
bare libaec stream.
"""

from __future__ import annotations

import struct
from typing import Any, ClassVar

import numpy as np

from hsbench.codecs.base import Kind
from hsbench.codecs.container import StreamHeader
from hsbench.codecs.imagecodecs.base import ImagecodecsCodec, from_unsigned, require_integer, storage_dtype, to_unsigned
from hsbench.cube import Cube
from hsbench.errors import CodecParameterError, CorruptStreamError

ORDERS = ("bsq", "bip")
BLOCK_SIZES = (8, 16, 32, 64)
_HEAD = struct.Struct("<BBH")  # order, block size, rsi


def rice_floor_bits(samples: int, bit_depth: int, block_size: int, rsi: int) -> int:
    """Fewest bits a CCSDS 121 stream of ``samples`` samples can take.

    With the preprocessor on, every reference sample interval of ``rsi * block_size``
    samples starts with its reference sample, sent uncompressed in ``bit_depth`` bits
    (CCSDS 121.0-B-3, the preprocessor's reference sample), so a stream holds at least
    that many bits per interval.
    """
    intervals = -(-samples // (rsi * block_size))
    return intervals * bit_depth


class Ccsds121Codec(ImagecodecsCodec):
    """CCSDS 121.0-B-3 lossless coder (unit-delay preprocessor + adaptive Rice coder) via libaec."""

    name: ClassVar[str] = "ccsds121"
    kind: ClassVar[Kind] = Kind.LOSSLESS
    params: ClassVar[dict[str, Any]] = {"block_size": 16, "rsi": 128, "order": "bsq"}
    library: ClassVar[str] = "AEC"
    library_prefix: ClassVar[str] = "aec"
    #: Measured on a constant 1 x 2048 x 2048 band: 6660 bytes (8-bit, 630 samples a byte) and 8196
    #: bytes (12-bit); the zero-block option (CCSDS 121.0-B-3 3.4.4) bounds it; margin 13.
    max_samples_per_byte: ClassVar[float] = 8192.0
    description: ClassVar[str] = (
        "CCSDS 121.0-B-3 lossless adaptive Rice coder with its unit-delay preprocessor (libaec via "
        "imagecodecs), 1..32-bit integers, BSQ or BIP sample order"
    )

    def validate_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """Check ``block_size`` (8, 16, 32, 64), ``rsi`` (1..4096) and ``order`` (bsq, bip)."""
        if params["block_size"] not in BLOCK_SIZES or isinstance(params["block_size"], bool):
            raise CodecParameterError(
                f"ccsds121 block_size must be one of {', '.join(map(str, BLOCK_SIZES))} (CCSDS 121.0-B-3), "
                f"got {params['block_size']!r}"
            )
        rsi = params["rsi"]
        if isinstance(rsi, bool) or not isinstance(rsi, (int, np.integer)) or not 1 <= rsi <= 4096:
            raise CodecParameterError(f"ccsds121 rsi must be an integer number of blocks in 1..4096, got {rsi!r}")
        if params["order"] not in ORDERS:
            raise CodecParameterError(f"ccsds121 order must be 'bsq' or 'bip', got {params['order']!r}")
        return {"block_size": int(params["block_size"]), "rsi": int(rsi), "order": params["order"]}

    def supports(self, cube: Cube) -> None:
        """Integer samples of 1..32 bits (CCSDS 121.0-B-3, 1 <= n <= 32)."""
        require_integer(cube, self.name, 32)

    @staticmethod
    def _flags(module: Any) -> int:
        return int(module.AEC.FLAG.DATA_PREPROCESS)

    def encode_payload(self, cube: Cube) -> bytes:
        """Parameters, then the libaec stream of the samples in BSQ or BIP order."""
        module = self.lib()
        depth = int(cube.bit_depth)  # type: ignore[arg-type]
        codes = to_unsigned(cube.data, depth, cube.signed)
        samples = np.ascontiguousarray(codes if self.config["order"] == "bsq" else codes.transpose(1, 2, 0))
        stream = module.aec_encode(
            samples, bitspersample=depth, flags=self._flags(module),
            blocksize=self.config["block_size"], rsi=self.config["rsi"],
        )
        order = ORDERS.index(self.config["order"])
        return _HEAD.pack(order, self.config["block_size"], self.config["rsi"]) + bytes(stream)

    def decode_array(self, payload: memoryview, header: StreamHeader) -> np.ndarray:
        """Check the parameters and the stream's size against the geometry, then decode with libaec."""
        if len(payload) < _HEAD.size:
            raise CorruptStreamError("ccsds121 payload is shorter than its parameter header")
        order, block_size, rsi = _HEAD.unpack_from(payload, 0)
        if order >= len(ORDERS) or block_size not in BLOCK_SIZES or not 1 <= rsi <= 4096:
            raise CorruptStreamError(
                f"ccsds121 payload holds invalid parameters (order {order}, block size {block_size}, rsi {rsi})"
            )
        depth = header.bit_depth
        if np.dtype(header.dtype).kind not in "iu" or not 1 <= depth <= 32:
            raise CorruptStreamError(f"ccsds121 stream framed as {header.dtype} {depth}-bit samples")
        stream = bytes(payload[_HEAD.size :])
        count = int(np.prod(header.shape, dtype=np.int64))
        if 8 * len(stream) < rice_floor_bits(count, depth, block_size, rsi):
            raise CorruptStreamError(
                f"ccsds121 stream of {len(stream)} bytes is too short for the {count} samples its framing "
                f"announces (each interval of {rsi} blocks of {block_size} starts with a {depth}-bit reference)"
            )
        module = self.lib()
        storage = storage_dtype(depth)
        padded = -(-count // block_size) * block_size  # libaec codes the last block whole
        raw = self.decode_call(
            "the CCSDS 121 stream", "aec_decode", stream, bitspersample=depth, flags=self._flags(module),
            blocksize=block_size, rsi=rsi, out=padded * storage.itemsize,
        )
        if len(raw) != padded * storage.itemsize:
            raise CorruptStreamError(
                f"ccsds121 stream ends after {len(raw) // storage.itemsize} of its {count} samples: truncated"
            )
        samples = np.frombuffer(raw, dtype=storage, count=count)
        if samples.size and int(samples.max()) >> depth:
            raise CorruptStreamError(f"ccsds121 stream decodes to samples outside the {depth}-bit range: damaged")
        bands, rows, cols = header.shape
        if ORDERS[order] == "bip":
            return from_unsigned(samples.reshape(rows, cols, bands).transpose(2, 0, 1), header)
        return from_unsigned(samples.reshape(header.shape), header)
