"""JPEG 2000 (ITU-T T.800 / ISO 15444-1) band by band, through glymur over OpenJPEG.

Each band is one raw J2K codestream (no JP2 boxes) with a single component at
the data's own precision: 12-bit samples are declared as 12-bit (SIZ Ssiz), 16-bit
as 16-bit, signed data as signed. Lossy coding uses the irreversible 9/7 wavelet
with OpenJPEG's rate allocation (PCRD-opt, T.800 Annex J.14) to a target
``ratio``; ``lossless=True`` uses the reversible 5/3 wavelet with no rate target
and returns the input exactly.

The ratio is OpenJPEG's: relative to the *declared precision* of the samples,
``ratio = H * W * precision / (8 * bytes)`` per band, headers included. For
integer data up to 16 bits the precision is the nominal bit depth, so the
ratio is the compression ratio of ``SPEC.md`` section 1 (up to the few bytes of
hsbench framing). Float data and integers wider than 16 bits are rescaled
explicitly to 16 bits (:mod:`hsbench.codecs.rescale`, lossy coding only; the row
says so in ``rescaled_bits``), and the ratio is then relative to 16 bits.

The number of resolution levels (``resolutions``, OpenJPEG's default 6 = 5 DWT
levels) is lowered for small images so that the smaller side is at least
``2**(resolutions - 1)``; a 1-pixel-wide image is coded with no DWT.

Payload: one flags byte, the rescaling table when rescaled, then the band
codestreams packed with their common main header stored once
(:mod:`hsbench.codecs.bandpack`).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from hsbench.codecs import bandpack
from hsbench.codecs.base import Codec, Kind, Knob
from hsbench.codecs.container import StreamHeader
from hsbench.codecs.jpeg2000 import openjpeg
from hsbench.codecs.rescale import LinearRescale, check_scope, describe
from hsbench.cube import Cube
from hsbench.errors import CodecParameterError, CorruptStreamError, UnsupportedCubeError

_RESCALED = 0x01  # samples were mapped to 16 bits; a rescaling table follows
_CUBE_SCOPE = 0x02  # one rescaling pair for the cube (else one per band)

MAX_PRECISION = 16  # what OpenJPEG's decoder output and glymur's bindings handle as integers here


def j2k_header_length(codestream: bytes) -> int:
    """Length of a codestream's main header: SOC up to the first SOT marker (T.800 A.4)."""
    pos = 2
    while pos + 4 <= len(codestream):
        if codestream[pos] != 0xFF:
            return 0
        if codestream[pos + 1] == 0x90:  # SOT
            return pos
        pos += 2 + int.from_bytes(codestream[pos + 2 : pos + 4], "big")
    return 0


