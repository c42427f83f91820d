"""What every thin imagecodecs wrapper shares: availability, versions, decode guards, sample plumbing.

imagecodecs (Gohlke) ships the coding libraries in its wheels, one extension
module per library; a wheel built without one reports ``imagecodecs.<NAME>.available``
false. :class:`ImagecodecsCodec` checks exactly that flag (loading one small
extension, never the whole package) and reports the library's own version next
to imagecodecs' (``hsbench codecs``, the ``library_versions`` of every row).

Decoding discipline (``docs/design.md``, "Fail loudly on bad input"): before any
library allocates the output, :meth:`ImagecodecsCodec.decode_payload` bounds the
geometry of the framing by the payload length (:func:`check_expansion`), and every
call into a library decoder goes through :func:`library_decode`, which turns the
library's exceptions into :class:`~hsbench.errors.CorruptStreamError` naming the
codec and band.

Sample plumbing: integer cubes are handed to the libraries in the smallest
unsigned storage that holds their nominal depth (``uint8`` / ``uint16`` /
``uint32``); signed D-bit data is offset by ``2**(D-1)`` first (the DC level shift
of JPEG 2000, ITU-T T.800 Annex G.1.2), which is exact and undone on decoding.
"""

from __future__ import annotations

import contextlib
import importlib
from abc import abstractmethod
from types import ModuleType
from typing import Any, ClassVar, Iterator

import numpy as np

from hsbench.codecs.base import Codec
from hsbench.codecs.container import StreamHeader
from hsbench.cube import Cube, integer_range
from hsbench.errors import (
    CodecParameterError,
    CodecUnavailableError,
    CorruptStreamError,
    HsbenchError,
    UnsupportedCubeError,
)

#: Default bound on decoded samples per payload byte, for formats whose cheapest construct
#: has no fixed floor (entropy coders that spend almost nothing on a constant image). It is
#: far above what the wrapped encoders write for a constant band (measured: a 256 x 256
#: 16-bit constant band takes 80 bytes in JPEG XL, 70 in LERC, 291 in HTJ2K, i.e. at most
#: 940 samples a byte) and above the format limits of zstd (2**15 bytes a byte: one RLE
#: block of 128 KiB in 4 bytes, RFC 8878) and JPEG-LS (2**18 samples a byte in run mode).
#: It refuses a stream of a few bytes whose framing announces gigabytes, before anything
#: is allocated.
MAX_EXPANSION = float(1 << 20)


def imagecodecs_module() -> ModuleType:
    """``import imagecodecs`` (lazily: its extension modules load on first use of each codec)."""
    try:
        return importlib.import_module("imagecodecs")
    except ImportError as exc:  # pragma: no cover - imagecodecs is a dependency
        raise CodecUnavailableError(
            f"imagecodecs cannot be imported ({exc}); install it with `pip install imagecodecs`"
        ) from exc


def storage_dtype(bit_depth: int) -> np.dtype:
    """Smallest unsigned integer type holding ``bit_depth``-bit samples, little-endian."""
    for dtype in ("<u1", "<u2", "<u4"):
        if bit_depth <= np.dtype(dtype).itemsize * 8:
            return np.dtype(dtype)
    raise ValueError(f"no unsigned storage for {bit_depth}-bit samples")


def to_unsigned(data: np.ndarray, bit_depth: int, signed: bool) -> np.ndarray:
    """Samples as unsigned ``bit_depth``-bit codes: signed data offset by ``2**(D-1)`` (exact)."""
    dtype = storage_dtype(bit_depth)
    if signed:
        return (data.astype(np.int64) + (1 << (bit_depth - 1))).astype(dtype)
    return data.astype(dtype, copy=False)


def from_unsigned(codes: np.ndarray, header: StreamHeader) -> np.ndarray:
    """Inverse of :func:`to_unsigned` into the framing's dtype, clipped to the nominal range.

    Clipping only moves a lossy reconstruction towards the original (which lies in the range),
    so it never increases an error and keeps the decoded cube valid. Codes already within
    ``D`` bits (every lossless decode) take a path without 64-bit temporaries.
    """
    dtype = np.dtype(header.dtype)
    depth = header.bit_depth
    signed = dtype.kind == "i"
    offset = (1 << (depth - 1)) if signed else 0
    if codes.dtype.kind == "u" and codes.size and int(codes.max()) < (1 << depth):
        if not signed:
            return codes.astype(dtype)
        work = codes.astype(np.int32 if depth <= 16 else np.int64)
        work -= offset
        return work.astype(dtype)
    lo, hi = integer_range(depth, signed)
    return np.clip(codes.astype(np.int64) - offset, lo, hi).astype(dtype)


def check_expansion(name: str, header: StreamHeader, payload_length: int, limit: float) -> None:
    """Refuse a payload too short for the geometry its framing announces (before allocating).

    ``limit`` is the most samples one payload byte can carry in the codec's format.
    """
    samples = int(np.prod(header.shape, dtype=np.int64))
    if samples > limit * max(payload_length, 1):
        raise CorruptStreamError(
            f"{name}: a {payload_length}-byte payload cannot hold the {header.bands} x {header.rows} x "
            f"{header.cols} samples its framing announces (more than {limit:g} samples per payload "
            "byte); the stream is damaged"
        )


