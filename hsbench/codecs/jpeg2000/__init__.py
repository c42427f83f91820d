"""JPEG 2000 (ITU-T T.800 / ISO 15444-1) through glymur over OpenJPEG.

``openjpeg``  finding the OpenJPEG library, coding one J2K codestream (low-level bindings)
``codec``     the ``jpeg2000`` codec

glymur loads only when something is coded, so importing this package is cheap.
"""

from hsbench.codecs.jpeg2000.codec import Jpeg2000Codec, j2k_header_length

__all__ = ["Jpeg2000Codec", "j2k_header_length"]
