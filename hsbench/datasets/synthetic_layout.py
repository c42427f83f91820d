"""Spatial building blocks of the synthetic scenes: random fields, parcels, shapes, shading.

Everything here is deterministic given a seeded :class:`numpy.random.Generator`
and uses only element-wise numpy operations, FFTs and scipy.ndimage filters
(no BLAS, no threads), so results do not depend on the machine's thread count.

A scene is painted on a :class:`Canvas`: one abundance map per endmember plus a
shading map, composited with the "over" operator (Porter & Duff, "Compositing
digital images", SIGGRAPH 1984) so the abundances of each pixel keep summing to
its brightness factor (1 for a pixel of pure materials at full brightness).
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

Window = tuple[slice, slice]


def power_law_field(rng: np.random.Generator, shape: tuple[int, int], beta: float, pad: int = 32) -> np.ndarray:
    """Gaussian random field with power spectrum ``P(f) ~ |f|**-beta``, zero mean, unit std.

    Spectral synthesis of fractional Brownian surfaces (Saupe, "Algorithms for
    random fractals", in *The Science of Fractal Images*, 1988, ch. 2): white
    noise filtered by ``|f|**(-beta/2)`` in the Fourier domain. ``beta`` near 2-3
    gives natural-image-like texture, 3.5-4.5 smooth terrain. The field is made
    ``pad`` pixels larger and cropped so its periodic wrap-around is not visible.
    """
    h, w = shape[0] + pad, shape[1] + pad
    noise = rng.standard_normal((h, w))
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    f = np.hypot(fy, fx)
    f[0, 0] = 1.0
    amplitude = f ** (-beta / 2.0)
    amplitude[0, 0] = 0.0
    field = np.fft.irfft2(np.fft.rfft2(noise) * amplitude, s=(h, w))[: shape[0], : shape[1]]
    field -= field.mean()
    field /= field.std()
    return field


def pixel_grid(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Row and column coordinates of pixel centres, each of ``shape``."""
    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]]
    return rows.astype(np.float64), cols.astype(np.float64)


def voronoi_parcels(
    rng: np.random.Generator, shape: tuple[int, int], cell: float, warp_px: float
) -> np.ndarray:
    """Label map of field parcels: Voronoi cells of jittered-grid seeds, boundaries warped.

    Seeds sit on a grid of pitch ``cell`` jittered by up to 0.4 cell; each pixel
    takes the label of its nearest seed after its coordinates are displaced by
    ``warp_px`` times a smooth random field (beta 3.5), which bends the straight
    Voronoi edges into field boundaries that follow terrain.
    """
    h, w = shape
    gy = np.arange(-0.5, h / cell + 0.5)
    gx = np.arange(-0.5, w / cell + 0.5)
    sy, sx = np.meshgrid(gy, gx, indexing="ij")
    sy = (sy + rng.uniform(-0.4, 0.4, sy.shape)) * cell
    sx = (sx + rng.uniform(-0.4, 0.4, sx.shape)) * cell
    rows, cols = pixel_grid(shape)
    rows = rows + warp_px * power_law_field(rng, shape, 3.5)
    cols = cols + warp_px * power_law_field(rng, shape, 3.5)
    best = np.full(shape, np.inf)
    labels = np.zeros(shape, dtype=np.intp)
    for i, (y, x) in enumerate(zip(sy.ravel(), sx.ravel())):
        d = (rows - y) ** 2 + (cols - x) ** 2
        closer = d < best
        best[closer] = d[closer]
        labels[closer] = i
    _, labels = np.unique(labels, return_inverse=True)
    return labels.reshape(shape)


def boundary_distance(labels: np.ndarray) -> np.ndarray:
    """Euclidean distance (pixels) of each pixel to the nearest change of label."""
    from scipy import ndimage

    edge = np.zeros(labels.shape, dtype=bool)
    edge[:, 1:] |= labels[:, 1:] != labels[:, :-1]
    edge[1:, :] |= labels[1:, :] != labels[:-1, :]
    return ndimage.distance_transform_edt(~edge)


def segment_distance(
    rows: np.ndarray, cols: np.ndarray, p0: tuple[float, float], p1: tuple[float, float]
) -> np.ndarray:
    """Distance of each point ``(rows, cols)`` to the segment ``p0``-``p1`` (row, col)."""
    (r0, c0), (r1, c1) = p0, p1
    dr, dc = r1 - r0, c1 - c0
    length2 = dr * dr + dc * dc
    t = np.clip(((rows - r0) * dr + (cols - c0) * dc) / length2, 0.0, 1.0) if length2 > 0 else 0.0
    return np.hypot(rows - (r0 + t * dr), cols - (c0 + t * dc))


def band_coverage(distance: np.ndarray, half_width: float) -> np.ndarray:
    """Area coverage of a band of half-width ``half_width`` px: linear ramp over one pixel."""
    return np.clip(half_width + 0.5 - distance, 0.0, 1.0)


def polyline_coverage(shape: tuple[int, int], points: np.ndarray, half_width: float) -> np.ndarray:
    """Anti-aliased coverage of a polyline ``points[i] = (row, col)`` of half-width ``half_width``."""
    rows, cols = pixel_grid(shape)
    dist = np.full(shape, np.inf)
    for p0, p1 in zip(points[:-1], points[1:]):
        dist = np.minimum(dist, segment_distance(rows, cols, tuple(p0), tuple(p1)))
    return band_coverage(dist, half_width)


