"""The codec interface every hsbench codec implements (``DESIGN.md``, "The codec interface").

A codec is a class with a registry name, a kind, a declared rate knob and two
pure functions: ``encode(cube) -> bytes`` and ``decode(bytes) -> Cube``. The
bytes are the whole rate: :meth:`Codec.encode` wraps the codec's payload in the
framing of :mod:`hsbench.codecs.container` (codec id and version, geometry,
dtype, CRC) so that :meth:`Codec.decode` needs nothing but those bytes.

Subclasses implement :meth:`Codec.encode_payload` and :meth:`Codec.decode_payload`
and, where needed, :meth:`Codec.supports`, :meth:`Codec.validate_params`,
:meth:`Codec.row_columns` and :meth:`Codec.max_error`.
"""

from __future__ import annotations

import enum
import importlib
import importlib.metadata
import importlib.util
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from hsbench.codecs import container
from hsbench.cube import Cube
from hsbench.errors import CodecParameterError, CodecUnavailableError, CorruptStreamError


class Kind(str, enum.Enum):
    """How faithful a codec's reconstruction is."""

    LOSSLESS = "lossless"  # decode(encode(x)) == x, always
    NEAR_LOSSLESS = "near-lossless"  # |decode(encode(x)) - x| <= a declared bound
    LOSSY = "lossy"  # no pointwise bound

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Knob:
    """The parameter that sets a codec's rate.

    ``increases_rate`` says which way the rate moves when the knob grows
    (JPEG quality: up; JPEG 2000 target ratio: down). ``default_points`` are the
    values a run sweeps when the user names none. ``log_scale`` tells the
    bisection (target-rate sweeps, :mod:`hsbench.ratecontrol`) to search in log
    space. ``discrete`` marks a knob that only takes its ``default_points``
    (learned codecs with one trained model per rate): a target-rate sweep then
    uses the point nearest the target instead of bisecting.
    """

    name: str
    low: float
    high: float
    increases_rate: bool
    default_points: tuple[float, ...]
    integer: bool = False
    log_scale: bool = False
    unit: str = ""
    help: str = ""
    discrete: bool = False

    def check(self, value: Any) -> float | int:
        """Validate and normalise one knob value (raises :class:`CodecParameterError`)."""
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise CodecParameterError(f"{self.name} must be a number, got {value!r}") from None
        if not self.low <= v <= self.high:
            raise CodecParameterError(
                f"{self.name}={value} is outside the allowed range [{self.low:g}, {self.high:g}]"
            )
        if self.integer:
            if v != int(v):
                raise CodecParameterError(f"{self.name} must be an integer, got {value!r}")
            return int(v)
        return v


def parse_value(text: str) -> Any:
    """Parse a parameter value given on the command line (``"8"``, ``"0.5"``, ``"true"``, ``"x"``)."""
    low = text.strip().lower()
    if low in ("true", "yes", "on"):
        return True
    if low in ("false", "no", "off"):
        return False
    if low in ("none", "null"):
        return None
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    return text


