"""JPEG 2000 (ITU-T T.800 / ISO 15444-1) through glymur over OpenJPEG, as its users run it.

Components. A 3-band cube is coded as one 3-component codestream with the
multiple-component transform of T.800 Annex G (the irreversible colour transform
ICT, RGB -> YCbCr, with the 9/7 wavelet; the reversible RCT with the 5/3 wavelet),
which is what ``opj_compress``, Kakadu and every photographic JPEG 2000 comparison do
with 3-component images. ``mct=False`` codes the three bands separately, and any
other band count is always coded band by band: one single-component codestream per
band, each given an equal share of the budget (the seeds' "per-band JPEG 2000";
spectral decorrelation is ``klt-jpeg2000``'s job). The row's ``j2k_mct`` says which: ``ict``, ``rct`` or
``none``.

Samples keep their own precision: 12-bit samples are declared as 12-bit (SIZ Ssiz),
16-bit as 16-bit, signed data as signed. Float data and integers wider than 16 bits
are rescaled explicitly to 16 bits (:mod:`hsbench.codecs.rescale`, lossy coding only;
the row says so in ``rescaled_bits``). Lossy coding uses the irreversible 9/7
wavelet with OpenJPEG's rate allocation (PCRD-opt, T.800 Annex J.14);
``lossless=True`` uses the reversible 5/3 wavelet with no rate target and returns
the input exactly.

The ratio is the compression ratio of the whole stream (``docs/conventions.md`` section 1):
``ratio = B * H * W * D / (8 * bytes)`` with ``D`` the cube's nominal bit depth
(32 or 64 for float data, whatever precision the codestreams use), every byte of
the hsbench stream counted. :func:`pack_codestreams` turns that budget into
OpenJPEG's per-codestream target, accounting for what OpenJPEG counts but the
payload does not hold (the main header stored once for all bands, the COM marker)
and for what the payload adds (framing, rescaling table, length fields), and
carrying each band's miss over to the next. Many bands land within 3 % of the
target, a single small codestream as close as OpenJPEG's rate steps allow (a few
per cent). The ratio cannot go below what the 9/7 coder spends on all bit planes
(low ratios on smooth images: the stream is then smaller), and a target below what
the headers alone take gives the smallest stream OpenJPEG makes.

The number of resolution levels (``resolutions``, OpenJPEG's default 6 = 5 DWT
levels) is lowered for small images so that the smaller side is at least
``2**(resolutions - 1)``; a 1-pixel-wide image is coded with no DWT.

Payload: one flags byte, the rescaling table when rescaled, then the codestreams
(one with the colour transform, else one per band) packed with their common main
header stored once (:mod:`hsbench.codecs.bandpack`).
"""

from __future__ import annotations

import math
from typing import Any, Callable, ClassVar, Sequence

import numpy as np

from hsbench.codecs import bandpack, container
from hsbench.codecs.base import Codec, Kind, Knob
from hsbench.codecs.container import StreamHeader
from hsbench.codecs.jpeg2000 import openjpeg
from hsbench.codecs.rescale import LinearRescale, check_scope, describe
from hsbench.cube import Cube
from hsbench.errors import CodecParameterError, CorruptStreamError, UnsupportedCubeError

_RESCALED = 0x01  # samples were mapped to 16 bits; a rescaling table follows
_CUBE_SCOPE = 0x02  # one rescaling pair for the cube (else one per band)
_MCT = 0x04  # one 3-component codestream with the colour transform (else one codestream per band)

MAX_PRECISION = 16  # what OpenJPEG's decoder output and glymur's bindings handle as integers here

#: The rate knob of the family: the compression ratio of the whole stream (module docstring). The
#: default sweep reaches 512:1 (0.03 bpppc on 16-bit data, 0.05 bpp on RGB): the anchor of the BD
#: figures must cover the low rates where the learned codecs sit.
RATIO_KNOB = Knob(
    name="ratio",
    low=1,
    high=10000,
    increases_rate=False,
    default_points=(4, 8, 16, 32, 64, 128, 256, 512),
    log_scale=True,
    unit=":1",
    help="target compression ratio of the whole stream, relative to the nominal bit depth",
)


