"""Codecs: the interface, the registry and the built-in implementations."""

from hsbench.codecs.base import Codec, Kind, Knob
from hsbench.codecs.registry import codec_names, create_codec, describe_codecs, get_codec, register

__all__ = ["Codec", "Kind", "Knob", "codec_names", "create_codec", "describe_codecs", "get_codec", "register"]
