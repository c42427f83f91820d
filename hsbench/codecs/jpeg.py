"""Baseline JPEG (ITU-T T.81 / ISO 10918-1) through Pillow's libjpeg.

* 3-band cubes (``mode="auto"``) are coded as one colour JPEG: RGB -> YCbCr,
  chroma subsampled (``subsampling``, Pillow's default 4:2:0), libjpeg's
  standard quantisation tables scaled by ``quality`` (the IJG scaling) and the
  standard Huffman tables (``optimize=False``, Pillow's default). This is the
  set-up of published "Pillow JPEG on Kodak" curves.
* Any other band count (or ``mode="bands"``) is coded band by band as
  grayscale JPEGs; their identical headers are stored once
  (:mod:`hsbench.codecs.bandpack`).
* Baseline JPEG holds 8-bit samples. Wider, narrower, signed or float data is
  rescaled explicitly and reversibly to 8 bits (:mod:`hsbench.codecs.rescale`, per band
  or per cube), never cast with wrap-around; the row records it
  (``rescaled_bits``, e.g. ``"16->8"``).

Payload: one flags byte, the rescaling table when rescaled, then either the
colour JPEG or the packed band streams.

Decoding checks the stream against its framing before decoding pixels: every JPEG's
frame header (SOF: mode and size) must match the framed geometry, and the flags must
match the framed sample type (a stream that was not rescaled holds unsigned 8-bit
samples, so the framing must announce those). libjpeg's errors on damaged entropy
data are raised as :class:`~hsbench.errors.CorruptStreamError`. A JPEG spends at
least two bits (a DC and an end-of-block code) on every 8x8 block of every component,
so a payload byte stands for at most 256 samples per band, 512 in a 4:2:0 colour
JPEG (``max_samples_per_byte`` = 1024).
"""

from __future__ import annotations

import io
from typing import Any, ClassVar

import numpy as np

from hsbench.codecs import bandpack
from hsbench.codecs.base import Codec, Kind, Knob
from hsbench.codecs.container import StreamHeader
from hsbench.codecs.rescale import LinearRescale, check_scope, describe, needs_rescale
from hsbench.cube import Cube
from hsbench.errors import CodecParameterError, CorruptStreamError, UnsupportedCubeError

_RGB = 0x01  # one colour JPEG instead of per-band streams
_RESCALED = 0x02  # samples were mapped to 8 bits; a rescaling table follows
_CUBE_SCOPE = 0x04  # one rescaling pair for the cube (else one per band)

SUBSAMPLINGS = ("4:4:4", "4:2:2", "4:2:0")
MODES = ("auto", "bands")
MAX_SIDE = 65535  # JPEG's 16-bit image dimensions (T.81 B.2.2)


def jpeg_header_length(stream: bytes) -> int:
    """Bytes from SOI up to the end of the first SOS marker segment (T.81 B.2, B.2.3).

    Every marker segment before the scan is ``FFxx`` + a 2-byte big-endian length
    that counts itself; entropy-coded data follows the SOS segment.
    """
    pos = 2
    while pos + 4 <= len(stream):
        if stream[pos] != 0xFF:
            return 0
        marker = stream[pos + 1]
        length = int.from_bytes(stream[pos + 2 : pos + 4], "big")
        pos += 2 + length
        if marker == 0xDA:  # SOS
            return pos
    return 0


