"""Spatial layouts of the synthetic scenes: where each material lies and how it is lit.

Each layout takes a seeded generator, the image shape, the endmember indices of
each material role and the atmosphere (for the sun position), and returns a
:class:`~hsbench.datasets.synthetic_layout.Canvas` of abundance and shading maps.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from hsbench.datasets.synthetic_layout import (
    Canvas,
    band_coverage,
    boundary_distance,
    lambert_shading,
    normal_shading,
    pixel_grid,
    polyline_coverage,
    power_law_field,
    rectangle_coverage,
    sun_vector,
    voronoi_parcels,
    window,
)
from hsbench.datasets.synthetic_sensor import Atmosphere

Roles = dict[str, list[int]]
Layout = Callable[[np.random.Generator, tuple[int, int], Roles, int, Atmosphere], Canvas]


def terrain(rng: np.random.Generator, shape: tuple[int, int], slope_rms_deg: float) -> np.ndarray:
    """Smooth fractal terrain (power-law field, beta 4.2) scaled to an RMS slope, in pixel units."""
    dem = power_law_field(rng, shape, 4.2, pad=64)
    gy, gx = np.gradient(dem)
    rms = np.sqrt(np.mean(gx**2 + gy**2))
    return dem * np.tan(np.radians(slope_rms_deg)) / rms


def _shadow_displacement(atm: Atmosphere) -> tuple[float, float]:
    """(row, col) shift of a shadow per unit height (pixels per pixel of height)."""
    sun = sun_vector(atm.sun_zenith_deg, atm.sun_azimuth_deg)
    return -sun[1] / sun[2], -sun[0] / sun[2]


def _cast_shadow(canvas: Canvas, footprint: Callable[[np.ndarray, np.ndarray], np.ndarray],
                 row: float, col: float, radius: float, height: float, atm: Atmosphere,
                 start: float = 0.0) -> None:
    """Darken the ground under the shadow of an object of ``height`` (px) above ``footprint``.

    The shadow is the footprint swept along the anti-solar direction from
    ``start * height`` to ``height``; inside it only diffuse light remains.
    """
    drow, dcol = _shadow_displacement(atm)
    reach = radius + height * np.hypot(drow, dcol) + 2
    found = window(canvas.shape, row, col, reach)
    if found is None:
        return
    win, dr, dc = found
    cover = np.zeros(dr.shape)
    for t in np.linspace(start, 1.0, 6):
        cover = np.maximum(cover, footprint(dr - t * height * drow, dc - t * height * dcol))
    canvas.darken(1.0 - (1.0 - atm.diffuse_fraction) * cover, where=win)


def _building(canvas: Canvas, rng: np.random.Generator, row: float, col: float, half_len: float,
              half_wid: float, angle: float, height: float, roof: int, pitch_deg: float,
              atm: Atmosphere, texture: np.ndarray) -> None:
    """A rectangular building: cast shadow, then a flat or gabled roof of material ``roof``.

    A gabled roof's two faces are lit by :func:`normal_shading` with the roof pitch;
    ``texture`` (a unit-variance field) adds 3 % weathering variation to the roof.
    """
    radius = np.hypot(half_len, half_wid) + 1

    def footprint(dr: np.ndarray, dc: np.ndarray) -> np.ndarray:
        return rectangle_coverage(dr, dc, half_len, half_wid, angle)[0]

    _cast_shadow(canvas, footprint, row, col, radius, height, atm)
    found = window(canvas.shape, row, col, radius)
    if found is None:
        return
    win, dr, dc = found
    cover, v = rectangle_coverage(dr, dc, half_len, half_wid, angle)
    t = np.tan(np.radians(pitch_deg))
    nx, ny = -np.sin(angle) * t, np.cos(angle) * t
    lit = normal_shading(nx, ny, atm.sun_zenith_deg, atm.sun_azimuth_deg, atm.diffuse_fraction)
    dark = normal_shading(-nx, -ny, atm.sun_zenith_deg, atm.sun_azimuth_deg, atm.diffuse_fraction)
    shade = np.where(v >= 0, lit, dark)
    weathering = rng.uniform(0.92, 0.98) + 0.03 * np.clip(texture[win], -2, 2) / 2
    canvas.paint(cover, {roof: weathering}, shade=shade, where=win)


def _tree(canvas: Canvas, row: float, col: float, radius: float, height: float, crown: int,
          texture: np.ndarray, atm: Atmosphere) -> None:
    """A tree crown: its shadow on the ground, then a lit dome of canopy material ``crown``."""

    def footprint(dr: np.ndarray, dc: np.ndarray) -> np.ndarray:
        return band_coverage(np.hypot(dr, dc), radius)

    _cast_shadow(canvas, footprint, row, col, radius + 1, height, atm, start=0.5)
    found = window(canvas.shape, row, col, radius + 1)
    if found is None:
        return
    win, dr, dc = found
    d = np.hypot(dr, dc)
    z = np.sqrt(np.maximum(radius**2 - d**2, (0.35 * radius) ** 2))
    shade = normal_shading(dc / z, dr / z, atm.sun_zenith_deg, atm.sun_azimuth_deg, atm.diffuse_fraction)
    shade = shade * (0.85 + 0.15 * np.clip(texture[win], -2, 2) / 2)
    canvas.paint(band_coverage(d, radius), {crown: 1.0}, shade=shade, where=win)


def _straight_road(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Endpoints (row, col) of a straight line through a random point, crossing the whole image."""
    h, w = shape
    centre = np.array([rng.uniform(0.2, 0.8) * h, rng.uniform(0.2, 0.8) * w])
    angle = rng.uniform(0, np.pi)
    direction = np.array([np.sin(angle), np.cos(angle)])
    span = 2.0 * (h + w)
    return np.stack([centre - span * direction, centre + span * direction])


