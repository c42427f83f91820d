"""Still-image coders of imagecodecs, band by band: JPEG-LS, JPEG XL, HTJ2K and 12-bit JPEG.

Each band is one complete grayscale codestream of the library; the streams are
packed with their common header stored once (:mod:`hsbench.codecs.bandpack`).
Integer samples go to the library in the smallest unsigned storage of their
nominal depth, signed data offset by ``2**(D-1)`` (:mod:`.base`).

* ``jpegls``: JPEG-LS (ITU-T T.87 / ISO 14495-1) through CharLS, lossless at
  ``max_error=0`` and near-lossless with NEAR = ``max_error`` otherwise
  (T.87 A.4.4: every reconstructed sample within NEAR of the original). NEAR is
  capped at ``min(255, 2**(D-1) - 1)`` (CharLS: at most ``min(255, MAXVAL / 2)``);
  the row records the NEAR in force. imagecodecs declares the storage precision
  (P = 8 or 16 bits, MAXVAL = 2**P - 1), so 12-bit data is coded as 16-bit samples:
  the default thresholds of T.87 C.2.4.1.1 are the same for both (they saturate at
  MAXVAL 4095), the escape-code length and the initial context values are those of
  P = 16.
* ``jpegxl``: JPEG XL (ISO/IEC 18181-1) through libjxl, one grayscale image per band
  with the nominal bit depth in the codestream (12-bit data is 12-bit JPEG XL);
  lossy at a Butteraugli ``distance`` (libjxl's VarDCT in the XYB space, 1.0 =
  "visually lossless"), or ``lossless=true`` (modular mode). ``effort`` 7 is libjxl's
  own default (imagecodecs' is 5).
* ``htj2k``: High-Throughput JPEG 2000 (ITU-T T.814 / ISO 15444-15) through OpenJPH.
  ``lossless=true`` uses the reversible 5/3 wavelet; lossy coding the irreversible
  9/7 with OpenJPH's base quantisation step ``qstep`` (its ``-qstep``, relative to the
  declared full scale). OpenJPH declares the storage precision (8 or 16 bits), so
  lossy coding first shifts D-bit samples left by ``P - D`` bits: ``qstep`` is then
  relative to ``2**D`` for every depth. HTJ2K has no PCRD rate allocation: the step
  sets the rate.
* ``jpeg12``: 12-bit JPEG (ITU-T T.81 extended sequential DCT, SOF1) through
  libjpeg-turbo, per band, ``quality`` on the IJG scale. Samples of at most 12 bits
  are coded as they are; wider, signed or float data is rescaled explicitly to
  12 bits (:mod:`hsbench.codecs.rescale`), recorded as ``rescaled_bits``.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, Callable, ClassVar

import numpy as np

from hsbench.codecs import bandpack
from hsbench.codecs.base import Kind, Knob
from hsbench.codecs.container import StreamHeader
from hsbench.codecs.imagecodecs.base import (
    ImagecodecsCodec,
    check_bool,
    check_int,
    from_unsigned,
    require_integer,
    storage_dtype,
    to_unsigned,
)
from hsbench.codecs.jpeg import jpeg_header_length
from hsbench.codecs.jpeg2000 import j2k_header_length
from hsbench.codecs.jpeg2000.openjpeg import max_resolutions, siz_geometry
from hsbench.codecs.rescale import LinearRescale, check_scope, describe, needs_rescale
from hsbench.cube import Cube
from hsbench.errors import CorruptStreamError, UnsupportedCubeError

MAX_SIDE = 65535  # JPEG / JPEG-LS frame sizes are 16-bit fields (T.81 B.2.2, T.87 C.2.2)


def _no_shared_header(stream: bytes) -> int:
    return 0


def check_side(name: str, cube: Cube, limit: int) -> None:
    """Raise :class:`UnsupportedCubeError` when a side of ``cube`` exceeds ``limit`` pixels."""
    if max(cube.rows, cube.cols) > limit:
        raise UnsupportedCubeError(
            f"{name} codes images of at most {limit} pixels per side; cube {cube.name!r} is "
            f"{cube.rows} x {cube.cols}. Cut it into tiles first"
        )


def check_single_tile(stream: bytes, header: StreamHeader, what: str) -> None:
    """Check that a J2K codestream's SIZ (T.800 A.5.1) describes the framed band as one tile at the origin.

    OpenJPH writes exactly that (``htj2k_encode``: no image or tile offset, the tile the
    image). A damaged SIZ with a huge tile or tile offset makes OpenJPH 0.x loop without end
    (found by ``tests/test_fuzz_decoders.py``), so the fields are read here first.
    """
    rows, cols, components, precision, _ = siz_geometry(stream)
    xtsiz, ytsiz, xtosiz, ytosiz = (int.from_bytes(stream[24 + 4 * i : 28 + 4 * i], "big") for i in range(4))
    offsets = tuple(int.from_bytes(stream[16 + 4 * i : 20 + 4 * i], "big") for i in range(2))
    expected_precision = 8 * storage_dtype(header.bit_depth).itemsize
    if (rows, cols, components, precision) != (header.rows, header.cols, 1, expected_precision) or (
        (xtsiz, ytsiz, xtosiz, ytosiz) != (cols, rows, 0, 0) or offsets != (0, 0)
    ):
        raise CorruptStreamError(
            f"{what}: its SIZ describes {components} component(s) of {rows} x {cols} {precision}-bit samples in "
            f"{xtsiz} x {ytsiz} tiles at offset ({xtosiz}, {ytosiz}); the framing announces one "
            f"{header.rows} x {header.cols} tile of {expected_precision}-bit samples"
        )


class BandImageCodec(ImagecodecsCodec):
    """One grayscale codestream per band of unsigned codes (signed data offset, see :mod:`.base`).

    Subclasses implement :meth:`encode_band` and :meth:`decode_band`; the hooks
    :meth:`to_codes`, :meth:`read_prefix` and :meth:`from_codes` let a codec put side
    information before the band streams and map samples to codes and back.
    """

    max_bits: ClassVar[int] = 16
    header_length: ClassVar[Callable[[bytes], int]] = staticmethod(_no_shared_header)
    max_side: ClassVar[int] = 1 << 31

    def validate_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """Check ``lossless`` where the codec has that switch."""
        if "lossless" in params:
            params["lossless"] = check_bool(self.name, "lossless", params["lossless"])
        return params

    def max_error(self, cube: Cube) -> float | None:
        """0 with ``lossless=true`` (JPEG XL modular mode, the reversible 5/3 of T.800 F.3.8), else the kind's."""
        return 0.0 if self.config.get("lossless") else super().max_error(cube)

    def supports(self, cube: Cube) -> None:
        """Integers of at most :attr:`max_bits` bits, images at most :attr:`max_side` on a side."""
        require_integer(cube, self.name, self.max_bits)
        check_side(self.name, cube, self.max_side)

    # -- per band, in the subclass ---------------------------------------------------
    @abstractmethod
    def encode_band(self, band: np.ndarray, cube: Cube) -> bytes:
        """One codestream of a ``(H, W)`` band of codes of ``cube``."""

    @abstractmethod
    def decode_band(self, stream: bytes, header: StreamHeader, index: int, context: Any) -> np.ndarray:
        """The ``(H, W)`` codes of band ``index`` (``context``: what :meth:`read_prefix` returned)."""

    # -- hooks -------------------------------------------------------------------------
    def to_codes(self, cube: Cube) -> tuple[bytes, np.ndarray]:
        """Payload prefix and the unsigned codes to code: the samples in their smallest storage."""
        return b"", to_unsigned(cube.data, int(cube.bit_depth), cube.signed)  # type: ignore[arg-type]

    def read_prefix(self, payload: memoryview, header: StreamHeader) -> tuple[int, Any]:
        """Parse the prefix of :meth:`to_codes`; returns where the band streams start and a context."""
        return 0, None

    def codes_dtype(self, header: StreamHeader) -> np.dtype:
        """Type of the decoded codes."""
        return storage_dtype(header.bit_depth)

    def from_codes(self, codes: np.ndarray, header: StreamHeader, context: Any) -> np.ndarray:
        """Samples from the decoded codes (inverse of :meth:`to_codes`)."""
        return from_unsigned(codes, header)

    # -- the payload -------------------------------------------------------------------
    def encode_payload(self, cube: Cube) -> bytes:
        """Prefix, then the band codestreams packed with their shared header stored once."""
        prefix, codes = self.to_codes(cube)
        streams = [bytes(self.encode_band(np.ascontiguousarray(band), cube)) for band in codes]
        return self.seal(prefix + bandpack.pack_streams(streams, self.header_length))

    def check_framing(self, header: StreamHeader) -> None:
        """Refuse a framing :meth:`supports` never lets through: float samples or more than :attr:`max_bits` bits."""
        if header.dtype.kind == "f" or header.bit_depth > self.max_bits:
            raise CorruptStreamError(
                f"{self.name}: the framing announces {header.bit_depth}-bit {header.dtype} samples, which this "
                f"codec never writes (integers of at most {self.max_bits} bits); the stream is damaged or forged"
            )

    def decode_array(self, payload: memoryview, header: StreamHeader) -> np.ndarray:
        """Inverse of :meth:`encode_payload`; checks each band's geometry and sample type."""
        self.check_framing(header)
        pos, context = self.read_prefix(payload, header)
        streams = bandpack.unpack_streams(payload, pos, header.bands)
        codes = np.empty(header.shape, self.codes_dtype(header))
        for index, stream in enumerate(streams):
            band = np.asarray(self.decode_band(stream, header, index, context))
            if band.shape != (header.rows, header.cols) or band.dtype.kind != "u" or (
                band.dtype.itemsize != codes.dtype.itemsize
            ):
                raise CorruptStreamError(
                    f"{self.name}: band {index} decodes to a {band.dtype} image of shape {band.shape}; the "
                    f"framing announces {header.rows} x {header.cols} {codes.dtype} codes"
                )
            codes[index] = band
        return self.from_codes(codes, header, context)


