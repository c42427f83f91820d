"""CCSDS 123.0-B-2 low-complexity lossless and near-lossless multispectral / hyperspectral coding.

``header``     the standard header (image, predictor, entropy-coder metadata)
``predictor``  the adaptive predictor, quantizer and mapper (numba)
``entropy``    the sample-adaptive entropy coder (numba), bit writer, body encode / decode
               dispatch over the three coders
``hybrid``     the hybrid entropy coder (numba), decoded backwards from the stream's end
``lowentropy`` the hybrid coder's 16 low-entropy codes (``low_entropy_codes.txt``) as arrays
``block``      the block-adaptive entropy coder (CCSDS 121.0 options, numba)
``codec``      bare-stream ``compress`` / ``decompress`` and the hsbench codec

numba loads only when something is coded, so importing this package is cheap.
"""

from hsbench.codecs.ccsds123.codec import Ccsds123Codec, compress, decompress, error_bound
from hsbench.codecs.ccsds123.header import Ccsds123Header, pack_header, unpack_header

__all__ = [
    "Ccsds123Codec",
    "Ccsds123Header",
    "compress",
    "decompress",
    "error_bound",
    "pack_header",
    "unpack_header",
]