class Codec(ABC):
    """Base class of every codec. See the module docstring for the contract.

    Class attributes a subclass sets:

    ``name``         registry id (``"jpeg2000"``); also written into every bitstream
    ``kind``         :class:`Kind`
    ``knob``         the rate :class:`Knob`, or ``None`` for a codec with one operating point
    ``params``       defaults of every accepted parameter (the knob included)
    ``version``      bitstream format version, bumped when the payload layout changes
    ``requires``     import names of the libraries it wraps (availability + versions)
    ``description``  one line for ``hsbench codecs``
    ``default_run``  ``None`` to be in ``hsbench run`` without ``--codecs``, else the reason it is not
    """

    name: ClassVar[str]
    kind: ClassVar[Kind]
    knob: ClassVar[Knob | None] = None
    params: ClassVar[dict[str, Any]] = {}
    version: ClassVar[int] = 1
    requires: ClassVar[tuple[str, ...]] = ()
    description: ClassVar[str] = ""
    default_run: ClassVar[str | None] = None

    def __init__(self, **params: Any) -> None:
        unknown = sorted(set(params) - set(self.params))
        if unknown:
            known = ", ".join(sorted(self.params)) or "none"
            raise CodecParameterError(
                f"codec {self.name!r} has no parameter {', '.join(map(repr, unknown))}; it takes: {known}"
            )
        merged = {**self.params, **params}
        if self.knob is not None and merged.get(self.knob.name) is not None:
            merged[self.knob.name] = self.knob.check(merged[self.knob.name])
        self.config: dict[str, Any] = self.validate_params(merged)

    # -- to override --------------------------------------------------------------
    def validate_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """Check parameters beyond the knob; return the normalised dict."""
        return params

    def supports(self, cube: Cube) -> None:
        """Raise :class:`~hsbench.errors.UnsupportedCubeError` when this codec cannot code ``cube``."""

    @abstractmethod
    def encode_payload(self, cube: Cube) -> bytes:
        """The codec's own bytes for ``cube`` (framing is added by :meth:`encode`)."""

    @abstractmethod
    def decode_payload(self, payload: memoryview, header: container.StreamHeader) -> np.ndarray:
        """Rebuild the ``(B, H, W)`` array of ``header.dtype`` from the payload."""

    def row_columns(self, cube: Cube) -> dict[str, Any]:
        """Extra result-row columns for this codec on ``cube`` (e.g. rescaling applied, nominal CR)."""
        return {}

    def max_error(self, cube: Cube) -> float | None:
        """Guaranteed bound on ``|decoded - original|`` (0 = lossless), or ``None`` for lossy coding.

        The runner checks the bound on every job and fails the job if it is broken.
        """
        return 0.0 if self.kind is Kind.LOSSLESS else None

    @classmethod
    def sweep(cls) -> list[dict[str, Any]]:
        """Parameter sets of the default rate sweep."""
        if cls.knob is None:
            return [{}]
        return [{cls.knob.name: v} for v in cls.knob.default_points]

    # -- the public, framed interface -------------------------------------------
    def encode(self, cube: Cube) -> bytes:
        """Code ``cube`` into a self-contained framed bitstream."""
        self.supports(cube)
        payload = self.encode_payload(cube)
        header = container.StreamHeader(
            codec=self.name,
            codec_version=self.version,
            dtype=cube.dtype,
            bit_depth=int(cube.bit_depth),  # type: ignore[arg-type]
            shape=cube.shape,
            value_range=cube.value_range if cube.is_float else None,
        )
        return container.pack(header, payload)

    def decode(self, data: bytes) -> Cube:
        """Rebuild the cube from the bytes :meth:`encode` produced, and nothing else."""
        header, payload = container.unpack(data, expect_codec=self.name)
        if header.codec_version != self.version:
            raise CorruptStreamError(
                f"{self.name} bitstream version {header.codec_version} cannot be read by this "
                f"{self.name} (version {self.version})"
            )
        try:
            array = self.decode_payload(payload, header)
        except CorruptStreamError:
            raise
        except Exception as exc:  # a library choking on damaged data
            raise CorruptStreamError(f"{self.name}: payload cannot be decoded ({exc})") from exc
        if array.shape != header.shape:
            raise CorruptStreamError(
                f"{self.name}: decoded shape {array.shape} differs from the header's {header.shape}"
            )
        return Cube(
            np.ascontiguousarray(array, dtype=header.dtype),
            bit_depth=header.bit_depth,
            value_range=header.value_range,
        )

    # -- descriptions ---------------------------------------------------------------
    @property
    def label(self) -> str:
        """Short text naming the codec and its non-default parameters (for logs and legends)."""
        diff = {k: v for k, v in self.config.items() if self.params.get(k) != v}
        inner = ",".join(f"{k}={v}" for k, v in sorted(diff.items()))
        return f"{self.name}({inner})" if inner else self.name

    @classmethod
    def check_available(cls) -> None:
        """Raise :class:`CodecUnavailableError` when a required library is not installed.

        Looks the modules up without importing them, so listing codecs stays fast even
        when they wrap heavy libraries (torch, numba).
        """
        for module in cls.requires:
            try:
                found = importlib.util.find_spec(module) is not None
            except (ImportError, ValueError):
                found = False
            if not found:
                raise CodecUnavailableError(
                    f"codec {cls.name!r} needs the Python package {module!r}, which is not installed; "
                    "install it with pip"
                )

    @classmethod
    def library_versions(cls) -> dict[str, str]:
        """Versions of the libraries the codec wraps, by distribution name."""
        versions: dict[str, str] = {}
        for module in cls.requires:
            top = module.split(".")[0]
            dist = {"PIL": "pillow", "skimage": "scikit-image"}.get(top, top)
            try:
                versions[dist] = importlib.metadata.version(dist)
            except importlib.metadata.PackageNotFoundError:
                versions[dist] = "missing"
        return versions