class JpeglsCodec(BandImageCodec):
    """JPEG-LS (T.87) via CharLS: lossless, or near-lossless with NEAR = ``max_error``."""

    name: ClassVar[str] = "jpegls"
    kind: ClassVar[Kind] = Kind.NEAR_LOSSLESS
    knob: ClassVar[Knob] = Knob(
        "max_error", 0, 255, increases_rate=False, default_points=(0, 1, 2, 4, 8, 16, 32), integer=True,
        help="JPEG-LS NEAR: largest |error| per sample (0 = lossless)",
    )
    params: ClassVar[dict[str, Any]] = {"max_error": 0}
    library: ClassVar[str] = "JPEGLS"
    library_prefix: ClassVar[str] = "jpegls"
    #: T.87 A.7.1.1: in run mode one bit codes at most 2**15 samples (J = 15). Measured: a constant
    #: 1 x 2048 x 2048 band takes 629 bytes (8-bit) to 727 bytes (12-bit), about 6700 samples a byte.
    max_samples_per_byte: ClassVar[float] = float(8 << 15)
    header_length = staticmethod(jpeg_header_length)
    max_side = MAX_SIDE
    description: ClassVar[str] = (
        "JPEG-LS (CharLS via imagecodecs) per band, lossless or near-lossless (NEAR = max_error), 2..16 bit"
    )

    def near(self, cube: Cube) -> int:
        """NEAR in force: ``max_error`` capped at ``min(255, 2**(D-1) - 1)``."""
        depth = int(cube.bit_depth)  # type: ignore[arg-type]
        return min(int(self.config["max_error"]), 255, max((1 << (depth - 1)) - 1, 0))

    def max_error(self, cube: Cube) -> float:
        """NEAR (T.87 A.4.4 guarantees ``|x - x^| <= NEAR``)."""
        return float(self.near(cube))

    def row_columns(self, cube: Cube) -> dict[str, Any]:
        """NEAR and the precision declared to CharLS (the storage size)."""
        precision = 8 * storage_dtype(int(cube.bit_depth)).itemsize  # type: ignore[arg-type]
        return {"jpegls_near": self.near(cube), "jpegls_precision": precision}

    def encode_band(self, band: np.ndarray, cube: Cube) -> bytes:
        """One JPEG-LS codestream (CharLS, default thresholds) at the NEAR of ``cube``."""
        return self.lib().jpegls_encode(band, level=self.near(cube))

    def decode_band(self, stream: bytes, header: StreamHeader, index: int, context: Any) -> np.ndarray:
        """CharLS decoding of one band."""
        return self.decode_call(f"JPEG-LS band {index}", "jpegls_decode", stream)