def stream_budget(cube: Cube, codec: str, ratio: float) -> float:
    """Payload bytes that give ``cube`` the compression ratio ``ratio``: ``nominal bytes / ratio`` less the framing."""
    return cube.nominal_bytes / ratio - container.framing_bytes(codec, cube.dtype)


def pack_codestreams(
    groups: Sequence[np.ndarray],
    budget: float | None,
    *,
    precision: int,
    signed: bool,
    irreversible: bool,
    resolutions: int,
    mct: bool = False,
) -> bytes:
    """Code each ``(C, H, W)`` group as one codestream and pack them (:mod:`~hsbench.codecs.bandpack`).

    ``budget`` is the number of bytes the packed result may take (``None`` = lossless, no
    target). The codestreams have the same geometry and settings, hence the same main header
    of ``h`` bytes, which packing stores once, and OpenJPEG's comment marker of ``c`` bytes,
    which :func:`openjpeg.encode` removes; both count in OpenJPEG's own rate target. Group
    ``g`` of ``G`` is given the bytes left over by the groups before it::

        t_g = (budget - len(varint(h)) - h - spent) / (G - g) - len(varint(...)) + h + c

    (OpenJPEG's ratio ``C * H * W * precision / (8 * t_g)``). PCRD-opt (T.800 Annex J.14)
    truncates each code-block at a coding pass, and code-blocks of similar content share
    their rate-distortion slopes, so a codestream's size moves in steps of a few per cent of
    its target (up to about 15 % with few code-blocks). Passing each group's difference on
    to the next makes the total honest whatever the band count; the last group, whose miss
    nothing absorbs, is searched (:func:`_closest_size`) when the total misses by more than
    1 %.
    """
    count, rows, cols = groups[0].shape
    settings = dict(precision=precision, signed=signed, irreversible=irreversible,
                    resolutions=openjpeg.max_resolutions(rows, cols, resolutions), mct=mct)

    def ratio_for(target: float) -> float:
        return count * rows * cols * precision / (8.0 * target)

    streams: list[bytes] = []
    with openjpeg.scratch_file() as path:
        if budget is None:
            streams = [openjpeg.encode(group, path, ratio=None, **settings) for group in groups]  # type: ignore[arg-type]
            return bandpack.pack_streams(streams, openjpeg.j2k_header_length)
        head, comment = openjpeg.header_overhead(count, **settings)  # type: ignore[arg-type]
        remaining = budget - len(bandpack.write_varint(head)) - head
        for index, group in enumerate(groups):
            body = remaining / (len(groups) - index)
            body -= len(bandpack.write_varint(max(0, int(body))))
            target = max(body, 1.0) + head + comment  # what OpenJPEG is to write, comment included
            stream = openjpeg.encode(group, path, ratio=ratio_for(target), **settings)  # type: ignore[arg-type]
            if index == len(groups) - 1:
                wanted = target - comment
                if abs(len(stream) - wanted) > 0.01 * budget:
                    stream = _closest_size(lambda t: openjpeg.encode(group, path, ratio=ratio_for(t + comment), **settings),  # type: ignore[arg-type]
                                           wanted, stream)
            streams.append(stream)
            remaining -= len(stream) - head + len(bandpack.write_varint(len(stream) - head))
    return bandpack.pack_streams(streams, openjpeg.j2k_header_length)


def _closest_size(encode_at: Callable[[float], bytes], wanted: float, first: bytes, tries: int = 4) -> bytes:
    """The codestream closest to ``wanted`` bytes among ``first`` (coded for ``wanted``) and a few more.

    The size is a non-decreasing step function of the target: each try moves the target by
    ``wanted / achieved`` (secant), bisecting (geometrically) once a too-small and a too-large
    target are known.
    """
    best, target = first, wanted
    low, high = 0.0, math.inf  # targets known to give too few / too many bytes
    stream = first
    for _ in range(tries):
        size = len(stream)
        if size < wanted:
            low = max(low, target)
        elif size > wanted:
            high = min(high, target)
        else:
            break
        target *= wanted / size
        if not low < target < high:
            target = math.sqrt(low * high)
        stream = encode_at(target)
        if abs(len(stream) - wanted) < abs(len(best) - wanted):
            best = stream
    return best


