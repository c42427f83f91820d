"""The codec interface every hsbench codec implements (``docs/design.md``, "The codec interface").

A codec is a class with a registry name, a kind, a declared rate knob and two
pure functions: ``encode(cube) -> bytes`` and ``decode(bytes) -> Cube``. The
bytes are the whole rate: :meth:`Codec.encode` wraps the codec's payload in the
framing of :mod:`hsbench.codecs.container` (codec id and version, geometry,
dtype, CRC) so that :meth:`Codec.decode` needs nothing but those bytes.

Subclasses implement :meth:`Codec.encode_payload` and :meth:`Codec.decode_payload`
and, where needed, :meth:`Codec.supports`, :meth:`Codec.validate_params`,
:meth:`Codec.row_columns` and :meth:`Codec.max_error`.

The decoding contract (what :meth:`Codec.decode` guarantees to its callers):

* Nothing is allocated from unchecked header fields. Before ``decode_payload`` runs,
  the frame's geometry is bounded by the payload length
  (:func:`hsbench.codecs.container.check_implied_size` with the codec's
  :attr:`Codec.max_samples_per_byte`: the most samples one payload byte can stand for
  in a stream its encoder writes). :meth:`Codec.encode` applies the same bound to
  what it writes, so every stream hsbench writes is one it decodes.
* ``decode_payload`` raises :class:`~hsbench.errors.CorruptStreamError` itself for
  every problem it finds in the stream, and converts its library's decode errors
  explicitly where it calls the library. Any other exception is a bug in the codec
  and propagates as itself (it is *not* relabelled as a corrupt stream). The one
  exception converted here is constriction's ``pyo3_runtime.PanicException`` (a
  ``BaseException`` that Rust code raises on invalid model parameters read from a
  damaged stream).
* The decoded samples must form a valid cube of the frame's geometry, dtype and bit
  depth; otherwise the stream is corrupt.
"""

from __future__ import annotations

import enum
import importlib
import importlib.metadata
import importlib.util
import warnings
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from hsbench.codecs import container
from hsbench.cube import Cube
from hsbench.errors import (
    CodecParameterError,
    CodecUnavailableError,
    CorruptStreamError,
    InvalidCubeError,
    UnsupportedCubeError,
)


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


