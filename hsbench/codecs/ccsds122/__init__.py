"""CCSDS 122.0-B-2 style wavelet image coding, band by band.

``dwt97``          the two DWTs of section 3 (integer 9/7-M, float CDF 9/7)
``dwt97_kernels``  their numba lifting loops and the lifting constants
``bpe``            the bit-plane encoder and decoder of section 4 (numba)
``codec``          the hsbench codec (padding, DWT, segments, SegByteLimit rate control)

Imports go one way (``codec`` -> ``dwt97`` -> ``dwt97_kernels``; ``codec`` -> ``bpe``)
and numba loads only when something is coded, so importing this package is cheap.
"""

from hsbench.codecs.ccsds122.codec import Ccsds122Codec, block_index

__all__ = ["Ccsds122Codec", "block_index"]