@contextlib.contextmanager
def library_errors(name: str, what: str) -> Iterator[None]:
    """Turn an imagecodecs decoder's exception into :class:`CorruptStreamError` (``what``: the part)."""
    try:
        yield
    except HsbenchError:
        raise
    except (RuntimeError, ValueError) as exc:  # imagecodecs' *Error are RuntimeErrors; ValueError: bad data
        raise CorruptStreamError(f"{name}: {what} cannot be decoded: {type(exc).__name__}: {exc}") from exc


def require_integer(cube: Cube, name: str, max_bits: int, hint: str = "") -> None:
    """Raise :class:`UnsupportedCubeError` unless ``cube`` holds integers of at most ``max_bits`` bits."""
    if cube.is_float:
        raise UnsupportedCubeError(
            f"{name} codes integer samples; cube {cube.name!r} is {cube.dtype}. "
            + (hint or "Quantise it to integers first, or use zfp / sz3 / lerc, which code floats")
        )
    if int(cube.bit_depth) > max_bits:  # type: ignore[arg-type]
        raise UnsupportedCubeError(
            f"{name} codes samples of at most {max_bits} bits; cube {cube.name!r} has {cube.bit_depth}-bit "
            "samples. " + (hint or "Declare a smaller bit_depth if the samples fit one")
        )


def check_bool(name: str, key: str, value: Any) -> bool:
    """A true / false parameter (raises :class:`CodecParameterError`)."""
    if not isinstance(value, bool):
        raise CodecParameterError(f"{name} {key} must be true or false, got {value!r}")
    return value


def check_int(name: str, key: str, value: Any, low: int, high: int) -> int:
    """An integer parameter in ``[low, high]`` (raises :class:`CodecParameterError`)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer)) or value != int(value) or not (
        low <= int(value) <= high
    ):
        raise CodecParameterError(f"{name} {key} must be an integer in {low}..{high}, got {value!r}")
    return int(value)


class ImagecodecsCodec(Codec):
    """Base of the imagecodecs wrappers: availability of one imagecodecs codec, versions, guarded decoding.

    Subclasses set ``library`` (the imagecodecs codec class, e.g. ``"JPEGLS"``) and
    ``library_prefix`` (of its functions, e.g. ``"jpegls"`` for ``jpegls_version``), and may
    lower ``max_expansion`` (decoded samples per payload byte) to the limit of their format.
    They implement :meth:`decode_array` instead of ``decode_payload``.
    """

    requires: ClassVar[tuple[str, ...]] = ("imagecodecs",)
    library: ClassVar[str]
    library_prefix: ClassVar[str]
    max_expansion: ClassVar[float] = MAX_EXPANSION

    @classmethod
    def check_available(cls) -> None:
        """imagecodecs must be installed and built with this codec's library."""
        super().check_available()
        module = imagecodecs_module()
        try:
            available = bool(getattr(module, cls.library).available)
        except Exception as exc:  # a stub or a broken extension module
            available, reason = False, f" ({type(exc).__name__}: {exc})"
        else:
            reason = ""
        if not available:
            raise CodecUnavailableError(
                f"codec {cls.name!r} needs imagecodecs' {cls.library} codec, which this imagecodecs "
                f"{getattr(module, '__version__', '?')} lacks{reason}; install an imagecodecs wheel "
                "built with it (the PyPI wheels are)"
            )

    @classmethod
    def library_versions(cls) -> dict[str, str]:
        """imagecodecs' version and the wrapped library's (``jpegls_version()`` -> ``charls 2.4.3``)."""
        versions = super().library_versions()
        try:
            text = str(getattr(imagecodecs_module(), f"{cls.library_prefix}_version")())
            lib, _, number = text.rpartition(" ")
            versions[lib or cls.library_prefix] = number
        except Exception:
            versions[cls.library_prefix] = "missing"
        return versions

    @staticmethod
    def lib() -> ModuleType:
        """The imagecodecs module."""
        return imagecodecs_module()

    def decode_payload(self, payload: memoryview, header: StreamHeader) -> np.ndarray:
        """Bound the geometry by the payload length, then :meth:`decode_array`."""
        check_expansion(self.name, header, len(payload), self.max_expansion)
        return self.decode_array(payload, header)

    @abstractmethod
    def decode_array(self, payload: memoryview, header: StreamHeader) -> np.ndarray:
        """Rebuild the ``(B, H, W)`` array from a payload whose size has been checked."""

    def decode_call(self, what: str, function: str, *args: Any, **kwargs: Any) -> Any:
        """``imagecodecs.<function>(*args, **kwargs)``, its errors raised as :class:`CorruptStreamError`."""
        with library_errors(self.name, what):
            return getattr(self.lib(), function)(*args, **kwargs)