def _is_rust_panic(exc: BaseException) -> bool:
    """True for ``pyo3_runtime.PanicException``, which pyo3 extensions (constriction) raise on a Rust panic."""
    return type(exc).__name__ == "PanicException" and type(exc).__module__ == "pyo3_runtime"


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
    ``max_samples_per_byte``  the most samples (``bands * rows * cols``) one payload byte
                     can stand for in a stream this codec writes; the decoder refuses
                     frames announcing more before it allocates anything (see the
                     module docstring). The default suits codecs that spend at least
                     one bit per 8192 samples; declare a tighter value when the format
                     allows it (ccsds122 and jpeg: 1024), or a property computed from the
                     codec's configuration (learned codecs: from the model's latent size)
    ``aliases``      old parameter name -> current name; an old name is accepted with a
                     ``FutureWarning`` (for renamed knobs, e.g. ccsds122 ``bpp`` -> ``bpppc``)
    ``fuzz_shapes``  small cube shapes the fuzz test (``tests/test_fuzz_decoders.py``)
                     codes with this codec (default: a 3-band and a 1-band image)
    ``default_run``  ``None`` to be in ``hsbench run`` without ``--codecs``, else the reason it is not
    ``option_knobs`` ``{(parameter, value): Knob}``: a knob that replaces ``knob`` when a parameter has
                     that value (:meth:`knob_for`; the SSCNet autoencoders' ``entropy=factorized`` sets
                     their rate with ``lmbda`` instead of ``latent``)
    """

    name: ClassVar[str]
    kind: ClassVar[Kind]
    knob: ClassVar[Knob | None] = None
    params: ClassVar[dict[str, Any]] = {}
    version: ClassVar[int] = 1
    requires: ClassVar[tuple[str, ...]] = ()
    description: ClassVar[str] = ""
    aliases: ClassVar[dict[str, str]] = {}
    max_samples_per_byte: ClassVar[float] = 65536.0
    fuzz_shapes: ClassVar[tuple[tuple[int, int, int], ...]] = ((3, 16, 24), (1, 9, 13))
    default_run: ClassVar[str | None] = None
    option_knobs: ClassVar[dict[tuple[str, Any], Knob]] = {}

    def __init__(self, **params: Any) -> None:
        params = self.resolve_aliases(params)
        unknown = sorted(set(params) - set(self.params))
        if unknown:
            known = ", ".join(sorted(self.params)) or "none"
            raise CodecParameterError(
                f"codec {self.name!r} has no parameter {', '.join(map(repr, unknown))}; it takes: {known}"
            )
        merged = {**self.params, **params}
        for knob in {self.knob, self.knob_for(merged)} - {None}:
            if merged.get(knob.name) is not None:  # type: ignore[union-attr]
                merged[knob.name] = knob.check(merged[knob.name])  # type: ignore[union-attr]
        self.config: dict[str, Any] = self.validate_params(merged)

    @classmethod
    def resolve_aliases(cls, params: dict[str, Any]) -> dict[str, Any]:
        """``params`` with old parameter names (:attr:`aliases`) replaced by the current ones.

        Each old name in use gives a ``FutureWarning``; giving both names is an error.
        """
        params = dict(params)
        for old, new in cls.aliases.items():
            if old in params:
                if new in params:
                    raise CodecParameterError(f"codec {cls.name!r}: give {new!r} or its old name {old!r}, not both")
                warnings.warn(
                    f"codec {cls.name!r}: parameter {old!r} is now called {new!r}; {old!r} still works "
                    "but will be removed",
                    FutureWarning,
                    stacklevel=3,
                )
                params[new] = params.pop(old)
        return params

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
    def knob_for(cls, params: dict[str, Any] | None = None) -> Knob | None:
        """The rate knob of a job with ``params``: the first matching :attr:`option_knobs` entry, else :attr:`knob`."""
        for (name, value), knob in cls.option_knobs.items():
            if params and params.get(name) == value:
                return knob
        return cls.knob

    @classmethod
    def inactive_params(cls, params: dict[str, Any]) -> set[str]:
        """Parameters that have no effect with ``params`` (the planner drops them from a point, so a value
        swept for other codecs or for another option adds no duplicate jobs); none by default."""
        return set()

    @classmethod
    def sweep(cls, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Parameter sets of the default rate sweep (of :meth:`knob_for` ``params``)."""
        knob = cls.knob_for(params)
        if knob is None:
            return [{}]
        return [{knob.name: v} for v in knob.default_points]

    # -- the public, framed interface -------------------------------------------
    def encode(self, cube: Cube) -> bytes:
        """Code ``cube`` into a self-contained framed bitstream."""
        self.supports(cube)
        payload = self.encode_payload(cube)
        try:
            container.check_implied_size(cube.shape, len(payload), self.max_samples_per_byte, self.name)
        except CorruptStreamError as exc:  # the decoder would refuse this stream: do not write it
            raise UnsupportedCubeError(
                f"{exc}. The cube {cube.name!r} is (nearly) constant and compresses beyond the limit the "
                f"{self.name} decoder accepts; code a smaller or less uniform image"
            ) from None
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
        """Rebuild the cube from the bytes :meth:`encode` produced, and nothing else.

        Raises :class:`CorruptStreamError` for a stream that is damaged, truncated, forged
        or written by another codec or version (the contract in the module docstring).
        """
        header, payload = container.unpack(data, expect_codec=self.name)
        if header.codec_version != self.version:
            raise CorruptStreamError(
                f"{self.name} bitstream version {header.codec_version} cannot be read by this "
                f"{self.name} (version {self.version})"
            )
        container.check_implied_size(header.shape, len(payload), self.max_samples_per_byte, self.name)
        try:
            array = self.decode_payload(payload, header)
        except CorruptStreamError:
            raise
        except BaseException as exc:
            if _is_rust_panic(exc):  # constriction (pyo3) on a model parameter read from a damaged stream
                raise CorruptStreamError(f"{self.name}: payload cannot be decoded (entropy decoder: {exc})") from exc
            raise  # a bug in the codec, not a property of the stream: surface it as itself
        if array.shape != header.shape:
            raise CorruptStreamError(
                f"{self.name}: decoded shape {array.shape} differs from the header's {header.shape}"
            )
        value_range = header.value_range
        if value_range is not None and not value_range[1] > value_range[0]:
            value_range = None  # a constant float cube: its (v, v) range is taken from the data, as on encode
        try:
            return Cube(
                np.ascontiguousarray(array, dtype=header.dtype),
                bit_depth=header.bit_depth,
                value_range=value_range,
            )
        except InvalidCubeError as exc:  # e.g. samples outside the announced bit depth, NaN
            raise CorruptStreamError(f"{self.name}: the stream decodes to an invalid cube: {exc}") from exc

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
