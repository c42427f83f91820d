"""Exceptions that hsbench raises for problems a user can cause.

Every message names the thing at fault and says what to do about it.
"""


class HsbenchError(Exception):
    """Base class of every error hsbench raises on purpose."""


class InvalidCubeError(HsbenchError, ValueError):
    """An array or its metadata cannot be an image cube (shape, dtype, NaN, range)."""


class UnsupportedCubeError(HsbenchError, ValueError):
    """A codec cannot code this cube (bit depth, band count, size, dtype)."""


class CorruptStreamError(HsbenchError, ValueError):
    """A bitstream is truncated, corrupt or was written by another codec."""


class CodecParameterError(HsbenchError, ValueError):
    """A codec was given an unknown parameter or a value outside its range."""


class CodecUnavailableError(HsbenchError, RuntimeError):
    """A codec's library, model or checkpoint is missing on this machine."""


class DatasetError(HsbenchError):
    """A dataset is unknown, missing locally, or one of its files cannot be read."""
