"""A third-party codec package used by the tests (installed through an entry point).

``testraw`` stores the samples verbatim (a real, if useless, lossless codec) and
can be told to fail, crash its process or sleep (on every image, or with
``sleep_on`` on one), so the tests can exercise failure isolation, worker death,
timeouts and resume.
"""

from __future__ import annotations

import os
import time

import numpy as np

from hsbench.codecs.base import Codec, Kind, Knob
from hsbench.errors import CorruptStreamError


class TestRawCodec(Codec):
    name = "testraw"
    kind = Kind.LOSSLESS
    knob = Knob("level", 0, 9, increases_rate=False, default_points=(1, 2), integer=True)
    params = {"level": 1, "fail_on": None, "crash_on": None, "sleep": 0.0, "sleep_on": None}
    description = "test plugin: raw samples"
    max_samples_per_byte = 1.0  # one byte or more per sample, verbatim

    def encode_payload(self, cube):
        name = cube.name
        if self.config["fail_on"] and name == self.config["fail_on"]:
            raise ValueError(f"testraw was told to fail on {name}")
        if self.config["crash_on"] and name == self.config["crash_on"]:
            os._exit(3)
        if self.config["sleep"] and self.config["sleep_on"] in (None, name):
            time.sleep(float(self.config["sleep"]))
        return np.ascontiguousarray(cube.data).tobytes()

    def decode_payload(self, payload, header):
        if len(payload) != header.dtype.itemsize * int(np.prod(header.shape)):
            raise CorruptStreamError(f"testraw: {len(payload)} payload bytes do not hold a {header.shape} {header.dtype} cube")
        return np.frombuffer(payload, dtype=header.dtype).reshape(header.shape)