class OpenJpegCodec(Codec):
    """What the JPEG 2000 family shares: the OpenJPEG library, its versions, the common parameters."""

    requires: ClassVar[tuple[str, ...]] = ("glymur",)
    #: a (nearly) constant band costs about a hundred bytes at any size up to 2048 x 2048 (40 000
    #: samples per byte measured); 2**18 admits constant bands up to about 4096 x 4096 with
    #: ``jpeg2000``, and constant cubes up to about 1250 x 1250 pixels per band with
    #: ``klt-jpeg2000`` (at least a float32 mean and one Q15 matrix entry, 6 bytes, per band)
    max_samples_per_byte: ClassVar[float] = float(1 << 18)

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

    def validate_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """Check the true / false parameters and resolutions (1..33, T.800 A.6.1)."""
        for key, value in params.items():
            if key in self.params and isinstance(self.params[key], bool) and not isinstance(value, bool):
                raise CodecParameterError(f"{self.name} {key} must be true or false, got {value!r}")
        res = params["resolutions"]
        if isinstance(res, bool) or not isinstance(res, (int, float)) or res != int(res) or not 1 <= res <= 33:
            raise CodecParameterError(f"{self.name} resolutions must be an integer in 1..33, got {res!r}")
        params["resolutions"] = int(res)
        return params

    def max_error(self, cube: Cube) -> float | None:
        """0 with ``lossless=True`` (reversible transforms, T.800 Annex F.3.8 / G.2), else no bound."""
        return 0.0 if self.config["lossless"] else None

    def _refuse_inexact(self, cube: Cube) -> None:
        """Lossless coding needs integers of at most 16 bits (:data:`MAX_PRECISION`)."""
        if self.config["lossless"] and (cube.is_float or int(cube.bit_depth) > MAX_PRECISION):  # type: ignore[arg-type]
            what = f"{cube.dtype} data" if cube.is_float else f"{cube.bit_depth}-bit data"
            raise UnsupportedCubeError(
                f"{self.name} lossless=true cannot code {what} exactly: this codec holds integer samples of "
                f"at most {MAX_PRECISION} bits. Use lossy coding, or declare a smaller bit_depth if the "
                "samples fit one"
            )


