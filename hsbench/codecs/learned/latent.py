"""The latent bitstream: uniform scalar quantisation per channel, then range coding.

An encoder network gives a float latent ``z[n, c, s]`` (tile ``n``, channel ``c``,
position ``s``). SSCNet's published ratios count it as float32 (SPEC section 1);
a real bitstream needs integers, so each channel is quantised uniformly with
``2**bits`` levels between its minimum and maximum over the image::

    step_c = (max_c - min_c) / (2**bits - 1)
    q      = round((z - min_c) / step_c)           in {0 .. 2**bits - 1}
    z^     = min_c + q * step_c                    (float32, on the decoder)

and the symbols of each channel are range coded (constriction's
``stream.queue.RangeEncoder``; Bamler, "Understanding entropy coding with
asymmetric numeral systems (ANS): a statistician's perspective", 2022) with a
quantised Gaussian model whose mean and standard deviation are those of the
channel's symbols. The stream carries, per channel, ``min_c``, ``step_c``, mean and
std as float32: the decoder needs nothing else. Only integers and float32
constants travel, so a stream written on a GPU decodes bit-exactly on a CPU.

Layout (little-endian)::

    u8  bits   u32 C   C x (f32 low, f32 step, f32 mean, f32 std)   u32 words of the range coder
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

import numpy as np

from hsbench.errors import CorruptStreamError

_HEAD = struct.Struct("<BI")
_MIN_STD = 0.25  # keeps the Gaussian proper for (near-)constant channels; same on both sides
#: the fewest bits a latent symbol costs: the likeliest symbol of a quantised Gaussian with std >= _MIN_STD
#: has probability erf(0.5 / (_MIN_STD sqrt 2)) = 0.9545, i.e. -log2(0.9545) = 0.067 bits
MIN_SYMBOL_BITS = -math.log2(math.erf(0.5 / (_MIN_STD * math.sqrt(2))))


def max_samples_per_byte(samples_per_symbol: float) -> float:
    """The most image samples one payload byte can stand for when each latent symbol stands for
    ``samples_per_symbol`` samples: ``samples_per_symbol * 8 / MIN_SYMBOL_BITS`` (about 119 x)."""
    return samples_per_symbol * 8 / MIN_SYMBOL_BITS


@dataclass(frozen=True)
class QuantisedLatent:
    """Integer latent symbols ``(N, C, S)`` with the per-channel dequantisation constants."""

    symbols: np.ndarray  # int32, (N, C, S)
    low: np.ndarray  # float32, (C,)
    step: np.ndarray  # float32, (C,)
    bits: int

    def dequantise(self) -> np.ndarray:
        """``z^ = low_c + q * step_c`` as float32 ``(N, C, S)``."""
        return (self.low[None, :, None] + self.symbols.astype(np.float32) * self.step[None, :, None]).astype(
            np.float32
        )


def quantise(latent: np.ndarray, bits: int) -> QuantisedLatent:
    """Uniform per-channel quantisation of a float latent ``(N, C, S)`` to ``bits`` bits (module docstring)."""
    if latent.ndim != 3:
        raise ValueError(f"latent must be (tiles, channels, positions), got shape {latent.shape}")
    if not 1 <= bits <= 16:
        raise ValueError(f"bits must be in 1..16, got {bits}")
    z = latent.astype(np.float32, copy=False)
    low = z.min(axis=(0, 2)).astype(np.float32)
    high = z.max(axis=(0, 2)).astype(np.float32)
    levels = (1 << bits) - 1
    step = ((high - low) / np.float32(levels)).astype(np.float32)
    safe = np.where(step > 0, step, np.float32(1))
    q = np.rint((z - low[None, :, None]) / safe[None, :, None])
    q = np.clip(q, 0, levels).astype(np.int32)
    q[:, step == 0, :] = 0
    return QuantisedLatent(q, low, step, bits)


def _gaussian_params(symbols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    flat = symbols.transpose(1, 0, 2).reshape(symbols.shape[1], -1).astype(np.float64)
    mean = flat.mean(axis=1).astype(np.float32)
    std = np.maximum(flat.std(axis=1), _MIN_STD).astype(np.float32)
    return mean, std


def encode_latent(q: QuantisedLatent) -> bytes:
    """Range-code the symbols of ``q`` channel by channel (layout in the module docstring)."""
    import constriction

    n, c, s = q.symbols.shape
    mean, std = _gaussian_params(q.symbols)
    side = np.stack([q.low, q.step, mean, std], axis=1).astype("<f4")
    encoder = constriction.stream.queue.RangeEncoder()
    levels = (1 << q.bits) - 1
    for ch in range(c):
        model = constriction.stream.model.QuantizedGaussian(0, levels, float(mean[ch]), float(std[ch]))
        encoder.encode(np.ascontiguousarray(q.symbols[:, ch, :].ravel(), dtype=np.int32), model)
    words = encoder.get_compressed().astype("<u4")
    return _HEAD.pack(q.bits, c) + side.tobytes() + words.tobytes()


def decode_latent(payload: bytes | memoryview, tiles: int, channels: int, positions: int) -> QuantisedLatent:
    """Inverse of :func:`encode_latent` for a latent of shape ``(tiles, channels, positions)``."""
    import constriction

    data = bytes(payload)
    if len(data) < _HEAD.size:
        raise CorruptStreamError("learned-codec payload is shorter than its latent header")
    bits, c = _HEAD.unpack_from(data, 0)
    if c != channels or not 1 <= bits <= 16:
        raise CorruptStreamError(
            f"latent header says {c} channels at {bits} bits; this model has {channels} channels "
            "(was the stream written with another checkpoint?)"
        )
    pos = _HEAD.size
    side_len = 16 * c
    words_len = len(data) - pos - side_len
    if words_len < 0 or words_len % 4:
        raise CorruptStreamError("learned-codec payload is truncated inside its latent side information")
    side = np.frombuffer(data, dtype="<f4", count=4 * c, offset=pos).reshape(c, 4).astype(np.float32)
    levels = (1 << bits) - 1
    low, step, mean, std = side.T
    # what encode_latent writes: finite constants, step >= 0, mean in [0, levels], std >= _MIN_STD
    # (constriction panics on a non-positive or non-finite std, so check before building any model)
    if not (np.isfinite(side).all() and (step >= 0).all() and (mean >= 0).all() and (mean <= levels).all()
            and (std >= np.float32(_MIN_STD)).all()):
        raise CorruptStreamError("learned-codec payload has damaged latent side information (step, mean or std)")
    words = np.frombuffer(data, dtype="<u4", offset=pos + side_len).astype(np.uint32)
    decoder = constriction.stream.queue.RangeDecoder(words)
    symbols = np.empty((tiles, c, positions), dtype=np.int32)
    for ch in range(c):
        model = constriction.stream.model.QuantizedGaussian(0, levels, float(side[ch, 2]), float(side[ch, 3]))
        symbols[:, ch, :] = np.asarray(decoder.decode(model, tiles * positions), dtype=np.int32).reshape(
            tiles, positions
        )
    if not decoder.maybe_exhausted():  # a forged geometry or appended words leave data unread
        raise CorruptStreamError(
            f"the latent stream holds more data than {tiles} tile(s) of {c} x {positions} values use "
            "(forged geometry, or a truncated or extended stream)"
        )
    return QuantisedLatent(symbols, side[:, 0].copy(), side[:, 1].copy(), int(bits))