class JpegCodec(Codec):
    """Baseline JPEG via Pillow: one colour JPEG for 3-band cubes, else grayscale JPEGs band by band."""

    name: ClassVar[str] = "jpeg"
    kind: ClassVar[Kind] = Kind.LOSSY
    knob: ClassVar[Knob] = Knob(
        name="quality",
        low=1,
        high=95,
        increases_rate=True,
        default_points=(10, 20, 30, 40, 50, 60, 70, 80, 90, 95),
        integer=True,
        help="IJG quality scale of libjpeg's standard quantisation tables",
    )
    params: ClassVar[dict[str, Any]] = {
        "quality": 75,
        "subsampling": "4:2:0",
        "optimize": False,
        "mode": "auto",
        "rescale": "band",
    }
    version: ClassVar[int] = 1
    max_samples_per_byte: ClassVar[float] = 1024.0  # <= 512 (module docstring)
    requires: ClassVar[tuple[str, ...]] = ("PIL",)
    description: ClassVar[str] = (
        "baseline JPEG (Pillow/libjpeg); 3 bands as one YCbCr JPEG, else band by band; "
        ">8-bit data rescaled explicitly to 8 bits"
    )

    def validate_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """Check subsampling, mode, optimize and rescale."""
        if params["subsampling"] not in SUBSAMPLINGS:
            raise CodecParameterError(
                f"jpeg subsampling must be one of {', '.join(SUBSAMPLINGS)}, got {params['subsampling']!r}"
            )
        if params["mode"] not in MODES:
            raise CodecParameterError(f"jpeg mode must be 'auto' or 'bands', got {params['mode']!r}")
        if not isinstance(params["optimize"], bool):
            raise CodecParameterError(f"jpeg optimize must be true or false, got {params['optimize']!r}")
        params["rescale"] = check_scope(params["rescale"])
        return params

    def supports(self, cube: Cube) -> None:
        """JPEG images are at most 65535 pixels on a side (T.81 B.2.2)."""
        if cube.rows > MAX_SIDE or cube.cols > MAX_SIDE:
            raise UnsupportedCubeError(
                f"jpeg cannot code {cube.rows}x{cube.cols} images: JPEG allows at most {MAX_SIDE} "
                "pixels per side; cut the image into tiles first"
            )

    def _as_rgb(self, cube: Cube) -> bool:
        return self.config["mode"] == "auto" and cube.bands == 3

    def row_columns(self, cube: Cube) -> dict[str, Any]:
        """How the cube was coded: ``rescaled_bits`` (``"16->8"`` / ``"none"``), scope and layout."""
        rescaled = describe(cube, 8, exact_depth=True)
        return {
            "rescaled_bits": rescaled,
            "rescale_scope": self.config["rescale"] if rescaled != "none" else "none",
            "jpeg_layout": "ycbcr" if self._as_rgb(cube) else "per-band",
        }

    # -- coding -----------------------------------------------------------------------
    def _save(self, array: np.ndarray, mode: str) -> bytes:
        from PIL import Image

        buffer = io.BytesIO()
        options: dict[str, Any] = {"quality": int(self.config["quality"]), "optimize": self.config["optimize"]}
        if mode == "RGB":
            options["subsampling"] = self.config["subsampling"]
        Image.fromarray(array).save(buffer, "JPEG", **options)  # uint8 (H, W) -> L, (H, W, 3) -> RGB
        return buffer.getvalue()

    def encode_payload(self, cube: Cube) -> bytes:
        """Flags, optional rescaling table, then one colour JPEG or the packed grayscale JPEGs."""
        flags = 0
        parts: list[bytes] = []
        data = cube.data
        if needs_rescale(cube, 8, exact_depth=True):
            mapping = LinearRescale.fit(data, 8, self.config["rescale"])
            flags |= _RESCALED | (_CUBE_SCOPE if self.config["rescale"] == "cube" else 0)
            parts.append(mapping.to_bytes())
            data = mapping.forward(data)
        else:
            data = data.astype(np.uint8, copy=False)
        if self._as_rgb(cube):
            flags |= _RGB
            parts.append(self._save(np.ascontiguousarray(np.moveaxis(data, 0, -1)), "RGB"))
        else:
            streams = [self._save(np.ascontiguousarray(band), "L") for band in data]
            parts.append(bandpack.pack_streams(streams, jpeg_header_length))
        return bytes([flags]) + b"".join(parts)

    def decode_payload(self, payload: memoryview, header: StreamHeader) -> np.ndarray:
        """Inverse of :meth:`encode_payload`."""
        from PIL import Image

        if len(payload) < 1:
            raise CorruptStreamError("jpeg payload is empty")
        flags = payload[0]
        pos = 1
        mapping = None
        native = header.dtype.kind == "u" and header.bit_depth == 8  # what encode_payload codes unscaled
        if flags & ~(_RGB | _RESCALED | _CUBE_SCOPE) or bool(flags & _RESCALED) == native:
            raise CorruptStreamError(
                f"jpeg payload flags {flags:#04x} do not fit the framed {header.bit_depth}-bit {header.dtype} "
                f"samples (8-bit unsigned samples are coded as they are, all others rescaled)"
            )
        if flags & _RESCALED:
            count = 1 if flags & _CUBE_SCOPE else header.bands
            mapping, pos = LinearRescale.from_bytes(payload, pos, 8, count, header.dtype)
        expected = (header.rows, header.cols)

        def load(stream: bytes, mode: str) -> np.ndarray:
            try:
                with Image.open(io.BytesIO(stream), formats=["JPEG"]) as image:
                    if image.mode != mode or image.size != (header.cols, header.rows):
                        raise CorruptStreamError(
                            f"jpeg stream holds a {image.mode} {image.size[1]}x{image.size[0]} image, "
                            f"expected {mode} {expected[0]}x{expected[1]}"
                        )
                    image.load()
                    return np.asarray(image)
            except CorruptStreamError:
                raise
            except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
                # Pillow / libjpeg on a damaged stream: UnidentifiedImageError, "image file is truncated",
                # "broken data stream", invalid marker segments (SyntaxError)
                raise CorruptStreamError(f"jpeg stream cannot be decoded: {exc}") from exc

        if flags & _RGB:
            if header.bands != 3:
                raise CorruptStreamError(f"jpeg colour stream for a {header.bands}-band cube")
            codes = np.moveaxis(load(bytes(payload[pos:]), "RGB"), -1, 0)
        else:
            streams = bandpack.unpack_streams(payload, pos, header.bands)
            codes = np.stack([load(s, "L") for s in streams])
        if mapping is not None:
            return mapping.inverse(codes, header.dtype)
        return codes.astype(header.dtype)
