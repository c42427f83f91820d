"""The codec registry: built-in codecs, ``@register`` and the ``hsbench.codecs`` entry points.

Built-in codecs are listed by import path and imported only when asked for, so
``hsbench codecs`` and ``hsbench --help`` stay fast. A third-party package adds
a codec by declaring an entry point::

    [project.entry-points."hsbench.codecs"]
    mycodec = "mypackage.codec:MyCodec"

and it then appears in ``hsbench codecs`` and runs exactly like a built-in one.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from dataclasses import dataclass, field
from typing import Any

from hsbench.codecs.base import Codec
from hsbench.errors import CodecUnavailableError, HsbenchError

ENTRY_POINT_GROUP = "hsbench.codecs"

#: name -> "module:Class" of the codecs that ship with hsbench.
BUILTIN: dict[str, str] = {
    "ccsds122": "hsbench.codecs.ccsds122:Ccsds122Codec",
    "jpeg": "hsbench.codecs.jpeg:JpegCodec",
    "jpeg2000": "hsbench.codecs.jpeg2000:Jpeg2000Codec",
    "klt-jpeg2000": "hsbench.codecs.jpeg2000.klt:KltJpeg2000Codec",
    "ccsds123": "hsbench.codecs.ccsds123:Ccsds123Codec",
    "jpegls": "hsbench.codecs.imagecodecs.images:JpeglsCodec",
    "jpegxl": "hsbench.codecs.imagecodecs.images:JpegxlCodec",
    "htj2k": "hsbench.codecs.imagecodecs.images:Htj2kCodec",
    "jpeg12": "hsbench.codecs.imagecodecs.images:Jpeg12Codec",
    "ccsds121": "hsbench.codecs.imagecodecs.ccsds121:Ccsds121Codec",
    "zfp": "hsbench.codecs.imagecodecs.scientific:ZfpCodec",
    "sz3": "hsbench.codecs.imagecodecs.scientific:Sz3Codec",
    "lerc": "hsbench.codecs.imagecodecs.scientific:LercCodec",
    "zstd": "hsbench.codecs.imagecodecs.lossless:ZstdCodec",
    "blosc2": "hsbench.codecs.imagecodecs.lossless:Blosc2Codec",
    "sscnet": "hsbench.codecs.learned.sscnet:SSCNetCodec",
    "sscnet-linear": "hsbench.codecs.learned.sscnet:SSCNetLinearCodec",
    "vgg16-baseline": "hsbench.codecs.learned.vgg16_baseline:Vgg16BaselineCodec",
    "factorized": "hsbench.codecs.learned.factorized:FactorizedCodec",
    "hyperprior": "hsbench.codecs.learned.hyperprior:HyperpriorCodec",
    "cae1d": "hsbench.codecs.learned.seedcodecs:Cae1dCodec",
    "hycot": "hsbench.codecs.learned.seedcodecs:HyCoTCodec",
    "s2cnet": "hsbench.codecs.learned.seedcodecs:S2CNetCodec",
    "cnn-lstm-ae": "hsbench.codecs.learned.seedcodecs:CnnLstmCodec",
    "two-path-ae": "hsbench.codecs.learned.seedcodecs:TwoPathCodec",
}

_registered: dict[str, type[Codec]] = {}


def register(cls: type[Codec]) -> type[Codec]:
    """Class decorator that registers a codec under ``cls.name`` for this process."""
    if not isinstance(cls, type) or not issubclass(cls, Codec):
        raise TypeError(f"@register expects a Codec subclass, got {cls!r}")
    _registered[cls.name] = cls
    return cls


def _entry_points() -> dict[str, importlib.metadata.EntryPoint]:
    return {ep.name: ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}


def codec_names() -> list[str]:
    """Every codec name known: built-in, registered and from entry points."""
    return sorted(set(BUILTIN) | set(_registered) | set(_entry_points()))


def get_codec(name: str) -> type[Codec]:
    """The codec class registered as ``name`` (raises a clear error for unknown names)."""
    if name in _registered:
        return _registered[name]
    target = BUILTIN.get(name)
    origin = "built-in"
    if target is None:
        ep = _entry_points().get(name)
        if ep is None:
            raise HsbenchError(
                f"unknown codec {name!r}; known codecs: {', '.join(codec_names())} "
                "(run `hsbench codecs` for details)"
            )
        target, origin = ep.value, f"entry point of {ep.dist.name if ep.dist else 'a package'}"
    module_name, _, attr = target.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), attr)
    except Exception as exc:
        raise CodecUnavailableError(
            f"codec {name!r} ({origin}, {target}) cannot be loaded: {type(exc).__name__}: {exc}"
        ) from exc
    if not (isinstance(cls, type) and issubclass(cls, Codec)):
        raise CodecUnavailableError(f"codec {name!r} ({target}) is not a hsbench Codec subclass")
    if cls.name != name:
        raise CodecUnavailableError(f"codec registered as {name!r} calls itself {cls.name!r}")
    _registered[name] = cls
    return cls


def create_codec(name: str, **params: Any) -> Codec:
    """Instantiate codec ``name`` with ``params``, checking availability first."""
    cls = get_codec(name)
    cls.check_available()
    return cls(**params)


@dataclass
class CodecInfo:
    """One line of ``hsbench codecs``."""

    name: str
    kind: str = "?"
    knob: str = ""
    available: bool = False
    reason: str = ""
    versions: dict[str, str] = field(default_factory=dict)
    description: str = ""


def describe_codecs() -> list[CodecInfo]:
    """Kind, knob, availability and library versions of every known codec."""
    infos = []
    for name in codec_names():
        info = CodecInfo(name)
        try:
            cls = get_codec(name)
        except HsbenchError as exc:
            info.reason = str(exc)
            infos.append(info)
            continue
        info.kind = str(cls.kind)
        info.description = cls.description
        knobs = [("", cls.knob)] if cls.knob is not None else []
        knobs += [(f"{p}={v}: ", k) for (p, v), k in cls.option_knobs.items()]
        info.knob = "; ".join(
            f"{prefix}{k.name} [{k.low:g}..{k.high:g}] (higher = {'more' if k.increases_rate else 'fewer'} bits)"
            for prefix, k in knobs
        )
        try:
            cls.check_available()
            info.available = True
        except HsbenchError as exc:
            info.reason = str(exc)
        info.versions = cls.library_versions()
        infos.append(info)
    return infos