class Jpeg2000Codec(Codec):
    """Per-band JPEG 2000 via glymur / OpenJPEG: 9/7 to a target ratio, or reversible 5/3 lossless."""

    name: ClassVar[str] = "jpeg2000"
    kind: ClassVar[Kind] = Kind.LOSSY
    knob: ClassVar[Knob] = Knob(
        name="ratio",
        low=1,
        high=10000,
        increases_rate=False,
        default_points=(4, 8, 16, 32, 64, 128),
        log_scale=True,
        unit=":1",
        help="target compression ratio per band, relative to the declared sample precision",
    )
    params: ClassVar[dict[str, Any]] = {
        "ratio": 16.0,
        "lossless": False,
        "irreversible": True,
        "resolutions": 6,
        "rescale": "band",
    }
    version: ClassVar[int] = 1
    requires: ClassVar[tuple[str, ...]] = ("glymur",)
    description: ClassVar[str] = (
        "JPEG 2000 per band (glymur/OpenJPEG J2K codestreams) at the native bit depth up to 16 bits; "
        "9/7 to a target ratio, or lossless=true (5/3)"
    )

    def validate_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """Check lossless, irreversible, resolutions (1..33, T.800 A.6.1) and rescale."""
        for key in ("lossless", "irreversible"):
            if not isinstance(params[key], bool):
                raise CodecParameterError(f"jpeg2000 {key} must be true or false, got {params[key]!r}")
        res = params["resolutions"]
        if isinstance(res, bool) or not isinstance(res, (int, float)) or res != int(res) or not 1 <= res <= 33:
            raise CodecParameterError(f"jpeg2000 resolutions must be an integer in 1..33, got {res!r}")
        params["resolutions"] = int(res)
        params["rescale"] = check_scope(params["rescale"])
        return params

    @classmethod
    def check_available(cls) -> None:
        """glymur must import and be bound to an OpenJPEG library (system or bundled)."""
        openjpeg.load_glymur()

    @classmethod
    def library_versions(cls) -> dict[str, str]:
        """glymur's version and the OpenJPEG version it is bound to."""
        versions = super().library_versions()
        try:
            versions["openjpeg"] = openjpeg.openjpeg_version()
        except Exception:
            versions["openjpeg"] = "missing"
        return versions

    # -- capabilities -----------------------------------------------------------------
    def _native(self, cube: Cube) -> bool:
        """True when the samples are integers JPEG 2000 holds as they are (<= 16 bits)."""
        return not cube.is_float and int(cube.bit_depth) <= MAX_PRECISION  # type: ignore[arg-type]

    def supports(self, cube: Cube) -> None:
        """Lossless coding needs integers of at most 16 bits; lossy coding rescales anything else."""
        if self.config["lossless"] and not self._native(cube):
            what = f"{cube.dtype} data" if cube.is_float else f"{cube.bit_depth}-bit data"
            raise UnsupportedCubeError(
                f"jpeg2000 lossless=true cannot code {what} exactly: this codec holds integer samples of "
                f"at most {MAX_PRECISION} bits. Use lossy coding (it rescales to 16 bits explicitly), or "
                "declare a smaller bit_depth if the samples fit one"
            )

    def max_error(self, cube: Cube) -> float | None:
        """0 with ``lossless=True`` (reversible 5/3 wavelet, T.800 Annex F.3.8), else no bound."""
        return 0.0 if self.config["lossless"] else None

    def row_columns(self, cube: Cube) -> dict[str, Any]:
        """Rescaling applied, declared precision, wavelet and resolution levels used."""
        native = self._native(cube)
        rescaled = "none" if native else describe(cube, MAX_PRECISION)
        return {
            "rescaled_bits": rescaled,
            "rescale_scope": "none" if native else self.config["rescale"],
            "j2k_precision": int(cube.bit_depth) if native else MAX_PRECISION,  # type: ignore[arg-type]
            "j2k_wavelet": "5/3" if self.config["lossless"] or not self.config["irreversible"] else "9/7",
            "j2k_resolutions": openjpeg.max_resolutions(cube.rows, cube.cols, self.config["resolutions"]),
        }

    # -- coding -----------------------------------------------------------------------
    def encode_payload(self, cube: Cube) -> bytes:
        """Flags, optional rescaling table, then the packed per-band J2K codestreams."""
        flags = 0
        prefix = b""
        data = cube.data
        if self._native(cube):
            precision, signed = int(cube.bit_depth), cube.signed  # type: ignore[arg-type]
        else:
            mapping = LinearRescale.fit(data, MAX_PRECISION, self.config["rescale"])
            flags |= _RESCALED | (_CUBE_SCOPE if self.config["rescale"] == "cube" else 0)
            prefix = mapping.to_bytes()
            data = mapping.forward(data)
            precision, signed = MAX_PRECISION, False
        lossless = self.config["lossless"]
        streams = []
        with openjpeg.scratch_file() as path:
            for band in data:
                streams.append(
                    openjpeg.encode_band(
                        band,
                        path,
                        precision=precision,
                        signed=signed,
                        ratio=None if lossless else float(self.config["ratio"]),
                        irreversible=not lossless and self.config["irreversible"],
                        resolutions=self.config["resolutions"],
                    )
                )
        return bytes([flags]) + prefix + bandpack.pack_streams(streams, j2k_header_length)

    def decode_payload(self, payload: memoryview, header: StreamHeader) -> np.ndarray:
        """Inverse of :meth:`encode_payload`; checks each band's geometry and precision."""
        if len(payload) < 1:
            raise CorruptStreamError("jpeg2000 payload is empty")
        flags = payload[0]
        pos = 1
        mapping = None
        dtype = np.dtype(header.dtype)
        if flags & _RESCALED:
            count = 1 if flags & _CUBE_SCOPE else header.bands
            mapping, pos = LinearRescale.from_bytes(payload, pos, MAX_PRECISION, count, dtype)
            want = (MAX_PRECISION, False)
        else:
            want = (header.bit_depth, dtype.kind == "i")
        streams = bandpack.unpack_streams(payload, pos, header.bands)
        # decoded samples fit the output type: 16-bit codes when rescaled, else the cube's own dtype
        out = np.empty(header.shape, dtype=np.uint16 if mapping is not None else dtype)
        with openjpeg.scratch_file() as path:
            for index, stream in enumerate(streams):
                band, precision, signed = openjpeg.decode_band(stream, path)
                if band.shape != (header.rows, header.cols) or (precision, signed) != want:
                    raise CorruptStreamError(
                        f"jpeg2000 band {index} is a {band.shape[0]}x{band.shape[1]} "
                        f"{'signed' if signed else 'unsigned'} {precision}-bit image; the header "
                        f"announces {header.rows}x{header.cols}, {'signed' if want[1] else 'unsigned'} "
                        f"{want[0]}-bit"
                    )
                out[index] = band
        if mapping is not None:
            return mapping.inverse(out, dtype)
        return out
