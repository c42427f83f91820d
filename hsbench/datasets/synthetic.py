"""``synthetic-hsi``: deterministic synthetic hyperspectral scenes built from real spectra.

Three scenes ship with hsbench and need no download (``synthetic-hsi``), and six
more of the same kinds with other seeds train learned codecs (``synthetic-hsi-train``:
``agriculture-12bit-train1`` ... ``burn-scar-12bit-train2``):

======================  =========  ==========  ======  ==========================================
scene                   size       bands       depth   content
======================  =========  ==========  ======  ==========================================
``agriculture-12bit``   256 x 256  180         12 bit  field parcels, hedgerows, roads, farms
``urban-16bit``         256 x 256  180         16 bit  street grid, houses, trees, parking, parks
``burn-scar-12bit``     240 x 320  180         12 bit  hilly forest with a wildfire scar
======================  =========  ==========  ======  ==========================================

Each is a ``(180, rows, cols)`` uint16 cube with ``bit_depth`` 12 or 16 and band
centres 400-2450 nm (10 nm steps; the 1360-1450 nm and 1800-1950 nm water-vapour
windows are absent, as in most delivered hyperspectral products), set as the
cube's ``wavelengths`` in nanometres.

How a scene is made
-------------------

1. **Endmembers** (:mod:`hsbench.datasets.spectral_library`): each scene draws
   12-18 spectra, one to five per material role (crop canopy, soil, residue,
   asphalt, roofing, char ...; listed in ``SCENES``), from earthlib's global spectral library
   (7,261 reflectance spectra, 180 bands; measured soils, urban materials,
   non-photosynthetic vegetation and char; PROSAIL-simulated vegetation canopies;
   MIT licence), after a quality screen that drops clipped or noisy spectra. The
   library has no water spectrum, so no scene contains open water.
2. **Abundances** (:mod:`hsbench.datasets.synthetic_scenes`): a layout paints
   per-endmember abundance maps with realistic spatial structure: Voronoi field
   parcels and forest stands with warped boundaries; within-parcel texture from
   power-law (fractal) random fields (spectral synthesis, beta 1.2-3.2) and crop
   rows; hedgerows along parcel edges; anti-aliased roads, tracks and paths;
   rectangular buildings with gabled or flat roofs and tree crowns, both casting
   shadows; a burn scar with graded severity. Layers are composited with the
   "over" operator, so abundances stay physically consistent at soft edges;
   brightness factors (soil moisture, crop vigour) scale them.
3. **Illumination**: Lambertian shading of fractal terrain (hill shading with a
   sky-view diffuse term), shaded roof faces and crown domes, cast shadows that
   keep only diffuse light; the shading multiplies the abundances (linear mixing
   of the shaded endmembers, Keshava & Mustard, IEEE Signal Process. Mag. 19(1), 2002).
4. **Sensor** (:mod:`hsbench.datasets.synthetic_sensor`): solar irradiance,
   a coarse atmosphere (Rayleigh and aerosol extinction, O2 / H2O / CO2 absorption,
   path radiance), a Gaussian spectral response (FWHM ~11 nm), a VNIR and a SWIR
   detector with their own gains, a Gaussian optical PSF (sigma ~0.6 px) applied
   to the abundance maps (the sensor is linear, so blurring the maps equals
   blurring every band), push-broom column gain non-uniformity, per-band dark
   offsets, photon noise (variance = signal / conversion gain) plus read noise,
   and rounding / clipping to the bit depth.

Resulting signal levels (mean signal above dark and noise standard deviation, DN; measured
on the generated scenes during development, not reproduced by a test; the tests check
the noise variance against the model within 10 %):

=====================  ==============  ==============  ==============  ===============
scene                  550 nm          860 nm          1650 nm         2200 nm
=====================  ==============  ==============  ==============  ===============
agriculture-12bit      904 / 5.7       1281 / 6.7      500 / 4.4       140 / 2.7
urban-16bit            8208 / 18.8     6994 / 17.5     2882 / 11.8     984 / 8.1
burn-scar-12bit        637 / 5.5       1019 / 6.7      449 / 4.7       127 / 3.0
=====================  ==============  ==============  ==============  ===============

i.e. SNR 120-440 in the visible and 45-120 at 2.2 um, like spaceborne (12-bit) and
airborne (16-bit) imaging spectrometers; 99.9 % of the samples lie below 72 %,
39 % and 77 % of full scale, and fewer than 1 in 10^5 samples saturate.

Determinism: every random number comes from ``numpy.random.Generator(PCG64)``
streams spawned from the scene's seed, the amount drawn never depends on computed
values, and the computation uses element-wise numpy operations, FFTs and
scipy.ndimage filters only (no BLAS, nothing that depends on the thread count),
in a fixed order, before the final rounding. A scene is therefore bit-identical
across runs and machines for the same hsbench version, numpy stream
implementation and earthlib library file; the test-suite checks each scene's
``Cube.sha256()`` against a recorded value, also with numpy's SIMD dispatch
disabled. A scene is generated in about half a second (2-core machine; asv benchmark
``benchmarks/bench_synthetic.py``) and cached per process.

Use::

    hsbench run --dataset synthetic-hsi --codecs ccsds123,jpeg2000

    from hsbench.datasets import open_dataset
    cube = open_dataset("synthetic-hsi").load("urban-16bit")   # (180, 256, 256) uint16, 16 bit
    cube.wavelengths[:3]                                        # (400.0, 410.0, 420.0) nm

For the ground truth (abundances, endmember spectra and their DN signatures,
path radiance, dark offsets) use :func:`render_scene`; :func:`synthesize` with
``noise=False`` gives the expected, noise-free image.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from hsbench.cube import Cube
from hsbench.datasets.base import Dataset, DatasetRef
from hsbench.datasets.spectral_library import SpectralLibrary, earthlib_library
from hsbench.datasets.synthetic_sensor import Atmosphere, SensorModel, at_sensor_dn, expose
from hsbench.errors import DatasetError

#: Bump when a change to the generator changes any scene's samples.
GENERATOR_VERSION = 1


@dataclass(frozen=True)
class SceneSpec:
    """Everything that defines one synthetic scene.

    ``materials`` lists ``(role, LEVEL_3 classes of the library, count)``: ``count``
    distinct spectra of those classes are drawn for the role.
    """

    name: str
    layout: str
    rows: int
    cols: int
    seed: int
    materials: tuple[tuple[str, tuple[str, ...], int], ...]
    atmosphere: Atmosphere
    sensor: SensorModel
    description: str


SCENES: dict[str, SceneSpec] = {
    spec.name: spec
    for spec in (
        SceneSpec(
            name="agriculture-12bit",
            layout="agriculture",
            rows=256,
            cols=256,
            seed=20261101,
            materials=(
                ("crop", ("canopy",), 5),
                ("hedge", ("canopy",), 1),
                ("soil", ("soil",), 4),
                ("residue", ("litter", "npv"), 2),
                ("gravel", ("gravel",), 1),
                ("road", ("asphalt", "road"), 1),
                ("roof", ("metal", "comp_shingle"), 2),
            ),
            atmosphere=Atmosphere(sun_zenith_deg=35.0, sun_azimuth_deg=150.0, aerosol_optical_depth=0.12),
            sensor=SensorModel(bit_depth=12, peak_dn=5600.0, dark_dn=110.0, e_per_dn=30.0,
                               read_noise_dn=1.5, fwhm_nm=11.0, psf_sigma_px=0.6, swir_gain=2.2),
            description="farmland: crop, bare-soil, residue and fallow parcels, hedgerows, roads, farm buildings",
        ),
        SceneSpec(
            name="urban-16bit",
            layout="urban",
            rows=256,
            cols=256,
            seed=20261102,
            materials=(
                ("road", ("asphalt", "road"), 2),
                ("sidewalk", ("sidewalk",), 1),
                ("parking", ("parking_lot", "driveway"), 2),
                ("roof", ("comp_shingle", "tile", "wood_shingle", "concrete_tile"), 4),
                ("flat_roof", ("paint", "metal", "concrete_tile"), 2),
                ("grass", ("canopy",), 2),
                ("tree", ("canopy",), 3),
                ("soil", ("soil",), 1),
                ("path", ("gravel", "dirt"), 1),
            ),
            atmosphere=Atmosphere(sun_zenith_deg=40.0, sun_azimuth_deg=160.0, aerosol_optical_depth=0.18),
            sensor=SensorModel(bit_depth=16, peak_dn=52000.0, dark_dn=900.0, e_per_dn=25.0,
                               read_noise_dn=5.0, fwhm_nm=10.0, psf_sigma_px=0.55, swir_gain=2.4,
                               dark_band_std_dn=12.0),
            description="town: street grid, gabled houses, flat-roofed commercial buildings, lawns, trees, parks",
        ),
        SceneSpec(
            name="burn-scar-12bit",
            layout="burn_scar",
            rows=240,
            cols=320,
            seed=20261103,
            materials=(
                ("canopy", ("canopy",), 4),
                ("litter", ("litter",), 2),
                ("soil", ("soil",), 2),
                ("char", ("char",), 2),
                ("wood", ("wood", "bark"), 1),
                ("road", ("dirt",), 1),
            ),
            atmosphere=Atmosphere(sun_zenith_deg=45.0, sun_azimuth_deg=135.0, aerosol_optical_depth=0.2,
                                  water_vapour=0.8, diffuse_fraction=0.18),
            sensor=SensorModel(bit_depth=12, peak_dn=4600.0, dark_dn=140.0, e_per_dn=25.0,
                               read_noise_dn=2.0, fwhm_nm=12.0, psf_sigma_px=0.7, swir_gain=2.6),
            description="hilly forest after a wildfire: stands, crown texture, graded burn severity, dirt road",
        ),
    )
}


#: Training scenes for learned codecs (dataset ``synthetic-hsi-train``): the same
#: layouts, materials and sensors as :data:`SCENES` with other seeds, so a model
#: never sees the scenes it is evaluated on.
TRAIN_SCENES: dict[str, SceneSpec] = {
    f"{name}-train{i}": replace(spec, name=f"{name}-train{i}", seed=spec.seed + 1000 * i)
    for i in (1, 2)
    for name, spec in SCENES.items()
}


@dataclass(frozen=True, eq=False)
class SyntheticScene:
    """A generated scene with the ground truth behind it.

    ``abundances[k]`` is the blurred, shaded abundance of endmember ``k`` (what the
    sensor integrates); ``signatures[k]`` its DN per unit abundance and ``path_dn``
    the haze DN, so a pixel's expected value is
    ``dark_dn + column gain * (sum_k abundances[k] * signatures[k] + path_dn)``.
    """

    cube: Cube
    spec: SceneSpec
    endmember_names: tuple[str, ...]
    endmember_roles: tuple[str, ...]
    reflectance: np.ndarray
    abundances: np.ndarray
    signatures: np.ndarray
    path_dn: np.ndarray
    dark_dn: np.ndarray


def pick_endmembers(
    library: SpectralLibrary, materials: tuple[tuple[str, tuple[str, ...], int], ...], rng: np.random.Generator
) -> tuple[list[int], list[str]]:
    """Library rows and role of each endmember: ``count`` distinct screened spectra per role."""
    rows: list[int] = []
    roles: list[str] = []
    for role, classes, count in materials:
        pool = [int(r) for c in classes for r in library.pool(c) if int(r) not in rows]
        if len(pool) < count:
            raise DatasetError(f"spectral library has {len(pool)} usable {'/'.join(classes)} spectra, need {count}")
        chosen = rng.choice(len(pool), size=count, replace=False)
        rows += [pool[int(i)] for i in chosen]
        roles += [role] * count
    return rows, roles


def synthesize(spec: SceneSpec, noise: bool = True, library: SpectralLibrary | None = None) -> SyntheticScene:
    """Generate the scene ``spec`` (not cached; see :func:`render_scene`).

    ``noise=False`` leaves out photon and read noise (fixed-pattern effects stay),
    which gives the expected image the tests compare against.
    """
    from scipy import ndimage

    from hsbench.datasets.synthetic_scenes import LAYOUTS

    lib = library if library is not None else earthlib_library()
    pick, layout, fixed, shot = (np.random.default_rng(s) for s in np.random.SeedSequence(spec.seed).spawn(4))
    rows, roles = pick_endmembers(lib, spec.materials, pick)
    em: dict[str, list[int]] = {}
    for i, role in enumerate(roles):
        em.setdefault(role, []).append(i)
    canvas = LAYOUTS[spec.layout](layout, (spec.rows, spec.cols), em, len(rows), spec.atmosphere)
    shaded = canvas.weights * canvas.shade[None]
    sigma = spec.sensor.psf_sigma_px
    abundances = ndimage.gaussian_filter(shaded, sigma=(0, sigma, sigma), mode="nearest", truncate=4.0)
    reflectance = lib.reflectance[rows]
    signatures, path = at_sensor_dn(reflectance, lib.wavelengths_nm, spec.atmosphere, spec.sensor)
    data, dark = expose(abundances, signatures, path, spec.sensor, fixed, shot if noise else None)
    names = tuple(lib.names[r] for r in rows)
    cube = Cube(
        data,
        bit_depth=spec.sensor.bit_depth,
        name=spec.name,
        wavelengths=tuple(float(x) for x in lib.wavelengths_nm),
        meta={
            "source": f"hsbench synthetic-hsi generator v{GENERATOR_VERSION}",
            "layout": spec.layout,
            "seed": spec.seed,
            "noise": noise,
            "endmembers": [f"{role}: {name}" for name, role in zip(names, roles)],
            "spectral_library": f"earthlib {lib.version} spectra.sli sha256 {lib.sha256[:16]}",
            "wavelength_units": "nm",
        },
    )
    return SyntheticScene(
        cube=cube,
        spec=spec,
        endmember_names=names,
        endmember_roles=tuple(roles),
        reflectance=reflectance,
        abundances=abundances.astype(np.float32),
        signatures=signatures,
        path_dn=path,
        dark_dn=dark,
    )


@functools.lru_cache(maxsize=None)
def render_scene(name: str) -> SyntheticScene:
    """The scene called ``name`` (:data:`SCENES` or :data:`TRAIN_SCENES`), generated once per process."""
    spec = SCENES.get(name) or TRAIN_SCENES.get(name)
    if spec is None:
        raise DatasetError(
            f"synthetic-hsi has no scene {name!r}; it has {', '.join(SCENES)} "
            f"(and for training: {', '.join(TRAIN_SCENES)})"
        )
    scene = synthesize(spec)
    scene.cube.data.setflags(write=False)
    return scene


class SyntheticHSIDataset(Dataset):
    """The embedded synthetic hyperspectral scenes (see the module docstring).

    ``split="test"`` (dataset ``synthetic-hsi``) holds :data:`SCENES` and names
    ``synthetic-hsi-train`` as the data learned codecs train on; ``split="train"``
    holds :data:`TRAIN_SCENES`.
    """

    def __init__(self, ref: DatasetRef, split: str = "test") -> None:
        if split not in ("test", "train"):
            raise DatasetError(f"synthetic-hsi split must be 'test' or 'train', not {split!r}")
        self.ref = ref
        self.split = split
        self.name = "synthetic-hsi" if split == "test" else "synthetic-hsi-train"
        self.train_spec = "synthetic-hsi-train" if split == "test" else None
        self._specs = SCENES if split == "test" else TRAIN_SCENES

    def image_ids(self) -> list[str]:
        """Scene names in catalogue order."""
        return list(self._specs)

    def load(self, image_id: str) -> Cube:
        """The scene as a writable ``(180, rows, cols)`` uint16 cube (a copy of the cached one)."""
        if image_id not in self._specs:
            raise DatasetError(f"{self.name} has no scene {image_id!r}; it has {', '.join(self._specs)}")
        cube = render_scene(image_id).cube
        return cube.with_data(cube.data.copy(), meta=dict(cube.meta))

    def info(self) -> dict[str, Any]:
        """Generator, scene parameters and spectral-library provenance for the run manifest."""
        lib = earthlib_library()
        return {
            **super().info(),
            "source": f"hsbench synthetic-hsi generator v{GENERATOR_VERSION} (hsbench.datasets.synthetic)",
            "spectral_library": {
                "name": "earthlib global spectral library (spectra.sli)",
                "version": lib.version,
                "license": "MIT",
                "url": "https://github.com/earth-chris/earthlib",
                "sha256": lib.sha256,
                "spectra": len(lib.names),
                "bands": len(lib.wavelengths_nm),
            },
            "scenes": {
                name: {
                    "description": spec.description,
                    "shape": [len(lib.wavelengths_nm), spec.rows, spec.cols],
                    "bit_depth": spec.sensor.bit_depth,
                    "seed": spec.seed,
                    "layout": spec.layout,
                    "materials": [list(m[:1]) + [list(m[1]), m[2]] for m in spec.materials],
                    "atmosphere": asdict(spec.atmosphere),
                    "sensor": asdict(spec.sensor),
                }
                for name, spec in self._specs.items()
            },
            "license": "generated data; spectra from earthlib (MIT)",
        }
