"""JPEG 2000 (ITU-T T.800 / ISO 15444-1) through glymur over OpenJPEG.

``openjpeg``  finding the OpenJPEG library, coding one J2K codestream (low-level bindings)
``codec``     the ``jpeg2000`` codec (colour transform for 3 bands, else band by band) and the
              rate accounting the family shares
``klt``       the ``klt-jpeg2000`` codec (spectral KLT / reversible 5/3 DWT + multi-component JPEG 2000)

glymur loads only when something is coded, so importing this package is cheap.
"""

from hsbench.codecs.jpeg2000.codec import Jpeg2000Codec, pack_codestreams, stream_budget
from hsbench.codecs.jpeg2000.openjpeg import j2k_header_length, siz_geometry

__all__ = ["Jpeg2000Codec", "j2k_header_length", "pack_codestreams", "siz_geometry", "stream_budget"]
