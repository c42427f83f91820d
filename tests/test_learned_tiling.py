"""Tiling and latent coding of the learned codecs: exact reassembly, exact symbol round trips."""

from __future__ import annotations

import numpy as np
import pytest

from hsbench.codecs.learned.latent import decode_latent, encode_latent, quantise
from hsbench.codecs.learned.tiling import tile, tile_grid, untile
from hsbench.errors import CorruptStreamError


@pytest.mark.parametrize(
    ("shape", "t"),
    [((3, 37, 50), 16), ((1, 5, 7), 8), ((2, 64, 64), 32), ((4, 33, 31), 32), ((2, 1, 1), 8)],
)
def test_untile_of_tile_is_exact(shape: tuple[int, int, int], t: int) -> None:
    rng = np.random.default_rng(1)
    x = rng.integers(0, 4096, size=shape).astype(np.uint16)
    tiles = tile(x, t)
    ny, nx = tile_grid(shape[1], shape[2], t)
    assert tiles.shape == (ny * nx, shape[0], t, t)
    assert np.array_equal(untile(tiles, shape[1], shape[2]), x)


def test_tiles_are_row_major_and_edge_padded() -> None:
    x = np.arange(2 * 5 * 7, dtype=np.float32).reshape(2, 5, 7)
    tiles = tile(x, 4)  # grid 2 x 2
    assert np.array_equal(tiles[0], x[:, :4, :4])
    assert np.array_equal(tiles[1, :, :4, :3], x[:, :4, 4:7])
    # padding repeats the last column / row of the image
    assert np.array_equal(tiles[1, :, :4, 3], x[:, :4, 6])
    assert np.array_equal(tiles[3, :, 1:, :], np.repeat(tiles[3, :, :1, :], 3, axis=1))
    assert np.array_equal(tiles[2, :, 0, :], x[:, 4, :4])


def test_untile_rejects_a_wrong_tile_count() -> None:
    with pytest.raises(ValueError, match="cannot cover"):
        untile(np.zeros((3, 1, 8, 8)), 16, 16)


def test_latent_symbols_round_trip_exactly_and_error_is_half_a_step() -> None:
    rng = np.random.default_rng(2)
    z = rng.normal(size=(6, 5, 16)).astype(np.float32) * np.array([1, 10, 0.1, 0, 3], dtype=np.float32)[None, :, None]
    for bits in (1, 4, 8, 12):
        q = quantise(z, bits)
        back = decode_latent(encode_latent(q), 6, 5, 16)
        assert np.array_equal(back.symbols, q.symbols)
        assert np.array_equal(back.low, q.low) and np.array_equal(back.step, q.step)
        assert q.symbols.min() >= 0 and q.symbols.max() <= (1 << bits) - 1
        err = np.abs(back.dequantise() - z)
        assert np.all(err <= q.step[None, :, None] / 2 * 1.0001 + 1e-6)
    # the constant channel (index 3) is reproduced exactly
    assert np.array_equal(quantise(z, 8).dequantise()[:, 3], z[:, 3])


def test_entropy_coding_beats_fixed_length_on_a_peaked_latent() -> None:
    rng = np.random.default_rng(3)
    z = rng.laplace(size=(64, 4, 16)).astype(np.float32)
    q = quantise(z, 8)
    assert len(encode_latent(q)) < q.symbols.size  # fewer than 8 bits per symbol


def test_decode_latent_refuses_a_stream_for_another_model() -> None:
    q = quantise(np.zeros((2, 3, 4), dtype=np.float32), 8)
    data = encode_latent(q)
    with pytest.raises(CorruptStreamError, match="channels"):
        decode_latent(data, 2, 4, 4)
    with pytest.raises(CorruptStreamError):
        decode_latent(data[:10], 2, 3, 4)
