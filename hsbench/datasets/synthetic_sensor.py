"""Illumination, atmosphere and imaging-spectrometer model of the synthetic scenes.

Reflectance becomes digital numbers (DN) in four steps, each linear in the
reflectance so that it can be applied to the endmember spectra before mixing:

1. **Illumination and atmosphere** (coarse, parametric; not a radiative-transfer
   code): top-of-atmosphere solar irradiance as a 5778 K black body (Planck's law);
   Rayleigh optical depth ``tau_R = 0.008569 l**-4 (1 + 0.0113 l**-2 + 0.00013 l**-4)``
   (``l`` in micrometres; Hansen & Travis, Space Sci. Rev. 16, 1974, eq. 2.30);
   aerosol optical depth ``tau_a = tau_550 (l / 0.55)**-alpha`` (Angstrom law);
   Gaussian absorption features of O2 (760 nm), H2O (720, 820, 940, 1140 nm and the
   wings of the 1380 / 1870 nm bands) and CO2 (2010, 2060 nm). Sun-to-ground-to-
   sensor transmittance ``exp(-(tau_R / 2 + tau_a / 3 + tau_gas) (1/cos(theta_s) + 1))``
   (halved scattering depths stand for the diffuse light that still arrives);
   additive path radiance (haze) ``rho_path = 0.25 (tau_R + 0.3 tau_a)``.
2. **Spectral response**: a Gaussian response of full width at half maximum
   ``fwhm_nm`` around each band centre, applied within contiguous band segments.
3. **Detectors**: a VNIR (< 1000 nm) and a SWIR detector with relative gain
   ``swir_gain``; ``peak_dn`` is the DN of a white (reflectance 1) flat sunlit
   target in the brightest VNIR band; per (band, column) gain non-uniformity of a
   push-broom array (``column_gain_std``); a dark offset per band around ``dark_dn``.
4. **Noise and quantisation**: photon (shot) noise of variance ``signal / e_per_dn``
   DN^2 (Poisson statistics of ``signal * e_per_dn`` electrons, drawn as a Gaussian,
   accurate for the thousands of electrons here) plus Gaussian read noise of
   ``read_noise_dn``; rounding to integers and clipping to ``[0, 2**bit_depth - 1]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hsbench.datasets.spectral_library import contiguous_segments

#: Gas absorption features: (gas, centre nm, 1-sigma width nm, optical depth at the centre).
GAS_FEATURES: tuple[tuple[str, float, float, float], ...] = (
    ("O2", 687.0, 3.0, 0.15),    # O2-B
    ("H2O", 720.0, 10.0, 0.06),
    ("O2", 762.0, 4.0, 0.9),     # O2-A
    ("H2O", 820.0, 12.0, 0.08),
    ("H2O", 940.0, 22.0, 0.55),
    ("H2O", 1135.0, 28.0, 0.6),
    ("H2O", 1380.0, 20.0, 3.0),  # band centre removed from the library; wings remain
    ("H2O", 1870.0, 30.0, 3.0),  # idem
    ("CO2", 2010.0, 12.0, 0.25),
    ("CO2", 2060.0, 12.0, 0.2),
)


@dataclass(frozen=True)
class Atmosphere:
    """Sun position and a coarse atmosphere (see the module docstring)."""

    sun_zenith_deg: float = 35.0
    sun_azimuth_deg: float = 150.0
    aerosol_optical_depth: float = 0.12
    angstrom_exponent: float = 1.3
    water_vapour: float = 1.0
    diffuse_fraction: float = 0.15


@dataclass(frozen=True)
class SensorModel:
    """Imaging-spectrometer parameters (see the module docstring)."""

    bit_depth: int
    peak_dn: float
    dark_dn: float
    e_per_dn: float
    read_noise_dn: float
    fwhm_nm: float = 11.0
    psf_sigma_px: float = 0.6
    swir_gain: float = 2.0
    column_gain_std: float = 1e-3
    dark_band_std_dn: float = 2.0


def planck_irradiance(wavelengths_nm: np.ndarray, temperature_k: float = 5778.0) -> np.ndarray:
    """Black-body spectral radiance ``2 h c^2 / l^5 / (exp(h c / (l k T)) - 1)``, scaled to max 1."""
    h, c, k = 6.62607015e-34, 2.99792458e8, 1.380649e-23
    lam = np.asarray(wavelengths_nm, dtype=np.float64) * 1e-9
    radiance = 2 * h * c**2 / lam**5 / np.expm1(h * c / (lam * k * temperature_k))
    return radiance / radiance.max()


def rayleigh_optical_depth(wavelengths_nm: np.ndarray) -> np.ndarray:
    """Rayleigh optical depth at sea level (Hansen & Travis 1974, eq. 2.30)."""
    lam = np.asarray(wavelengths_nm, dtype=np.float64) / 1000.0
    return 0.008569 * lam**-4 * (1 + 0.0113 * lam**-2 + 0.00013 * lam**-4)


def gas_optical_depth(wavelengths_nm: np.ndarray, water_vapour: float = 1.0) -> np.ndarray:
    """Sum of the Gaussian absorption features of :data:`GAS_FEATURES` (H2O scaled by ``water_vapour``)."""
    lam = np.asarray(wavelengths_nm, dtype=np.float64)
    tau = np.zeros_like(lam)
    for gas, centre, width, depth in GAS_FEATURES:
        scale = water_vapour if gas == "H2O" else 1.0
        tau += scale * depth * np.exp(-0.5 * ((lam - centre) / width) ** 2)
    return tau


def spectral_response_matrix(wavelengths_nm: np.ndarray, fwhm_nm: float) -> np.ndarray:
    """``M[i, j]``: weight of library band ``j`` in sensor band ``i`` (Gaussian SRF, rows sum to 1).

    Bands of different contiguous segments (across a removed absorption window) never mix.
    """
    lam = np.asarray(wavelengths_nm, dtype=np.float64)
    sigma = fwhm_nm / (2.0 * np.sqrt(2.0 * np.log(2.0)))
    m = np.zeros((lam.size, lam.size))
    for seg in contiguous_segments(lam):
        sub = lam[seg]
        m[seg, seg] = np.exp(-0.5 * ((sub[:, None] - sub[None, :]) / sigma) ** 2)
    return m / m.sum(axis=1, keepdims=True)


def _apply_rows(matrix: np.ndarray, spectra: np.ndarray) -> np.ndarray:
    """``spectra @ matrix.T`` by explicit products and sums (no BLAS, same result on every machine)."""
    return (spectra[:, None, :] * matrix[None, :, :]).sum(axis=-1)


def at_sensor_dn(
    reflectance: np.ndarray, wavelengths_nm: np.ndarray, atmosphere: Atmosphere, sensor: SensorModel
) -> tuple[np.ndarray, np.ndarray]:
    """DN per unit abundance of each spectrum (``(K, B)``) and the path-radiance DN (``(B,)``).

    A pixel of abundances ``a_k`` (already multiplied by its shading) reads
    ``sum_k a_k * signatures[k] + path`` before gain non-uniformity, dark offset and noise.
    """
    lam = np.asarray(wavelengths_nm, dtype=np.float64)
    airmass = 1.0 / np.cos(np.radians(atmosphere.sun_zenith_deg)) + 1.0
    tau_r = rayleigh_optical_depth(lam)
    tau_a = atmosphere.aerosol_optical_depth * (lam / 550.0) ** -atmosphere.angstrom_exponent
    tau_g = gas_optical_depth(lam, atmosphere.water_vapour)
    irradiance = planck_irradiance(lam)
    ground = irradiance * np.exp(-(tau_r / 2 + tau_a / 3 + tau_g) * airmass)
    haze = irradiance * 0.25 * (tau_r + 0.3 * tau_a) * np.exp(-tau_g)
    detector = np.where(lam < 1000.0, 1.0, sensor.swir_gain)
    srf = spectral_response_matrix(lam, sensor.fwhm_nm)
    vnir = lam < 1000.0
    norm = sensor.peak_dn / _apply_rows(srf, ground[None])[0][vnir].max()
    signatures = _apply_rows(srf, np.asarray(reflectance, dtype=np.float64) * ground[None]) * detector * norm
    path = _apply_rows(srf, haze[None])[0] * detector * norm
    return signatures, path


def expose(
    abundances: np.ndarray,
    signatures: np.ndarray,
    path: np.ndarray,
    sensor: SensorModel,
    fixed_pattern_rng: np.random.Generator,
    noise_rng: np.random.Generator | None,
    stripe: int = 8,
) -> tuple[np.ndarray, np.ndarray]:
    """Quantised cube ``(B, H, W)`` uint16 and the per-band dark offsets (DN).

    ``DN = round(dark_b + g_bc * (sum_k a_k s_kb + path_b) + n)`` clipped to the
    bit depth, with ``n ~ N(0, g_bc (...) / e_per_dn + read_noise^2)``. Computed in
    float32 stripes of ``stripe`` rows (all bands, cache-sized), skipping the
    endmembers absent from a stripe, with element-wise operations only, in a fixed
    order; ``noise_rng=None`` gives the noise-free (still quantised) image.
    """
    k, h, w = abundances.shape
    bands = signatures.shape[1]
    dark = sensor.dark_dn + sensor.dark_band_std_dn * fixed_pattern_rng.standard_normal(bands)
    column_gain = (1.0 + sensor.column_gain_std * fixed_pattern_rng.standard_normal((bands, w))).astype(np.float32)
    a = abundances.astype(np.float32)
    sig = signatures.astype(np.float32)[:, :, None, None]
    top = float((1 << sensor.bit_depth) - 1)
    out = np.empty((bands, h, w), dtype=np.uint16)
    read_var = np.float32(sensor.read_noise_dn**2)
    inv_gain = np.float32(1.0 / sensor.e_per_dn)
    path32 = path.astype(np.float32)[:, None, None]
    dark32 = dark.astype(np.float32)[:, None, None]
    gain32 = column_gain[:, None, :]
    for r0 in range(0, h, stripe):
        r1 = min(r0 + stripe, h)
        acc = np.empty((bands, r1 - r0, w), dtype=np.float32)
        acc[...] = path32
        tmp = np.empty_like(acc)
        for i in range(k):
            part = a[i, r0:r1]
            if not part.any():
                continue
            np.multiply(part[None], sig[i], out=tmp)
            acc += tmp
        acc *= gain32
        if noise_rng is not None:
            np.multiply(acc, inv_gain, out=tmp)
            tmp += read_var
            np.sqrt(tmp, out=tmp)
            tmp *= noise_rng.standard_normal(acc.shape, dtype=np.float32)
            acc += tmp
        acc += dark32
        np.rint(acc, out=acc)
        np.clip(acc, 0.0, top, out=acc)
        out[:, r0:r1] = acc
    return out, dark