class JpegxlCodec(BandImageCodec):
    """JPEG XL (ISO/IEC 18181) via libjxl per band: lossy at a Butteraugli distance, or lossless."""

    name: ClassVar[str] = "jpegxl"
    kind: ClassVar[Kind] = Kind.LOSSY
    knob: ClassVar[Knob] = Knob(
        "distance", 0.05, 25.0, increases_rate=False, default_points=(0.25, 0.5, 1.0, 2.0, 4.0, 8.0),
        log_scale=True, help="libjxl Butteraugli distance (1.0 = visually lossless; ignored when lossless)",
    )
    params: ClassVar[dict[str, Any]] = {"distance": 1.0, "lossless": False, "effort": 7}
    library: ClassVar[str] = "JPEGXL"
    library_prefix: ClassVar[str] = "jpegxl"
    #: No format floor (modular mode codes a constant image in a few bytes). Measured on a constant
    #: 1 x 2048 x 2048 band: 193 bytes lossless 8-bit (21732 samples a byte), 257 lossless 12-bit,
    #: 586 lossy; the bound leaves a margin of 12 for larger bands.
    max_samples_per_byte: ClassVar[float] = float(1 << 18)
    description: ClassVar[str] = (
        "JPEG XL (libjxl via imagecodecs) per band at the native bit depth up to 16 bits; "
        "Butteraugli distance, or lossless=true (modular)"
    )

    def validate_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """Check ``lossless`` and ``effort`` (1..10)."""
        params["effort"] = check_int("jpegxl", "effort", params["effort"], 1, 10)
        return super().validate_params(params)

    def row_columns(self, cube: Cube) -> dict[str, Any]:
        """Mode, effort and the bit depth written into the codestream."""
        return {
            "jxl_mode": "lossless" if self.config["lossless"] else "lossy",
            "jxl_effort": self.config["effort"],
            "jxl_bits": int(cube.bit_depth),  # type: ignore[arg-type]
        }

    def encode_band(self, band: np.ndarray, cube: Cube) -> bytes:
        """One bare JPEG XL codestream (no container) declaring the cube's bit depth."""
        depth = int(cube.bit_depth)  # type: ignore[arg-type]
        options: dict[str, Any] = {"effort": self.config["effort"], "bitspersample": depth}
        if self.config["lossless"]:
            options["lossless"] = True
        else:
            options.update(lossless=False, distance=float(self.config["distance"]))
        return self.lib().jpegxl_encode(band, **options)

    def decode_band(self, stream: bytes, header: StreamHeader, index: int, context: Any) -> np.ndarray:
        """libjxl decoding of one band."""
        return self.decode_call(f"JPEG XL band {index}", "jpegxl_decode", stream)


