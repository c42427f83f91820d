"""OpenJPEG through glymur: finding the library, and coding one J2K codestream per band.

glymur binds ``libopenjp2`` with ctypes when it is first imported
(``glymur/lib/openjp2.py`` calls ``glymur.config.glymur_config("openjp2")``,
which takes the path from a ``glymurrc`` file, else from
``ctypes.util.find_library``). On a machine without a system OpenJPEG that
lookup fails and glymur cannot code anything, although the Pillow and
imagecodecs wheels that hsbench depends on each ship a copy of the library.
:func:`load_glymur` imports glymur with ``find_library`` extended, for the
name ``openjp2`` only and only when the normal lookup finds nothing, to those
bundled copies. A ``glymurrc`` entry and a system library therefore keep
precedence.

:func:`encode_band` and :func:`decode_band` drive OpenJPEG's codestream API
through glymur's low-level bindings (``glymur.lib.openjp2``) rather than
``glymur.Jp2k``, because the high-level writer only declares 8 or 16 bit
unsigned components, whereas JPEG 2000 (ITU-T T.800, Annex A.5.1, SIZ marker)
codes any precision from 1 to 38 bits, signed or not: 12-bit data is coded as
12-bit data. OpenJPEG's codestream API works on files, so each call uses a
scratch file in a private temporary folder.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import importlib.util
import os
import sys
import tempfile
import threading
import warnings
from pathlib import Path
from types import ModuleType
from typing import Callable, Iterator

import numpy as np

from hsbench.errors import CodecUnavailableError, CorruptStreamError

_LOCK = threading.Lock()
_GLYMUR: ModuleType | None = None
_FAILURE: CodecUnavailableError | None = None  # why the first attempt failed (glymur binds once per process)

#: Shared-library file patterns of OpenJPEG copies shipped inside Python wheels,
#: as (package whose folder they sit beside or in, relative glob).
_BUNDLED_PATTERNS: tuple[tuple[str, str], ...] = (
    ("PIL", "../pillow.libs/libopenjp2*.so*"),  # Linux Pillow wheels (auditwheel)
    ("imagecodecs", "../imagecodecs.libs/libopenjp2*.so*"),  # Linux imagecodecs wheels
    ("PIL", ".dylibs/libopenjp2*.dylib"),  # macOS Pillow wheels (delocate)
    ("imagecodecs", ".dylibs/libopenjp2*.dylib"),  # macOS imagecodecs wheels
    ("imagecodecs", "openjp2*.dll"),  # Windows imagecodecs wheels
    ("imagecodecs", "../imagecodecs.libs/openjp2*.dll"),
    ("PIL", "../pillow.libs/openjp2*.dll"),
)


def bundled_openjpeg_candidates() -> list[Path]:
    """Paths of the ``libopenjp2`` copies shipped in the installed Pillow / imagecodecs wheels.

    The packages are located with :func:`importlib.util.find_spec`, without importing them.
    """
    found: list[Path] = []
    for package, pattern in _BUNDLED_PATTERNS:
        try:
            spec = importlib.util.find_spec(package)
        except (ImportError, ValueError):
            continue
        if spec is None or not spec.submodule_search_locations:
            continue
        for location in spec.submodule_search_locations:
            base = Path(location)
            folder = (base / pattern).parent.resolve()
            if folder.is_dir():
                found.extend(sorted(p for p in folder.glob(Path(pattern).name) if p.is_file()))
    return found


def _find_library_with_bundled(original: Callable[[str], str | None]) -> Callable[[str], str | None]:
    """``find_library`` that falls back to the bundled OpenJPEG for the name ``openjp2``."""

    def find_library(name: str) -> str | None:
        path = original(name)
        if path is None and name == "openjp2":
            for candidate in bundled_openjpeg_candidates():
                try:
                    ctypes.CDLL(str(candidate))
                except OSError:
                    continue
                return str(candidate)
        return path

    return find_library


def load_glymur() -> ModuleType:
    """Import glymur bound to a working OpenJPEG, or raise :class:`CodecUnavailableError`.

    Lookup order: glymur's own (``glymurrc`` file, then the system library via
    ``ctypes.util.find_library``), then the copies bundled in the Pillow and
    imagecodecs wheels (:func:`bundled_openjpeg_candidates`).
    """
    global _GLYMUR, _FAILURE
    if _GLYMUR is not None:
        return _GLYMUR
    with _LOCK:
        if _GLYMUR is not None:
            return _GLYMUR
        if _FAILURE is not None:
            raise _FAILURE
        already = "glymur" in sys.modules
        original = ctypes.util.find_library
        if not already:
            ctypes.util.find_library = _find_library_with_bundled(original)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # glymur warns about a missing libtiff it does not need here
                import glymur
                import glymur.lib.openjp2 as opj2
        except Exception as exc:
            raise CodecUnavailableError(f"glymur cannot be imported ({exc}); install it with pip") from exc
        finally:
            ctypes.util.find_library = original
            config = sys.modules.get("glymur.config")
            if config is not None and getattr(config, "find_library", original) is not original:
                config.find_library = original  # glymur keeps its own reference; give it back the real one
        if opj2.OPENJP2 is None:
            bundled = bundled_openjpeg_candidates() if already else []
            if bundled:
                message = (
                    "glymur was imported before hsbench and found no OpenJPEG library; glymur binds it "
                    f"once, at import. A copy exists at {bundled[0]}: call "
                    "hsbench.codecs.jpeg2000.openjpeg.load_glymur() before importing glymur, or name it in a "
                    f"glymurrc file ([library] openjp2 = {bundled[0]})"
                )
            else:
                message = (
                    "no OpenJPEG library (libopenjp2) found: none on the system and none bundled in the "
                    "Pillow or imagecodecs wheels. Install OpenJPEG (e.g. `apt install libopenjp2-7`, "
                    "`brew install openjpeg`, `conda install openjpeg`) or name the library in a glymurrc "
                    "file ([library] openjp2 = /path/to/libopenjp2.so)"
                )
            _FAILURE = CodecUnavailableError(message)
            raise _FAILURE
        _GLYMUR = glymur
        return glymur


def openjpeg_version() -> str:
    """Version of the OpenJPEG library glymur is bound to (``opj_version()``)."""
    load_glymur()
    import glymur.lib.openjp2 as opj2

    return str(opj2.version())


def openjpeg_path() -> str:
    """File the bound OpenJPEG library was loaded from."""
    load_glymur()
    import glymur.lib.openjp2 as opj2

    return str(getattr(opj2.OPENJP2, "_name", ""))


@contextlib.contextmanager
def scratch_file(suffix: str = ".j2k") -> Iterator[str]:
    """A path in a private temporary folder (in memory on Linux when ``/dev/shm`` is usable)."""
    base = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    with tempfile.TemporaryDirectory(prefix="hsbench-j2k-", dir=base) as folder:
        yield os.path.join(folder, "band" + suffix)


def max_resolutions(rows: int, cols: int, wanted: int) -> int:
    """Most resolution levels OpenJPEG accepts for a ``rows x cols`` image, capped at ``wanted``.

    ``n`` resolutions mean ``n - 1`` dyadic DWT decompositions (T.800 Annex B.5 / F); OpenJPEG
    refuses images whose smaller side is below ``2**(n - 1)``. A 1-pixel side allows 1 (no DWT).
    """
    side = max(1, min(rows, cols))
    return max(1, min(int(wanted), side.bit_length()))


def encode_band(
    band: np.ndarray,
    path: str,
    *,
    precision: int,
    signed: bool,
    ratio: float | None,
    irreversible: bool,
    resolutions: int,
) -> bytes:
    """Code one ``(H, W)`` band as a raw JPEG 2000 codestream (T.800 Annex A), without JP2 boxes.

    ``precision`` / ``signed`` go into the SIZ marker. ``ratio`` is OpenJPEG's rate target
    (``tcp_rates``): the codestream aims at ``H * W * precision / (8 * ratio)`` bytes, i.e. the
    ratio is relative to the declared precision, headers included; ``None`` = one lossless layer.
    ``irreversible`` selects the 9/7 wavelet with scalar quantisation instead of the reversible
    5/3 wavelet (T.800 Annex F). The OpenJPEG comment marker (COM, "Created by OpenJPEG") is
    removed from the result: it carries no image data.
    """
    load_glymur()
    import glymur.lib.openjp2 as opj2

    rows, cols = band.shape
    cparams = opj2.set_default_encoder_parameters()
    cparams.codec_fmt = opj2.CODEC_J2K
    cparams.irreversible = 1 if irreversible else 0
    cparams.numresolution = max_resolutions(rows, cols, resolutions)
    cparams.tcp_numlayers = 1
    cparams.cp_disto_alloc = 1
    cparams.tcp_rates[0] = 0.0 if ratio is None else float(ratio)

    comptparms = (opj2.ImageComptParmType * 1)()
    comp = comptparms[0]
    comp.dx = comp.dy = 1
    comp.w, comp.h = cols, rows
    comp.x0 = comp.y0 = 0
    comp.prec = comp.bpp = int(precision)
    comp.sgnd = 1 if signed else 0

    samples = np.ascontiguousarray(band, dtype=np.int32)
    with contextlib.ExitStack() as stack:
        image = opj2.image_create(comptparms, opj2.CLRSPC_GRAY)
        stack.callback(opj2.image_destroy, image)
        image.contents.x1, image.contents.y1 = cols, rows
        ctypes.memmove(image.contents.comps[0].data, samples.ctypes.data, samples.nbytes)
        codec = opj2.create_compress(opj2.CODEC_J2K)
        stack.callback(opj2.destroy_codec, codec)
        opj2.set_info_handler(codec, None)
        opj2.set_warning_handler(codec, None)
        opj2.set_error_handler(codec, opj2._ERROR_CALLBACK)
        opj2.setup_encoder(codec, cparams, image)
        stream = opj2.stream_create_default_file_stream(path, False)
        stack.callback(opj2.stream_destroy, stream)
        opj2.start_compress(codec, image, stream)
        opj2.encode(codec, stream)
        opj2.end_compress(codec, stream)
    with open(path, "rb") as fh:
        return strip_comments(fh.read())


def decode_band(codestream: bytes, path: str) -> tuple[np.ndarray, int, bool]:
    """Decode a J2K codestream with one component: ``(int32 array (H, W), precision, signed)``.

    Raises :class:`CorruptStreamError` when OpenJPEG rejects the codestream.
    """
    load_glymur()
    import glymur.lib.openjp2 as opj2

    if codestream[:2] != b"\xff\x4f":
        raise CorruptStreamError("JPEG 2000 band does not start with an SOC marker (FF4F)")
    with open(path, "wb") as fh:
        fh.write(codestream)
    with contextlib.ExitStack() as stack:
        dparams = opj2.set_default_decoder_parameters()
        codec = opj2.create_decompress(opj2.CODEC_J2K)
        stack.callback(opj2.destroy_codec, codec)
        opj2.set_info_handler(codec, None)
        opj2.set_warning_handler(codec, None)
        opj2.set_error_handler(codec, opj2._ERROR_CALLBACK)
        opj2.setup_decoder(codec, dparams)
        stream = opj2.stream_create_default_file_stream(path, True)
        stack.callback(opj2.stream_destroy, stream)
        try:
            image = opj2.read_header(stream, codec)
            stack.callback(opj2.image_destroy, image)
            opj2.decode(codec, stream, image)
            opj2.end_decompress(codec, stream)
        except opj2.OpenJPEGLibraryError as exc:
            detail = "; ".join(line.replace("OpenJPEG library error:", "").strip() for line in str(exc).splitlines())
            raise CorruptStreamError(f"OpenJPEG cannot decode a band: {detail or 'unknown error'}") from exc
        if image.contents.numcomps != 1:
            raise CorruptStreamError(f"JPEG 2000 band has {image.contents.numcomps} components, expected 1")
        comp = image.contents.comps[0]
        rows, cols = int(comp.h), int(comp.w)
        if rows == 0 or cols == 0 or not comp.data:
            raise CorruptStreamError("JPEG 2000 band decoded to an empty image")
        buffer = (ctypes.c_int32 * (rows * cols)).from_address(ctypes.addressof(comp.data.contents))
        array = np.frombuffer(buffer, dtype=np.int32).reshape(rows, cols).copy()
        return array, int(comp.prec), bool(comp.sgnd)


def strip_comments(codestream: bytes) -> bytes:
    """Remove COM marker segments (``FF64``, T.800 A.9.2) from a codestream's main header.

    The main header runs from SOC (``FF4F``) to the first SOT (``FF90``); each marker segment
    there is a 2-byte marker and a 2-byte big-endian length that counts itself. Tile-part
    lengths (Psot) count from their own SOT, so removing main-header bytes keeps them valid.
    """
    if codestream[:2] != b"\xff\x4f":
        return codestream
    out = [codestream[:2]]
    pos = 2
    while pos + 4 <= len(codestream):
        marker = codestream[pos : pos + 2]
        if marker == b"\xff\x90":  # SOT: end of the main header
            break
        length = int.from_bytes(codestream[pos + 2 : pos + 4], "big")
        if marker[0] != 0xFF or length < 2:
            return codestream  # not a layout this function understands; leave it whole
        if marker != b"\xff\x64":
            out.append(codestream[pos : pos + 2 + length])
        pos += 2 + length
    out.append(codestream[pos:])
    return b"".join(out)
