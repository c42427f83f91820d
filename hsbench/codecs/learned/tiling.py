"""Cut a cube into the model's square tiles and put them back together exactly.

The SSCNet paper (seed 001, section 3.2, "subdivision strategy") feeds large cubes
to the network as tiles of the model's input size (9x48x48 for Sentinel-2,
432x64x64 for VIRTIS). Here any ``(B, H, W)`` array becomes a row-major grid of
``ceil(H / T) * ceil(W / T)`` tiles of ``(B, T, T)``; the last row and column of
tiles are completed by edge padding (``numpy.pad(mode="edge")``: the border sample
repeated, which keeps the padded area as smooth as the image and adds no new
values). :func:`untile` drops the padding, so ``untile(tile(x), H, W) == x``
exactly for every shape.
"""

from __future__ import annotations

import numpy as np


def tile_grid(rows: int, cols: int, tile: int) -> tuple[int, int]:
    """Number of tile rows and tile columns covering ``rows x cols``: ``ceil(rows/T), ceil(cols/T)``."""
    if tile < 1:
        raise ValueError(f"tile size must be positive, got {tile}")
    return -(-rows // tile), -(-cols // tile)


def tile(array: np.ndarray, tile: int) -> np.ndarray:
    """Split ``array`` ``(B, H, W)`` into ``(N, B, T, T)`` tiles, row-major, edge-padded at the far edges."""
    if array.ndim != 3:
        raise ValueError(f"expected a (bands, rows, cols) array, got shape {array.shape}")
    bands, rows, cols = array.shape
    ny, nx = tile_grid(rows, cols, tile)
    pad_r, pad_c = ny * tile - rows, nx * tile - cols
    if pad_r or pad_c:
        array = np.pad(array, ((0, 0), (0, pad_r), (0, pad_c)), mode="edge")
    # (B, ny, T, nx, T) -> (ny, nx, B, T, T)
    blocks = array.reshape(bands, ny, tile, nx, tile).transpose(1, 3, 0, 2, 4)
    return np.ascontiguousarray(blocks.reshape(ny * nx, bands, tile, tile))


def untile(tiles: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Reassemble ``(N, B, T, T)`` tiles made by :func:`tile` into the ``(B, rows, cols)`` array."""
    if tiles.ndim != 4 or tiles.shape[2] != tiles.shape[3]:
        raise ValueError(f"expected (N, B, T, T) tiles, got shape {tiles.shape}")
    n, bands, t, _ = tiles.shape
    ny, nx = tile_grid(rows, cols, t)
    if n != ny * nx:
        raise ValueError(f"{n} tiles cannot cover {rows}x{cols} with {t}x{t} tiles ({ny * nx} needed)")
    full = tiles.reshape(ny, nx, bands, t, t).transpose(2, 0, 3, 1, 4).reshape(bands, ny * t, nx * t)
    return np.ascontiguousarray(full[:, :rows, :cols])
