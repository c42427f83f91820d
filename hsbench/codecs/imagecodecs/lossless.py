"""General-purpose lossless floors: zstd, and Blosc2 with bit-shuffle, on the raw samples.

What a generic byte compressor gets from the cube with no image model: the rate
any image coder should beat. Samples are laid out band-sequentially in the
smallest little-endian storage of their nominal depth (integers; signed data offset
by ``2**(D-1)``, :mod:`.base`) or in their own float type.

* ``zstd`` (RFC 8878) on the whole cube at ``level`` (default 9: on the synthetic-hsi
  scenes level 19 takes 30x longer for at most 5 % fewer bytes).
* ``blosc2``: one Blosc2 chunk per band, bit-shuffled (the bits of every sample
  regrouped by significance, Masui et al., "A compression scheme for radio data in
  high performance computing", Astronomy and Computing 12, 2015) then compressed with
  ``compressor`` (default zstd) at ``level``; one thread, so the timing compares with
  the single-threaded coders.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from hsbench.codecs import bandpack
from hsbench.codecs.base import Kind
from hsbench.codecs.container import StreamHeader
from hsbench.codecs.imagecodecs.base import ImagecodecsCodec, check_int, from_unsigned, storage_dtype, to_unsigned
from hsbench.cube import Cube
from hsbench.errors import CodecParameterError, CorruptStreamError, UnsupportedCubeError

#: Largest Blosc2 chunk (BLOSC2_MAX_BUFFERSIZE: INT32_MAX less the 32-byte maximum overhead).
BLOSC2_MAX_CHUNK = (1 << 31) - 1 - 32
BLOSC2_COMPRESSORS = ("blosclz", "lz4", "lz4hc", "zlib", "zstd")
BLOSC2_SHUFFLES = ("noshuffle", "shuffle", "bitshuffle")


def raw_samples(cube: Cube) -> np.ndarray:
    """The samples as the byte coders see them (module docstring)."""
    if cube.is_float:
        return np.ascontiguousarray(cube.data, dtype=cube.dtype.newbyteorder("<"))
    return np.ascontiguousarray(to_unsigned(cube.data, int(cube.bit_depth), cube.signed))  # type: ignore[arg-type]


def sample_type(header: StreamHeader) -> np.dtype:
    """Type of the raw samples of a framed cube (inverse of :func:`raw_samples`)."""
    dtype = np.dtype(header.dtype)
    return dtype.newbyteorder("<") if dtype.kind == "f" else storage_dtype(header.bit_depth)


def samples_from_bytes(raw: bytes, header: StreamHeader, count: int, what: str) -> np.ndarray:
    """``count`` raw samples from decoded bytes, refused when their length differs."""
    dtype = sample_type(header)
    if len(raw) != count * dtype.itemsize:
        raise CorruptStreamError(
            f"{header.codec}: {what} decodes to {len(raw)} bytes, not the {count * dtype.itemsize} of its "
            f"{count} samples"
        )
    return np.frombuffer(raw, dtype=dtype, count=count)


def from_raw(samples: np.ndarray, header: StreamHeader) -> np.ndarray:
    """Inverse of :func:`raw_samples` for a ``(B, H, W)`` array of raw samples."""
    if np.dtype(header.dtype).kind == "f":
        return samples.astype(header.dtype)
    return from_unsigned(samples, header)


class ZstdCodec(ImagecodecsCodec):
    """zstd on the band-sequential samples: a lossless floor."""

    name: ClassVar[str] = "zstd"
    kind: ClassVar[Kind] = Kind.LOSSLESS
    params: ClassVar[dict[str, Any]] = {"level": 9}
    library: ClassVar[str] = "ZSTD"
    library_prefix: ClassVar[str] = "zstd"
    #: RFC 8878 3.1.1.2: an RLE block of at most 128 KiB takes 4 bytes, so at most 2**15 one-byte
    #: samples a byte. Measured on a constant 1 x 2048 x 2048 band: 145 bytes for 8-bit samples
    #: (28926 samples a byte), 716 for 12-bit, 1422 for float32.
    max_samples_per_byte: ClassVar[float] = float(1 << 15)
    description: ClassVar[str] = "zstd (via imagecodecs) on the raw band-sequential samples: lossless floor"

    def validate_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """Check ``level`` (1..22)."""
        return {"level": check_int("zstd", "level", params["level"], 1, 22)}

    def encode_payload(self, cube: Cube) -> bytes:
        """One zstd frame of the raw samples."""
        return bytes(self.lib().zstd_encode(raw_samples(cube).tobytes(), level=self.config["level"]))

    def decode_array(self, payload: memoryview, header: StreamHeader) -> np.ndarray:
        """Decode into a buffer of exactly the framed size."""
        count = int(np.prod(header.shape, dtype=np.int64))
        size = count * sample_type(header).itemsize
        raw = self.decode_call("the zstd frame", "zstd_decode", bytes(payload), out=size)
        return from_raw(samples_from_bytes(bytes(raw), header, count, "the zstd frame").reshape(header.shape), header)


class Blosc2Codec(ImagecodecsCodec):
    """Blosc2 per band with bit-shuffle: a lossless floor."""

    name: ClassVar[str] = "blosc2"
    kind: ClassVar[Kind] = Kind.LOSSLESS
    params: ClassVar[dict[str, Any]] = {"level": 5, "compressor": "zstd", "shuffle": "bitshuffle"}
    library: ClassVar[str] = "BLOSC2"
    library_prefix: ClassVar[str] = "blosc2"
    #: Measured on a constant 1 x 2048 x 2048 band: 2819 bytes (8-bit, 1488 samples a byte) to 4387
    #: bytes (float32); the bound leaves a margin of 22 (blosc2 headers are per chunk, zstd inside).
    max_samples_per_byte: ClassVar[float] = float(1 << 15)
    description: ClassVar[str] = (
        "Blosc2 (via imagecodecs) per band, bit-shuffle + zstd on the raw samples: lossless floor"
    )

    def validate_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """Check ``level`` (0..9), ``compressor`` and ``shuffle``."""
        if params["compressor"] not in BLOSC2_COMPRESSORS:
            raise CodecParameterError(
                f"blosc2 compressor must be one of {', '.join(BLOSC2_COMPRESSORS)}, got {params['compressor']!r}"
            )
        if params["shuffle"] not in BLOSC2_SHUFFLES:
            raise CodecParameterError(
                f"blosc2 shuffle must be one of {', '.join(BLOSC2_SHUFFLES)}, got {params['shuffle']!r}"
            )
        return {**params, "level": check_int("blosc2", "level", params["level"], 0, 9)}

    def supports(self, cube: Cube) -> None:
        """A band must fit one Blosc2 chunk (just under 2 GiB)."""
        depth = int(cube.bit_depth)  # type: ignore[arg-type]
        size = cube.rows * cube.cols * (cube.dtype.itemsize if cube.is_float else storage_dtype(depth).itemsize)
        if size > BLOSC2_MAX_CHUNK:
            raise UnsupportedCubeError(
                f"blosc2 codes one chunk per band, at most {BLOSC2_MAX_CHUNK} bytes; a band of cube "
                f"{cube.name!r} has {size}. Cut the cube into tiles first"
            )

    def encode_payload(self, cube: Cube) -> bytes:
        """One Blosc2 chunk per band, packed with their lengths."""
        samples = raw_samples(cube)
        options = {
            "level": self.config["level"], "compressor": self.config["compressor"],
            "shuffle": self.config["shuffle"], "typesize": samples.dtype.itemsize, "numthreads": 1,
        }
        streams = [bytes(self.lib().blosc2_encode(band.tobytes(), **options)) for band in samples]
        return bandpack.pack_streams(streams, lambda stream: 0)

    def decode_array(self, payload: memoryview, header: StreamHeader) -> np.ndarray:
        """Decode every band's chunk into a buffer of exactly the band's size."""
        count = header.rows * header.cols
        size = count * sample_type(header).itemsize
        out = np.empty(header.shape, sample_type(header))
        for index, stream in enumerate(bandpack.unpack_streams(payload, 0, header.bands)):
            raw = self.decode_call(f"Blosc2 band {index}", "blosc2_decode", stream, out=size, numthreads=1)
            samples = samples_from_bytes(bytes(raw), header, count, f"band {index}")
            out[index] = samples.reshape(header.rows, header.cols)
        return from_raw(out, header)
