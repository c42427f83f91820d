"""Thin wrappers of the coders that imagecodecs' wheels carry (one room for the family).

``base``        availability and versions of an imagecodecs codec, decode guards, sample plumbing
``images``      JPEG-LS (CharLS), JPEG XL (libjxl), HTJ2K (OpenJPH), 12-bit JPEG (libjpeg-turbo), per band
``ccsds121``    CCSDS 121.0-B-3 lossless Rice coder with its preprocessor (libaec)
``scientific``  error-bounded zfp, SZ3 and LERC on the whole cube
``lossless``    zstd and Blosc2 + bit-shuffle: lossless floors

Importing this package does not import imagecodecs; each codec loads its library
extension when it first codes something or is asked whether it is available.
"""