def _winding_track(rng: np.random.Generator, shape: tuple[int, int], n: int = 7) -> np.ndarray:
    """A smooth-ish polyline from the left to the right edge (a dirt road or path)."""
    h, w = shape
    cols = np.linspace(-10, w + 10, n)
    rows = h * (0.5 + np.cumsum(rng.uniform(-0.15, 0.15, n)))
    points = np.stack([rows, cols], axis=1)
    # one pass of Chaikin corner cutting (Chaikin 1974) rounds the bends
    q = 0.75 * points[:-1] + 0.25 * points[1:]
    r = 0.25 * points[:-1] + 0.75 * points[1:]
    return np.concatenate([points[:1], np.stack([q, r], axis=1).reshape(-1, 2), points[-1:]])


def _pick(rng: np.random.Generator, options: Sequence[int], n: int) -> np.ndarray:
    return np.asarray(options)[rng.integers(0, len(options), n)]


def agriculture(rng: np.random.Generator, shape: tuple[int, int], em: Roles, k: int, atm: Atmosphere) -> Canvas:
    """Farmland: Voronoi field parcels of crops (row texture), bare soil, residue and fallow;
    hedgerows on some parcel edges; two paved roads with gravel shoulders; a dirt track;
    a few farm buildings; gently rolling terrain."""
    canvas = Canvas(shape, k)
    rows, cols = pixel_grid(shape)
    canvas.shade = lambert_shading(terrain(rng, shape, 4.0), 1.0, atm.sun_zenith_deg,
                                   atm.sun_azimuth_deg, atm.diffuse_fraction)
    labels = voronoi_parcels(rng, shape, cell=46.0, warp_px=5.0)
    n = int(labels.max()) + 1
    tex = power_law_field(rng, shape, 2.6)
    fine = power_law_field(rng, shape, 1.6)
    moist = power_law_field(rng, shape, 3.2)
    kind = rng.choice(4, size=n, p=[0.5, 0.2, 0.18, 0.12])  # crop, bare, residue, fallow
    crop = _pick(rng, em["crop"], n)[labels]
    soil = _pick(rng, em["soil"], n)[labels]
    residue = _pick(rng, em["residue"], n)[labels]
    cover0 = rng.uniform(0.45, 0.95, n)[labels]
    angle = rng.uniform(0, np.pi, n)[labels]
    period = rng.uniform(3.0, 7.0, n)[labels]
    phase = rng.uniform(0, 2 * np.pi, n)[labels]
    stripes = np.sin(2 * np.pi * (cols * np.cos(angle) + rows * np.sin(angle)) / period + phase)
    kind = kind[labels]
    cover = np.where(kind == 0, cover0 + 0.08 * tex + 0.12 * stripes,
                     np.where(kind == 3, 0.25 + 0.12 * tex + 0.1 * fine, 0.0))
    cover = np.clip(cover, 0.0, 1.0)
    resid = np.where(kind == 2, 0.55 + 0.1 * tex + 0.08 * stripes, np.where(kind == 3, 0.3 + 0.05 * fine, 0.0))
    resid = np.clip(resid, 0.0, 1.0 - cover)
    bare = 1.0 - cover - resid
    vigour = np.clip(0.93 + 0.05 * tex, 0.8, 1.05)
    wetness = np.clip(0.86 + 0.07 * moist + 0.03 * fine + 0.04 * stripes * (kind == 1), 0.6, 1.05)
    for e in range(k):
        canvas.weights[e] = cover * vigour * (crop == e) + resid * (residue == e) + bare * wetness * (soil == e)

    # hedgerows along part of the parcel boundaries
    presence = power_law_field(rng, shape, 3.0) > -0.2
    hedge = band_coverage(boundary_distance(labels), 1.0) * presence
    canvas.paint(hedge, {em["hedge"][0]: 0.85, em["residue"][0]: 0.15}, shade=1.0 + 0.12 * fine)

    # roads: gravel shoulders, then asphalt; a dirt track
    for _ in range(2):
        line = _straight_road(rng, shape)
        canvas.paint(polyline_coverage(shape, line, 3.5), {em["gravel"][0]: 0.6, em["soil"][0]: 0.4})
        canvas.paint(polyline_coverage(shape, line, 2.0), {em["road"][0]: 0.95 + 0.03 * fine})
    track = _winding_track(rng, shape)
    canvas.paint(polyline_coverage(shape, track, 1.0), {em["soil"][1]: 0.75, em["residue"][-1]: 0.25})

    # farm buildings near the middle
    for _ in range(4):
        r, c = rng.uniform(0.25, 0.75) * shape[0], rng.uniform(0.25, 0.75) * shape[1]
        _building(canvas, rng, r, c, rng.uniform(5, 10), rng.uniform(3, 5), rng.uniform(0, np.pi),
                  rng.uniform(4, 8), int(_pick(rng, em["roof"], 1)[0]), rng.uniform(10, 25), atm, fine)
    return canvas


