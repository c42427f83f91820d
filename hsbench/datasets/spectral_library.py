"""Reader of earthlib's global spectral library (real reflectance spectra, MIT licence).

earthlib (https://github.com/earth-chris/earthlib, Christopher Anderson) ships an
ENVI spectral library in its pip package: ``earthlib/data/spectra.sli`` (raw
float32 samples, one row per spectrum) with its ENVI header ``spectra.sli.hdr``
(``samples`` = bands, ``lines`` = spectra, ``data type = 4`` float32, ``byte order
= 0`` little endian, band centres in micrometres with the 1.35-1.46 um and
1.79-1.96 um water-vapour bands removed) and a class table ``spectra.csv``
(``NAME, LEVEL_1 .. LEVEL_4``: e.g. ``pervious, vegetation, canopy, simulated``
or ``impervious, built, asphalt, measured``). The ENVI format is documented in
the ENVI header-file reference (NV5 Geospatial, "ENVI Header Files").

The files are read directly with numpy, without importing earthlib (whose import
loads pandas and more), so hsbench stays fast to import and the reading does not
depend on earthlib's Python API.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import importlib.metadata
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hsbench.datasets.envi import list_field, parse_header, wavelengths_nm
from hsbench.errors import DatasetError

#: ENVI ``data type`` codes this reader understands (ENVI header reference).
_ENVI_DTYPES = {4: "f4", 5: "f8"}

#: Quality screen for spectra used as endmembers (see :meth:`SpectralLibrary.pool`).
MIN_REFLECTANCE = 1e-3
MAX_REFLECTANCE = 1.0
MAX_ROUGHNESS = 6e-3


@dataclass(frozen=True, eq=False)
class SpectralLibrary:
    """A spectral library: ``reflectance[spectrum, band]`` with names and classes.

    ``classes[i]`` is the ``LEVEL_3`` class of spectrum ``i`` (``"soil"``,
    ``"canopy"``, ``"asphalt"`` ...), ``levels[i]`` the full ``LEVEL_1..LEVEL_4`` tuple.
    """

    wavelengths_nm: np.ndarray
    reflectance: np.ndarray
    names: tuple[str, ...]
    classes: tuple[str, ...]
    levels: tuple[tuple[str, ...], ...]
    source: str
    version: str
    sha256: str

    @functools.cached_property
    def usable(self) -> np.ndarray:
        """Which spectra pass the quality screen of :meth:`pool` (computed once)."""
        spectra = self.reflectance
        with np.errstate(invalid="ignore"):
            ok = np.isfinite(spectra).all(axis=1)
            ok &= (spectra.min(axis=1) >= MIN_REFLECTANCE) & (spectra.max(axis=1) <= MAX_REFLECTANCE)
            ok &= _roughness(spectra, self.wavelengths_nm) <= MAX_ROUGHNESS
        return ok

    def pool(self, level3: str) -> np.ndarray:
        """Rows of class ``level3`` that pass the quality screen, ordered by name.

        Screen: every sample finite and in ``[MIN_REFLECTANCE, MAX_REFLECTANCE]``
        (drops clipped or saturated measurements), and roughness (median absolute
        second difference inside contiguous band segments, divided by the mean
        reflectance) at most ``MAX_ROUGHNESS`` (drops noisy measurements).
        """
        rows = [i for i, c in enumerate(self.classes) if c == level3]
        if not rows:
            known = ", ".join(sorted(set(self.classes)))
            raise DatasetError(f"spectral library has no class {level3!r}; classes: {known}")
        good = [r for r in rows if self.usable[r]]
        if not good:
            raise DatasetError(f"no spectrum of class {level3!r} passes the quality screen")
        return np.array(sorted(good, key=lambda r: self.names[r]), dtype=np.intp)


def contiguous_segments(wavelengths_nm: np.ndarray) -> list[slice]:
    """Runs of bands without a gap (a step more than 1.5 times the median step)."""
    step = np.diff(wavelengths_nm)
    cuts = np.flatnonzero(step > 1.5 * np.median(step)) + 1
    edges = [0, *cuts.tolist(), len(wavelengths_nm)]
    return [slice(a, b) for a, b in zip(edges[:-1], edges[1:])]


def _roughness(spectra: np.ndarray, wavelengths_nm: np.ndarray) -> np.ndarray:
    """Median |second difference| inside contiguous segments over the mean reflectance."""
    parts = []
    for seg in contiguous_segments(wavelengths_nm):
        s = spectra[:, seg]
        if s.shape[1] >= 3:
            parts.append(np.abs(s[:, 2:] - 2 * s[:, 1:-1] + s[:, :-2]))
    d2 = np.concatenate(parts, axis=1)
    return np.median(d2, axis=1) / np.maximum(spectra.mean(axis=1), 1e-12)


def earthlib_data_dir() -> Path:
    """Folder of earthlib's package data, found without importing earthlib."""
    spec = importlib.util.find_spec("earthlib")
    if spec is None or not spec.submodule_search_locations:
        raise DatasetError(
            "the synthetic hyperspectral scenes need earthlib's spectral library: `pip install earthlib`"
        )
    return Path(list(spec.submodule_search_locations)[0]) / "data"