class Jpeg2000Codec(OpenJpegCodec):
    """JPEG 2000 via glymur / OpenJPEG: 3 bands with the colour transform, else band by band (module docstring)."""

    name: ClassVar[str] = "jpeg2000"
    kind: ClassVar[Kind] = Kind.LOSSY
    knob: ClassVar[Knob] = RATIO_KNOB
    params: ClassVar[dict[str, Any]] = {
        "ratio": 16.0,
        "lossless": False,
        "irreversible": True,
        "resolutions": 6,
        "rescale": "band",
        "mct": True,
    }
    version: ClassVar[int] = 2
    description: ClassVar[str] = (
        "JPEG 2000 (glymur/OpenJPEG J2K codestreams) at the native bit depth up to 16 bits; 3 bands as one "
        "codestream with the colour transform (mct=false: per band), other band counts per band; "
        "9/7 to a target ratio, or lossless=true (5/3)"
    )

    def validate_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """Check lossless, irreversible, mct, resolutions and rescale."""
        params = super().validate_params(params)
        params["rescale"] = check_scope(params["rescale"])
        return params

    # -- capabilities -----------------------------------------------------------------
    def _native(self, cube: Cube) -> bool:
        """True when the samples are integers JPEG 2000 holds as they are (<= 16 bits)."""
        return not cube.is_float and int(cube.bit_depth) <= MAX_PRECISION  # type: ignore[arg-type]

    def _reversible(self) -> bool:
        """True when the 5/3 wavelet (and the RCT) is used: lossless, or ``irreversible=False``."""
        return self.config["lossless"] or not self.config["irreversible"]

    def _mct(self, bands: int) -> bool:
        """True when the bands are coded as one 3-component codestream with the colour transform."""
        return self.config["mct"] and bands == 3

    def supports(self, cube: Cube) -> None:
        """Lossless coding needs integers of at most 16 bits; lossy coding rescales anything else."""
        self._refuse_inexact(cube)

    def row_columns(self, cube: Cube) -> dict[str, Any]:
        """Rescaling applied, declared precision, wavelet, colour transform and resolution levels used."""
        native = self._native(cube)
        rescaled = "none" if native else describe(cube, MAX_PRECISION)
        return {
            "rescaled_bits": rescaled,
            "rescale_scope": "none" if native else self.config["rescale"],
            "j2k_precision": int(cube.bit_depth) if native else MAX_PRECISION,  # type: ignore[arg-type]
            "j2k_wavelet": "5/3" if self._reversible() else "9/7",
            "j2k_mct": ("rct" if self._reversible() else "ict") if self._mct(cube.bands) else "none",
            "j2k_resolutions": openjpeg.max_resolutions(cube.rows, cube.cols, self.config["resolutions"]),
        }

    # -- coding -----------------------------------------------------------------------
    def encode_payload(self, cube: Cube) -> bytes:
        """Flags, optional rescaling table, then the packed J2K codestreams (one, or one per band)."""
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
        mct = self._mct(cube.bands)
        if mct:
            flags |= _MCT
        budget = None
        if not self.config["lossless"]:
            budget = stream_budget(cube, self.name, float(self.config["ratio"])) - 1 - len(prefix)
        groups = [data] if mct else [data[index : index + 1] for index in range(cube.bands)]
        streams = pack_codestreams(
            groups,
            budget,
            precision=precision,
            signed=signed,
            irreversible=not self._reversible(),
            resolutions=self.config["resolutions"],
            mct=mct,
        )
        return bytes([flags]) + prefix + streams

    def decode_payload(self, payload: memoryview, header: StreamHeader) -> np.ndarray:
        """Inverse of :meth:`encode_payload`; checks each codestream's geometry and precision."""
        if len(payload) < 1:
            raise CorruptStreamError("jpeg2000 payload is empty")
        flags = payload[0]
        pos = 1
        mapping = None
        dtype = np.dtype(header.dtype)
        native = dtype.kind in "iu" and header.bit_depth <= MAX_PRECISION  # what encode_payload codes unscaled
        if flags & ~(_RESCALED | _CUBE_SCOPE | _MCT) or bool(flags & _RESCALED) == native or (
            flags & _CUBE_SCOPE and not flags & _RESCALED
        ):
            raise CorruptStreamError(
                f"jpeg2000 payload flags {flags:#04x} do not fit the framed {header.bit_depth}-bit {dtype} "
                f"samples (integers of at most {MAX_PRECISION} bits are coded as they are, all others rescaled)"
            )
        if flags & _RESCALED:
            count = 1 if flags & _CUBE_SCOPE else header.bands
            mapping, pos = LinearRescale.from_bytes(payload, pos, MAX_PRECISION, count, dtype)
            want = (MAX_PRECISION, False)
        else:
            want = (header.bit_depth, dtype.kind == "i")
        mct = bool(flags & _MCT)
        if mct and header.bands != 3:
            raise CorruptStreamError(f"jpeg2000 payload announces the colour transform for {header.bands} bands")
        streams = bandpack.unpack_streams(payload, pos, 1 if mct else header.bands)
        per_stream = header.bands if mct else 1
        # decoded samples fit the output type: 16-bit codes when rescaled, else the cube's own dtype
        out = np.empty(header.shape, dtype=np.uint16 if mapping is not None else dtype)
        expected = (header.rows, header.cols, per_stream, *want)
        for index, stream in enumerate(streams):  # before OpenJPEG allocates what a SIZ describes
            layout = openjpeg.siz_geometry(stream)
            if layout != expected:
                raise CorruptStreamError(
                    f"jpeg2000 codestream {index}: its SIZ describes {openjpeg.describe_layout(*layout)}; "
                    f"the framing announces {openjpeg.describe_layout(*expected)}"
                )
        with openjpeg.scratch_file() as path:
            for index, stream in enumerate(streams):
                comps, _, _ = openjpeg.decode(stream, path)  # the layout its SIZ describes, checked above
                out[index * per_stream : (index + 1) * per_stream] = comps
        if mapping is not None:
            return mapping.inverse(out, dtype)
        return out