def urban(rng: np.random.Generator, shape: tuple[int, int], em: Roles, k: int, atm: Atmosphere) -> Canvas:
    """A town on a rotated street grid: asphalt streets with sidewalks; residential blocks of
    gabled houses with driveways, lawns and trees; commercial blocks of flat-roofed buildings
    in parking lots; parks with trees and paths. Buildings and trees cast shadows."""
    canvas = Canvas(shape, k)
    h, w = shape
    rows, cols = pixel_grid(shape)
    tex = power_law_field(rng, shape, 2.4)
    fine = power_law_field(rng, shape, 1.5)
    crowns = power_law_field(rng, shape, 1.2)
    grass_mix = np.clip(0.5 + 0.35 * power_law_field(rng, shape, 3.0), 0, 1)
    g0, g1 = em["grass"][0], em["grass"][1]
    lawn_soil = np.clip(0.08 + 0.06 * tex, 0, 0.3)
    canvas.weights[g0] = (1 - lawn_soil) * grass_mix * (0.95 + 0.05 * fine)
    canvas.weights[g1] = (1 - lawn_soil) * (1 - grass_mix) * (0.95 + 0.05 * fine)
    canvas.weights[em["soil"][0]] = lawn_soil

    angle = rng.uniform(-0.35, 0.35)
    pitch = 62.0
    ca, sa = np.cos(angle), np.sin(angle)
    off_u, off_v = rng.uniform(0, pitch, 2)
    u = cols * ca + rows * sa
    v = -cols * sa + rows * ca
    du = np.abs(np.mod(u - off_u + pitch / 2, pitch) - pitch / 2)
    dv = np.abs(np.mod(v - off_v + pitch / 2, pitch) - pitch / 2)
    dist = np.minimum(du, dv)
    canvas.paint(band_coverage(dist, 6.5), {em["sidewalk"][0]: 0.97 + 0.03 * fine})
    canvas.paint(band_coverage(dist, 4.5), {em["road"][0]: 0.9 + 0.06 * tex, em["road"][1]: 0.06})

    def to_image(uu: float, vv: float) -> tuple[float, float]:
        return uu * sa + vv * ca, uu * ca - vv * sa  # (row, col)

    corners = np.array([[0, 0], [0, w], [h, 0], [h, w]], dtype=float)
    us, vs = corners[:, 1] * ca + corners[:, 0] * sa, -corners[:, 1] * sa + corners[:, 0] * ca
    iu = range(int(np.floor((us.min() - off_u) / pitch)) - 1, int(np.ceil((us.max() - off_u) / pitch)) + 1)
    iv = range(int(np.floor((vs.min() - off_v) / pitch)) - 1, int(np.ceil((vs.max() - off_v) / pitch)) + 1)
    inner = pitch / 2 - 7.5  # half size of a block inside its sidewalks
    for bu in iu:
        for bv in iv:
            uc, vc = off_u + (bu + 0.5) * pitch, off_v + (bv + 0.5) * pitch
            rc, cc = to_image(uc, vc)
            if not (-pitch < rc < h + pitch and -pitch < cc < w + pitch):
                continue
            block = rng.choice(3, p=[0.6, 0.22, 0.18])
            found = window(shape, rc, cc, inner * 1.5)
            if block == 1 and found is not None:  # commercial: parking lot, big flat roofs
                win, dr, dc = found
                lot = rectangle_coverage(dr, dc, inner, inner, angle)[0]
                canvas.paint(lot, {em["parking"][0]: 0.92 + 0.05 * tex[win]}, where=win)
                n_bld = int(rng.integers(1, 3))
                for j in range(n_bld):
                    hl, hw = rng.uniform(8, 14), rng.uniform(7, 11)
                    ou = (j - (n_bld - 1) / 2) * (inner - 2)
                    r0, c0 = to_image(uc + ou * (n_bld > 1), vc + rng.uniform(-4, 4))
                    _building(canvas, rng, r0, c0, hl if n_bld == 1 else min(hl, inner / 2 - 1), hw, angle,
                              rng.uniform(8, 16), int(_pick(rng, em["flat_roof"], 1)[0]), 0.0, atm, fine)
                for j in range(6):
                    r0, c0 = to_image(uc + rng.uniform(-inner, inner), vc + inner - 1.5)
                    _tree(canvas, r0, c0, rng.uniform(1.5, 2.5), rng.uniform(5, 9), em["tree"][j % 2], crowns, atm)
            elif block == 2:  # park
                path = np.array([to_image(uc - inner, vc + rng.uniform(-inner, inner)),
                                 to_image(uc + rng.uniform(-5, 5), vc + rng.uniform(-5, 5)),
                                 to_image(uc + inner, vc + rng.uniform(-inner, inner))])
                if found is not None:
                    win, _, _ = found
                    sub = polyline_coverage(shape, path, 1.2)[win]
                    canvas.paint(sub, {em["path"][0]: 0.9, em["soil"][0]: 0.1}, where=win)
                for _ in range(int(rng.integers(8, 16))):
                    r0, c0 = to_image(uc + rng.uniform(-inner, inner), vc + rng.uniform(-inner, inner))
                    _tree(canvas, r0, c0, rng.uniform(2.0, 4.5), rng.uniform(6, 14),
                          int(_pick(rng, em["tree"], 1)[0]), crowns, atm)
            else:  # residential: 2 x 3 lots with a gabled house, a driveway and trees
                for lu in (-1, 0, 1):
                    for lv in (-1, 1):
                        lot_u, lot_v = uc + lu * inner * 2 / 3, vc + lv * inner / 2
                        hl, hw = rng.uniform(4.0, 6.5), rng.uniform(3.0, 4.5)
                        # driveway from the house to the street, then the house
                        dwy_r, dwy_c = to_image(lot_u + hl * 0.5, lot_v + lv * (inner / 4 + 1))
                        dfound = window(shape, dwy_r, dwy_c, inner / 2)
                        if dfound is not None:
                            win, dr, dc = dfound
                            cov = rectangle_coverage(dr, dc, 1.6, inner / 4 + 1, angle)[0]
                            canvas.paint(cov, {em["parking"][-1]: 1.0}, where=win)
                        r0, c0 = to_image(lot_u + rng.uniform(-1.5, 1.5), lot_v - lv * rng.uniform(0, 2))
                        _building(canvas, rng, r0, c0, hl, hw, angle, rng.uniform(4, 7),
                                  int(_pick(rng, em["roof"], 1)[0]), rng.uniform(20, 35), atm, fine)
                        for _ in range(int(rng.integers(0, 3))):
                            r1, c1 = to_image(lot_u + rng.uniform(-inner / 3, inner / 3), lot_v - lv * (inner / 2 - 3))
                            _tree(canvas, r1, c1, rng.uniform(1.5, 3.5), rng.uniform(5, 11),
                                  int(_pick(rng, em["tree"], 1)[0]), crowns, atm)
    return canvas


