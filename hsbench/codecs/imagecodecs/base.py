"""What every thin imagecodecs wrapper shares: availability, versions, decode guards, sample plumbing.

imagecodecs (Gohlke) ships the coding libraries in its wheels, one extension
module per library; a wheel built without one reports ``imagecodecs.<NAME>.available``
false. :class:`ImagecodecsCodec` checks exactly that flag (loading one small
extension, never the whole package) and reports the library's own version next
to imagecodecs' (``hsbench codecs``, the ``library_versions`` of every row).

Decoding discipline (``docs/design.md``, "Fail loudly on bad input"): before any
library allocates the output, :meth:`ImagecodecsCodec.decode_payload` bounds the
geometry of the framing by the payload length (:meth:`Codec.decode` with the codec's
``max_samples_per_byte``), and every
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
import zlib
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
    ``library_prefix`` (of its functions, e.g. ``"jpegls"`` for ``jpegls_version``) and
    ``max_samples_per_byte`` (:class:`~hsbench.codecs.base.Codec`): the format's limit, or the
    ratio measured on a constant 1 x 2048 x 2048 band with a margin where the format has none.
    They implement :meth:`decode_array` instead of ``decode_payload``.
    """

    requires: ClassVar[tuple[str, ...]] = ("imagecodecs",)
    library: ClassVar[str]
    library_prefix: ClassVar[str]
    #: Whether the payload ends with a CRC-32 of the library stream (:meth:`seal`): for libraries
    #: that crash the process (abort, segfault) on some damaged bodies their own checks miss.
    sealed: ClassVar[bool] = False

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

    def seal(self, stream: bytes) -> bytes:
        """``stream`` followed by its CRC-32 (ISO 3309, little-endian) when :attr:`sealed`, else itself.

        The CRC keeps a damaged library stream away from a library that would crash on it
        even where the frame has been rewritten with a fresh frame CRC. It is no defence
        against a stream crafted with both CRCs recomputed (see the codec docstrings).
        """
        return stream + zlib.crc32(stream).to_bytes(4, "little") if self.sealed else stream

    def unseal(self, payload: memoryview) -> memoryview:
        """Inverse of :meth:`seal`: the library stream, its CRC-32 checked."""
        if not self.sealed:
            return payload
        if len(payload) < 4 or zlib.crc32(payload[:-4]) != int.from_bytes(payload[-4:], "little"):
            raise CorruptStreamError(
                f"{self.name}: the CRC-32 of the {self.library} stream does not match; the payload is damaged"
            )
        return payload[:-4]

    def decode_payload(self, payload: memoryview, header: StreamHeader) -> np.ndarray:
        """Check the seal, then :meth:`decode_array` (the geometry is bounded by :meth:`Codec.decode`)."""
        return self.decode_array(self.unseal(payload), header)

    @abstractmethod
    def decode_array(self, payload: memoryview, header: StreamHeader) -> np.ndarray:
        """Rebuild the ``(B, H, W)`` array from a payload whose size has been checked."""

    def decode_call(self, what: str, function: str, *args: Any, **kwargs: Any) -> Any:
        """``imagecodecs.<function>(*args, **kwargs)``, its errors raised as :class:`CorruptStreamError`."""
        with library_errors(self.name, what):
            return getattr(self.lib(), function)(*args, **kwargs)