class Htj2kCodec(BandImageCodec):
    """HTJ2K (T.814) via OpenJPH per band: irreversible 9/7 at a quantisation step, or reversible 5/3."""

    name: ClassVar[str] = "htj2k"
    kind: ClassVar[Kind] = Kind.LOSSY
    knob: ClassVar[Knob] = Knob(
        "qstep", 1e-5, 0.5, increases_rate=False,
        default_points=(2.5e-4, 5e-4, 1e-3, 2e-3, 4e-3, 8e-3, 1.6e-2), log_scale=True,
        help="OpenJPH base quantisation step, relative to the full scale 2**bit_depth",
    )
    params: ClassVar[dict[str, Any]] = {"qstep": 2e-3, "lossless": False, "resolutions": 6}
    library: ClassVar[str] = "HTJ2K"
    library_prefix: ClassVar[str] = "htj2k"
    #: Version 2: the payload ends with a CRC-32 (``sealed``). OpenJPH 0.x segfaults on some damaged
    #: main headers (e.g. a QCD exponent of 31) and loops without end on a damaged SIZ tile size.
    #: The SIZ is checked (:func:`check_single_tile`) and the CRC keeps every other damaged stream
    #: away from OpenJPH; a stream crafted with a valid CRC and frame CRC can still crash it.
    version: ClassVar[int] = 2
    sealed: ClassVar[bool] = True
    #: Measured on a constant 1 x 2048 x 2048 band: 4261 bytes lossless 8-bit (984 samples a byte),
    #: 7367 to 9389 bytes otherwise; the bound leaves a margin of 16.
    max_samples_per_byte: ClassVar[float] = float(1 << 14)
    header_length = staticmethod(j2k_header_length)
    description: ClassVar[str] = (
        "High-Throughput JPEG 2000 (OpenJPH via imagecodecs) per band up to 16 bits; "
        "9/7 at a quantisation step, or lossless=true (5/3)"
    )

    def validate_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """Check ``lossless`` and ``resolutions`` (1..33, T.800 A.6.1)."""
        params["resolutions"] = check_int("htj2k", "resolutions", params["resolutions"], 1, 33)
        return super().validate_params(params)

    def _shift(self, bit_depth: int) -> int:
        """Left shift applied before lossy coding: storage bits - D (0 when lossless)."""
        return 0 if self.config["lossless"] else 8 * storage_dtype(bit_depth).itemsize - bit_depth

    def row_columns(self, cube: Cube) -> dict[str, Any]:
        """Wavelet, resolution levels, declared precision and the pre-shift."""
        depth = int(cube.bit_depth)  # type: ignore[arg-type]
        return {
            "htj2k_wavelet": "5/3" if self.config["lossless"] else "9/7",
            "htj2k_resolutions": max_resolutions(cube.rows, cube.cols, self.config["resolutions"]),
            "htj2k_precision": 8 * storage_dtype(depth).itemsize,
            "htj2k_shift": self._shift(depth),
        }

    def to_codes(self, cube: Cube) -> tuple[bytes, np.ndarray]:
        """One byte, the left shift of lossy coding, then the codes shifted by it."""
        prefix, codes = super().to_codes(cube)
        shift = self._shift(int(cube.bit_depth))  # type: ignore[arg-type]
        return bytes([shift]), codes << shift

    def read_prefix(self, payload: memoryview, header: StreamHeader) -> tuple[int, Any]:
        """Read and check the shift byte (the context of the bands)."""
        if len(payload) < 1:
            raise CorruptStreamError("htj2k payload is empty")
        shift = payload[0]
        if shift >= 8 * storage_dtype(header.bit_depth).itemsize:
            raise CorruptStreamError(f"htj2k payload announces an impossible sample shift of {shift} bits")
        return 1, shift

    def from_codes(self, codes: np.ndarray, header: StreamHeader, context: Any) -> np.ndarray:
        """Undo the shift with rounding (``(c + 2**(s-1)) >> s``), then the offset."""
        if context:
            codes = (codes.astype(np.int64) + (1 << (context - 1))) >> context
        return from_unsigned(codes, header)

    def encode_band(self, band: np.ndarray, cube: Cube) -> bytes:
        """One HTJ2K codestream (J2C, one tile, OpenJPH's default 64 x 64 code blocks)."""
        decompositions = max_resolutions(band.shape[0], band.shape[1], self.config["resolutions"]) - 1
        if self.config["lossless"]:
            return self.lib().htj2k_encode(band, reversible=True, resolutions=decompositions)
        return self.lib().htj2k_encode(
            band, level=float(self.config["qstep"]), reversible=False, resolutions=decompositions
        )

    def decode_band(self, stream: bytes, header: StreamHeader, index: int, context: Any) -> np.ndarray:
        """OpenJPH decoding of one band, after :func:`check_single_tile`."""
        check_single_tile(stream, header, f"htj2k band {index}")
        return self.decode_call(f"HTJ2K band {index}", "htj2k_decode", stream)


