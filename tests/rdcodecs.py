"""Small real codecs with a rate knob, for the tests of target-rate sweeps, reports and exports.

``testquant`` quantises every sample with a uniform step and deflates the indices
(zlib): a genuine lossy codec whose rate falls as the step grows (error <= step / 2).
``testquant-discrete`` is the same coder restricted to a few "trained" steps, like
a learned codec with one model per rate. They are registered in the test process
with :func:`hsbench.codecs.registry.register`.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

from hsbench.codecs.base import Codec, Kind, Knob
from hsbench.codecs.registry import register


@register
class QuantCodec(Codec):
    name = "testquant"
    kind = Kind.LOSSY
    knob = Knob("step", 1.0, 4096.0, increases_rate=False, default_points=(2.0, 8.0, 32.0), log_scale=True)
    params = {"step": 8.0}
    description = "test: uniform quantiser + zlib"

    def encode_payload(self, cube):
        step = float(self.config["step"])
        q = np.rint(cube.data.astype(np.float32) / step).astype(np.int16)
        return struct.pack("<d", step) + zlib.compress(q.tobytes(), 6)

    def decode_payload(self, payload, header):
        (step,) = struct.unpack("<d", bytes(payload[:8]))
        q = np.frombuffer(zlib.decompress(bytes(payload[8:])), dtype=np.int16).reshape(header.shape)
        hi = (1 << header.bit_depth) - 1
        return np.clip(np.rint(q * step), 0, hi).astype(header.dtype)

    def max_error(self, cube):
        return float(self.config["step"]) / 2 + 0.5


@register
class DiscreteQuantCodec(QuantCodec):
    name = "testquant-discrete"
    knob = Knob("step", 1.0, 4096.0, increases_rate=False, default_points=(4.0, 16.0, 64.0, 256.0), discrete=True)
    params = {"step": 16.0}
    description = "test: quantiser with a few 'trained' steps"


@register
class FixedQuantCodec(QuantCodec):
    name = "testquant-fixed"
    knob = None
    params = {"step": 8.0}
    description = "test: quantiser with no rate knob"


def smooth_cube(bands: int = 4, size: int = 48, bit_depth: int = 12, seed: int = 0):
    """A deterministic smooth cube with some texture (so rates vary smoothly with the step)."""
    from hsbench.cube import Cube

    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    base = np.sin(6 * x) * np.cos(4 * y)
    peak = (1 << bit_depth) - 1
    data = np.stack([(0.5 + 0.4 * base * (1 + 0.1 * b)) * peak for b in range(bands)])
    data = data + rng.normal(0, peak * 0.01, data.shape)
    return Cube(np.clip(np.rint(data), 0, peak).astype(np.uint16), bit_depth=bit_depth, name=f"smooth{seed}")