def burn_scar(rng: np.random.Generator, shape: tuple[int, int], em: Roles, k: int, atm: Atmosphere) -> Canvas:
    """Hilly forest after a wildfire: forest stands (one canopy spectrum each) with crown texture
    and litter / soil in the gaps; an irregular burn scar whose severity grades from scorched
    canopy to char, snags and bare soil, with unburned islands; a winding dirt road."""
    canvas = Canvas(shape, k)
    canvas.shade = lambert_shading(terrain(rng, shape, 14.0), 1.0, atm.sun_zenith_deg,
                                   atm.sun_azimuth_deg, atm.diffuse_fraction)
    rows, cols = pixel_grid(shape)
    stands = voronoi_parcels(rng, shape, cell=70.0, warp_px=12.0)
    n = int(stands.max()) + 1
    canopy = _pick(rng, em["canopy"], n)[stands]
    litter = _pick(rng, em["litter"], n)[stands]
    crowns = power_law_field(rng, shape, 1.4)
    low = power_law_field(rng, shape, 3.0)
    soil_mix = np.clip(0.5 + 0.4 * power_law_field(rng, shape, 3.0), 0, 1)
    cover = np.clip(0.72 + 0.16 * crowns + 0.12 * low, 0.0, 1.0)
    gap = 1.0 - cover
    s0, s1 = em["soil"][0], em["soil"][1]
    for e in range(k):
        canvas.weights[e] = cover * (canopy == e) + 0.65 * gap * (litter == e)
    canvas.weights[s0] += 0.35 * gap * soil_mix
    canvas.weights[s1] += 0.35 * gap * (1 - soil_mix)
    canvas.darken(np.clip(1.0 + 0.12 * crowns, 0.7, 1.3))

    h, w = shape
    r0, c0 = rng.uniform(0.35, 0.65) * h, rng.uniform(0.35, 0.65) * w
    a, b = rng.uniform(0.3, 0.4) * h, rng.uniform(0.3, 0.4) * w
    ellipse = ((rows - r0) / a) ** 2 + ((cols - c0) / b) ** 2
    s = 1.1 * (1.0 - ellipse) + 0.5 * power_law_field(rng, shape, 3.2)
    severity = np.clip(s / 0.8, 0.0, 1.0)
    burned = np.clip(s / 0.12, 0.0, 1.0)
    veg = cover * (1.0 - severity) * 0.7
    char_mix = np.clip(0.5 + 0.4 * low, 0, 1)
    char = (1.0 - veg) * np.clip(0.35 + 0.5 * severity + 0.08 * crowns, 0.0, 1.0)
    wood = (1.0 - veg - char) * 0.35
    bare = 1.0 - veg - char - wood
    mixture: dict[int, np.ndarray | float] = {}
    for e in set(np.unique(canopy).tolist()):
        mixture[e] = veg * (canopy == e)
    c_a, c_b = em["char"][0], em["char"][1]
    mixture[c_a] = mixture.get(c_a, 0.0) + char * char_mix
    mixture[c_b] = mixture.get(c_b, 0.0) + char * (1 - char_mix)
    mixture[em["wood"][0]] = wood
    mixture[s0] = bare * soil_mix
    mixture[s1] = bare * (1 - soil_mix)
    canvas.paint(burned, mixture)

    track = _winding_track(rng, shape)
    canvas.paint(polyline_coverage(shape, track, 2.5), {s0: 0.7, em["litter"][0]: 0.3})
    canvas.paint(polyline_coverage(shape, track, 1.3), {em["road"][0]: 1.0})
    return canvas


#: Layout functions by name.
LAYOUTS: dict[str, Layout] = {"agriculture": agriculture, "urban": urban, "burn_scar": burn_scar}