def read_envi_library(sli: Path, csv_path: Path | None = None) -> SpectralLibrary:
    """Read an ENVI spectral library (``.sli`` + ``.sli.hdr``/``.hdr``) and its class table.

    The header must describe ``bands = 1``, ``data type`` 4 or 5 and give the
    wavelengths (micrometres or nanometres); the class table is earthlib's
    ``NAME, LEVEL_1..LEVEL_4`` CSV whose names must match the header's.
    """
    hdr = next((p for p in (sli.with_name(sli.name + ".hdr"), sli.with_suffix(".hdr")) if p.is_file()), None)
    if hdr is None or not sli.is_file():
        raise DatasetError(f"spectral library {sli} or its ENVI header is missing; reinstall earthlib")
    fields = parse_header(hdr.read_text())
    try:
        n_bands, n_spectra = int(fields["samples"]), int(fields["lines"])
        dtype_code = int(fields["data type"])
        offset = int(fields.get("header offset", "0"))
        order = "<" if int(fields.get("byte order", "0")) == 0 else ">"
        wl = wavelengths_nm(fields, n_bands)  # in nm; raises unless one per band
        if wl is None:
            raise KeyError("wavelength")
    except (KeyError, ValueError) as exc:
        raise DatasetError(f"ENVI header {hdr} lacks or mangles a field: {exc}") from None
    wavelengths = np.array(wl)
    if dtype_code not in _ENVI_DTYPES or int(fields.get("bands", "1")) != 1 or len(wavelengths) != n_bands:
        raise DatasetError(
            f"ENVI header {hdr}: unsupported layout (data type {dtype_code}, bands {fields.get('bands')}, "
            f"{len(wavelengths)} wavelengths for {n_bands} samples); expected a float spectral library"
        )
    raw = sli.read_bytes()
    expected = offset + n_bands * n_spectra * int(_ENVI_DTYPES[dtype_code][1])
    if len(raw) != expected:
        raise DatasetError(f"spectral library {sli}: {len(raw)} bytes, header implies {expected}")
    data = np.frombuffer(raw, dtype=order + _ENVI_DTYPES[dtype_code], offset=offset)
    reflectance = data.reshape(n_spectra, n_bands).astype(np.float64)
    names = tuple(list_field(fields, "spectra names"))
    levels: tuple[tuple[str, ...], ...]
    if csv_path is not None:
        with open(csv_path, newline="") as fh:
            rows = list(csv.DictReader(fh))
        csv_names = tuple(r["NAME"] for r in rows)
        # earthlib 1.1 has one name spelt differently in the two files ("burncham" /
        # "burnedcham"), so require the same count and nearly all names equal.
        same = sum(a == b for a, b in zip(csv_names, names)) if names else n_spectra
        if len(rows) != n_spectra or same < 0.99 * n_spectra:
            raise DatasetError(f"class table {csv_path} does not match the spectra of {sli}")
        names = csv_names
        levels = tuple(tuple(r[f"LEVEL_{i}"] for i in range(1, 5)) for r in rows)
    else:
        levels = tuple(("", "", "", "") for _ in range(n_spectra))
    try:
        version = importlib.metadata.version("earthlib")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    reflectance.setflags(write=False)
    wavelengths.setflags(write=False)
    return SpectralLibrary(
        wavelengths_nm=wavelengths,
        reflectance=reflectance,
        names=names,
        classes=tuple(lv[2] for lv in levels),
        levels=levels,
        source=str(sli),
        version=version,
        sha256=hashlib.sha256(raw).hexdigest(),
    )


@functools.lru_cache(maxsize=1)
def earthlib_library() -> SpectralLibrary:
    """earthlib's full library (7,261 spectra x 180 bands, 400-2450 nm), read once per process."""
    folder = earthlib_data_dir()
    return read_envi_library(folder / "spectra.sli", folder / "spectra.csv")
