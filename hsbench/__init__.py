"""hsbench: benchmark image codecs on hyperspectral, multispectral and RGB data."""

__version__ = "0.1.0"

from hsbench.errors import HsbenchError  # noqa: E402

__all__ = ["HsbenchError", "__version__"]