class Jpeg12Codec(BandImageCodec):
    """12-bit JPEG (T.81 extended sequential DCT) via libjpeg-turbo per band; wider data rescaled to 12 bits."""

    name: ClassVar[str] = "jpeg12"
    kind: ClassVar[Kind] = Kind.LOSSY
    knob: ClassVar[Knob] = Knob(
        "quality", 1, 100, increases_rate=True, default_points=(10, 30, 50, 70, 80, 90, 95), integer=True,
        help="IJG quality scale of libjpeg's standard quantisation tables",
    )
    params: ClassVar[dict[str, Any]] = {"quality": 75, "rescale": "band"}
    library: ClassVar[str] = "JPEG8"
    library_prefix: ClassVar[str] = "jpeg8"
    #: Every 8 x 8 block costs at least its DC difference and EOB codes (T.81 F.1.2): measured
    #: 16551 bytes for a constant 1 x 2048 x 2048 band, 253 samples a byte.
    max_samples_per_byte: ClassVar[float] = 1024.0
    header_length = staticmethod(jpeg_header_length)
    max_side = MAX_SIDE
    description: ClassVar[str] = (
        "12-bit JPEG (libjpeg-turbo via imagecodecs) per band; data wider than 12 bits, signed or float "
        "rescaled explicitly to 12 bits"
    )
    _RESCALED = 0x01
    _CUBE_SCOPE = 0x02

    def validate_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """Check ``rescale``."""
        params["rescale"] = check_scope(params["rescale"])
        return super().validate_params(params)

    def supports(self, cube: Cube) -> None:
        """Any cube (rescaled when it is not 1..12-bit unsigned), at most 65535 pixels a side."""
        check_side(self.name, cube, MAX_SIDE)

    def check_framing(self, header: StreamHeader) -> None:
        """Every sample type is coded (rescaled to 12 bits): nothing to refuse here."""

    def row_columns(self, cube: Cube) -> dict[str, Any]:
        """Rescaling applied (``"16->12"`` / ``"none"``) and its scope."""
        rescaled = describe(cube, 12)
        return {"rescaled_bits": rescaled, "rescale_scope": self.config["rescale"] if rescaled != "none" else "none"}

    def to_codes(self, cube: Cube) -> tuple[bytes, np.ndarray]:
        """Flags byte and the rescaling table when rescaled; 12-bit codes in ``uint16``."""
        if not needs_rescale(cube, 12):
            return bytes([0]), cube.data.astype(np.uint16)
        scope = self.config["rescale"]
        mapping = LinearRescale.fit(cube.data, 12, scope)
        flags = self._RESCALED | (self._CUBE_SCOPE if scope == "cube" else 0)
        return bytes([flags]) + mapping.to_bytes(), mapping.forward(cube.data)

    def read_prefix(self, payload: memoryview, header: StreamHeader) -> tuple[int, Any]:
        """Flags and, when rescaled, the rescaling table (the context)."""
        if len(payload) < 1:
            raise CorruptStreamError("jpeg12 payload is empty")
        flags = payload[0]
        if not flags & self._RESCALED:
            return 1, None
        count = 1 if flags & self._CUBE_SCOPE else header.bands
        mapping, pos = LinearRescale.from_bytes(payload, 1, 12, count, header.dtype)
        return pos, mapping

    def codes_dtype(self, header: StreamHeader) -> np.dtype:
        """12-bit codes come back as ``uint16``."""
        return np.dtype(np.uint16)

    def from_codes(self, codes: np.ndarray, header: StreamHeader, context: Any) -> np.ndarray:
        """Undo the rescaling, or clip to the nominal range."""
        codes = np.minimum(codes, 4095)
        return from_unsigned(codes, header) if context is None else context.inverse(codes, header.dtype)

    def encode_band(self, band: np.ndarray, cube: Cube) -> bytes:
        """One 12-bit JPEG (SOF1; libjpeg optimises the Huffman tables for 12-bit data)."""
        return self.lib().jpeg8_encode(band, level=int(self.config["quality"]), bitspersample=12)

    def decode_band(self, stream: bytes, header: StreamHeader, index: int, context: Any) -> np.ndarray:
        """libjpeg-turbo decoding of one 12-bit band."""
        return self.decode_call(f"12-bit JPEG band {index}", "jpeg8_decode", stream)
