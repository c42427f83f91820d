"""OpenJPEG through glymur: finding the library, and coding one J2K codestream.

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

:func:`encode` and :func:`decode` drive OpenJPEG's codestream API
through glymur's low-level bindings (``glymur.lib.openjp2``) rather than
``glymur.Jp2k``, because the high-level writer only declares 8 or 16 bit
unsigned components, whereas JPEG 2000 (ITU-T T.800, Annex A.5.1, SIZ marker)
codes any precision from 1 to 38 bits, signed or not: 12-bit data is coded as
12-bit data. A codestream holds one component (a band) or several (three colour
channels with the multiple-component transform, or KLT components). OpenJPEG's
codestream API works on files, so each call uses a scratch file in a private
temporary folder.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
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


def encode(
    components: np.ndarray,
    path: str,
    *,
    precision: int,
    signed: bool,
    ratio: float | None,
    irreversible: bool,
    resolutions: int,
    mct: bool = False,
    keep_comments: bool = False,
) -> bytes:
    """Code ``(C, H, W)`` integer samples as one raw JPEG 2000 codestream (T.800 Annex A), no JP2 boxes.

    Every component gets ``precision`` / ``signed`` in the SIZ marker. ``ratio`` is OpenJPEG's
    rate target (``tcp_rates``): the codestream aims at ``C * H * W * precision / (8 * ratio)``
    bytes, main header and OpenJPEG's comment marker included, and PCRD-opt (T.800 Annex J.14)
    spends that budget over the code-blocks of all components together; ``None`` = one lossless
    layer. ``irreversible`` selects the 9/7 wavelet with scalar quantisation instead of the
    reversible 5/3 wavelet (T.800 Annex F). ``mct`` (3 or more components) applies the
    multiple-component transform of T.800 Annex G to the first three: the irreversible ICT
    (RGB -> YCbCr) with 9/7, the reversible RCT with 5/3. The OpenJPEG comment marker (COM,
    "Created by OpenJPEG") is removed from the result unless ``keep_comments``: it carries no
    image data.
    """
    load_glymur()
    import glymur.lib.openjp2 as opj2

    count, rows, cols = components.shape
    if mct and count < 3:
        raise ValueError(f"the multiple-component transform needs 3 components, got {count}")
    cparams = opj2.set_default_encoder_parameters()
    cparams.codec_fmt = opj2.CODEC_J2K
    cparams.irreversible = 1 if irreversible else 0
    cparams.numresolution = max_resolutions(rows, cols, resolutions)
    cparams.tcp_numlayers = 1
    cparams.cp_disto_alloc = 1
    cparams.tcp_rates[0] = 0.0 if ratio is None else float(ratio)
    cparams.tcp_mct = 1 if mct else 0

    comptparms = (opj2.ImageComptParmType * count)()
    for comp in comptparms:
        comp.dx = comp.dy = 1
        comp.w, comp.h = cols, rows
        comp.x0 = comp.y0 = 0
        comp.prec = comp.bpp = int(precision)
        comp.sgnd = 1 if signed else 0

    with contextlib.ExitStack() as stack:
        space = opj2.CLRSPC_SRGB if mct else opj2.CLRSPC_GRAY
        image = opj2.image_create(comptparms, space)
        stack.callback(opj2.image_destroy, image)
        image.contents.x1, image.contents.y1 = cols, rows
        for index in range(count):
            samples = np.ascontiguousarray(components[index], dtype=np.int32)
            ctypes.memmove(image.contents.comps[index].data, samples.ctypes.data, samples.nbytes)
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
        written = fh.read()
    return written if keep_comments else strip_comments(written)


@functools.lru_cache(maxsize=64)
def header_overhead(
    count: int, *, precision: int, signed: bool, irreversible: bool, resolutions: int, mct: bool = False
) -> tuple[int, int]:
    """``(main header bytes, comment bytes)`` of the codestreams :func:`encode` makes with these settings.

    The main header (SOC, SIZ, COD, QCD; T.800 A.4) depends on the component count,
    precision, wavelet and number of resolutions, not on the samples or the image size
    (SIZ has ``38 + 3 C`` bytes whatever the size; QCD one entry per sub-band), so it is
    measured once on a blank ``2**(r-1)``-pixel square with the same ``r`` resolutions.
    The comment bytes are OpenJPEG's COM marker segment, which counts in its rate target
    but which :func:`encode` removes.
    """
    side = 1 << (resolutions - 1)
    blank = np.zeros((count, side, side), np.int32)
    with scratch_file() as path:
        raw = encode(blank, path, precision=precision, signed=signed, ratio=None,
                     irreversible=irreversible, resolutions=resolutions, mct=mct, keep_comments=True)
    stripped = strip_comments(raw)
    return j2k_header_length(stripped), len(raw) - len(stripped)


def siz_geometry(codestream: bytes) -> tuple[int, int, int, int, bool]:
    """``(rows, cols, components, precision, signed)`` from the SIZ marker segment that follows SOC
    (T.800 A.5.1), read without OpenJPEG.

    Decoders compare them with the framing before OpenJPEG allocates the image the SIZ
    describes. Every component must have the same precision and signedness and no
    sub-sampling (what :func:`encode` writes). Raises :class:`CorruptStreamError` when there is
    no well-formed SIZ of that kind.
    """
    if len(codestream) < 4 + 38 + 3 or codestream[:4] != b"\xff\x4f\xff\x51":
        raise CorruptStreamError("JPEG 2000 codestream does not start with SOC and a SIZ marker segment")
    lsiz = int.from_bytes(codestream[4:6], "big")
    xsiz, ysiz, xosiz, yosiz = (int.from_bytes(codestream[8 + 4 * i : 12 + 4 * i], "big") for i in range(4))
    csiz = int.from_bytes(codestream[40:42], "big")
    if lsiz != 38 + 3 * csiz or len(codestream) < 4 + lsiz or csiz == 0 or xosiz >= xsiz or yosiz >= ysiz:
        raise CorruptStreamError("JPEG 2000 codestream has a malformed SIZ marker segment")
    components = codestream[42 : 42 + 3 * csiz]
    ssiz = components[0]
    if components != bytes([ssiz, 1, 1]) * csiz:
        raise CorruptStreamError(
            "JPEG 2000 codestream has sub-sampled components or components of different precision, "
            "which hsbench never writes"
        )
    return ysiz - yosiz, xsiz - xosiz, csiz, (ssiz & 0x7F) + 1, bool(ssiz & 0x80)


def describe_layout(rows: int, cols: int, components: int, precision: int, signed: bool) -> str:
    """``"3 component(s) of 16x24 unsigned 12-bit samples"``: a :func:`siz_geometry` tuple in words."""
    return f"{components} component(s) of {rows}x{cols} {'signed' if signed else 'unsigned'} {precision}-bit samples"


def decode(codestream: bytes, path: str) -> tuple[np.ndarray, int, bool]:
    """Decode a J2K codestream: ``(int32 array (C, H, W), precision, signed)``.

    Every component must have the same size, precision and signedness and no sub-sampling
    (what :func:`encode` writes); the inverse multiple-component transform is applied by
    OpenJPEG when the COD marker announces one. Callers check :func:`siz_geometry` against
    what they expect first: OpenJPEG allocates the image the SIZ describes. Raises
    :class:`CorruptStreamError` when the SIZ is malformed, OpenJPEG rejects the codestream or
    the decoded image is not the one its SIZ describes.
    """
    load_glymur()
    import glymur.lib.openjp2 as opj2

    layout = siz_geometry(codestream)
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
            raise CorruptStreamError(f"OpenJPEG cannot decode the codestream: {detail or 'unknown error'}") from exc
        rows, cols, count, precision, signed = layout
        comps = [image.contents.comps[index] for index in range(int(image.contents.numcomps))]
        for index, comp in enumerate(comps):
            got = (int(comp.h), int(comp.w), len(comps), int(comp.prec), bool(comp.sgnd), int(comp.dx), int(comp.dy))
            if got != (*layout, 1, 1):
                raise CorruptStreamError(
                    f"OpenJPEG decoded component {index} as {describe_layout(*got[:5])}; the codestream's SIZ "
                    f"describes {describe_layout(*layout)}"
                )
            if not comp.data:
                raise CorruptStreamError(f"JPEG 2000 component {index} decoded to nothing")
        array = np.empty((count, rows, cols), np.int32)
        for index, comp in enumerate(comps):
            buffer = (ctypes.c_int32 * (rows * cols)).from_address(ctypes.addressof(comp.data.contents))
            array[index] = np.frombuffer(buffer, dtype=np.int32).reshape(rows, cols)
        return array, precision, signed


def j2k_header_length(codestream: bytes) -> int:
    """Length of a codestream's main header: SOC up to the first SOT marker (T.800 A.4); 0 if none."""
    pos = 2
    while pos + 4 <= len(codestream):
        if codestream[pos] != 0xFF:
            return 0
        if codestream[pos + 1] == 0x90:  # SOT
            return pos
        pos += 2 + int.from_bytes(codestream[pos + 2 : pos + 4], "big")
    return 0


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