def window(
    shape: tuple[int, int], row: float, col: float, radius: float
) -> tuple[Window, np.ndarray, np.ndarray] | None:
    """Slices of the part of the image within ``radius`` of ``(row, col)`` and their coordinates.

    Returns ``None`` when that square misses the image.
    """
    r0, r1 = max(int(np.floor(row - radius)), 0), min(int(np.ceil(row + radius)) + 1, shape[0])
    c0, c1 = max(int(np.floor(col - radius)), 0), min(int(np.ceil(col + radius)) + 1, shape[1])
    if r0 >= r1 or c0 >= c1:
        return None
    rr, cc = np.mgrid[r0:r1, c0:c1]
    return (slice(r0, r1), slice(c0, c1)), rr - row, cc - col


def rectangle_coverage(
    dr: np.ndarray, dc: np.ndarray, half_len: float, half_wid: float, angle: float
) -> tuple[np.ndarray, np.ndarray]:
    """Coverage of a rectangle centred at offset 0 and its across-axis coordinate.

    ``angle`` (radians) turns the long axis from the column axis towards the row
    axis; returns ``(coverage, v)`` with ``v`` the signed distance across the long
    axis (used for the two faces of a gabled roof).
    """
    ca, sa = np.cos(angle), np.sin(angle)
    u = dc * ca + dr * sa
    v = -dc * sa + dr * ca
    cov = band_coverage(np.abs(u), half_len) * band_coverage(np.abs(v), half_wid)
    return cov, v


def sun_vector(zenith_deg: float, azimuth_deg: float) -> np.ndarray:
    """Unit vector towards the sun in image axes ``(east = +col, south = +row, up)``.

    Azimuth is measured clockwise from north (north = up in the image).
    """
    z, a = np.radians(zenith_deg), np.radians(azimuth_deg)
    return np.array([np.sin(z) * np.sin(a), -np.sin(z) * np.cos(a), np.cos(z)])


def lambert_shading(
    dem: np.ndarray, pixel_m: float, zenith_deg: float, azimuth_deg: float, diffuse: float
) -> np.ndarray:
    """Relative irradiance of a Lambertian surface over terrain ``dem`` (metres).

    ``s = (1 - diffuse) * max(cos i, 0) / cos(zenith) + diffuse * (1 + cos slope) / 2``,
    with ``cos i`` the cosine of the local solar incidence angle from the surface
    normal ``(-dz/dx, -dz/dy, 1)`` (Horn, "Hill shading and the reflectance map",
    Proc. IEEE 69(1), 1981) and the isotropic sky-view factor ``(1 + cos slope)/2``.
    Flat ground gets 1.
    """
    gy, gx = np.gradient(dem, pixel_m)
    return normal_shading(-gx, -gy, zenith_deg, azimuth_deg, diffuse)


def normal_shading(
    nx: np.ndarray | float, ny: np.ndarray | float, zenith_deg: float, azimuth_deg: float, diffuse: float
) -> np.ndarray:
    """:func:`lambert_shading` for a surface whose unnormalised normal is ``(nx, ny, 1)``."""
    sun = sun_vector(zenith_deg, azimuth_deg)
    norm = np.sqrt(1.0 + np.square(nx) + np.square(ny))
    cos_i = (nx * sun[0] + ny * sun[1] + sun[2]) / norm
    direct = np.maximum(cos_i, 0.0) / sun[2]
    return (1.0 - diffuse) * direct + diffuse * (1.0 + 1.0 / norm) / 2.0


class Canvas:
    """Abundance maps ``weights[k, row, col]`` of K endmembers plus a shading map.

    :meth:`paint` composites a layer over what is there ("over" operator): every
    map is multiplied by ``1 - coverage`` and the layer's own abundances times
    ``coverage`` are added, so sums stay consistent at soft edges.
    """

    def __init__(self, shape: tuple[int, int], n_endmembers: int) -> None:
        self.shape = shape
        self.weights = np.zeros((n_endmembers, *shape))
        self.shade = np.ones(shape)

    def paint(
        self,
        coverage: np.ndarray | float,
        mixture: Mapping[int, np.ndarray | float],
        shade: np.ndarray | float | None = None,
        where: Window | None = None,
    ) -> None:
        """Composite a layer of abundances ``mixture`` (endmember -> map or value) over the canvas.

        ``where`` restricts the operation to a window (then maps are window-sized).
        ``shade`` (optional) composites the layer's own shading the same way.
        """
        win = where if where is not None else (slice(None), slice(None))
        keep = 1.0 - np.asarray(coverage)
        self.weights[(slice(None), *win)] *= keep
        for k, amount in mixture.items():
            self.weights[(k, *win)] += coverage * np.asarray(amount)
        if shade is not None:
            self.shade[win] = self.shade[win] * keep + coverage * np.asarray(shade)

    def darken(self, factor: np.ndarray, where: Window | None = None) -> None:
        """Multiply the shading by ``factor`` (cast shadows, crown self-shading)."""
        win = where if where is not None else (slice(None), slice(None))
        self.shade[win] *= factor
