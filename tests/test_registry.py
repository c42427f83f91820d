import subprocess
import sys

import numpy as np
import pytest

from hsbench.codecs import registry
from hsbench.codecs.base import Codec, Kind, Knob
from hsbench.cube import Cube
from hsbench.errors import CodecParameterError, CorruptStreamError, HsbenchError


def test_unknown_codec_names_the_known_ones():
    with pytest.raises(HsbenchError, match="unknown codec 'nope'; known codecs: .*jpeg"):
        registry.get_codec("nope")


def test_entry_point_codec_round_trip(plugin):
    assert "testraw" in registry.codec_names()
    cls = registry.get_codec("testraw")
    codec = registry.create_codec("testraw", level=3)
    cube = Cube(np.arange(2 * 3 * 4, dtype=np.uint16).reshape(2, 3, 4), bit_depth=12, name="a")
    stream = codec.encode(cube)
    out = codec.decode(stream)
    np.testing.assert_array_equal(out.data, cube.data)
    assert out.bit_depth == 12
    assert cls.kind is Kind.LOSSLESS
    info = {i.name: i for i in registry.describe_codecs()}["testraw"]
    assert info.available and info.kind == "lossless" and info.knob.startswith("level [0..9]")


def test_parameters_are_validated(plugin):
    with pytest.raises(CodecParameterError, match="has no parameter 'bogus'; it takes: .*level"):
        registry.create_codec("testraw", bogus=1)
    with pytest.raises(CodecParameterError, match=r"level=12 is outside the allowed range \[0, 9\]"):
        registry.create_codec("testraw", level=12)
    with pytest.raises(CodecParameterError, match="integer"):
        registry.create_codec("testraw", level=1.5)


def test_decode_refuses_other_codecs_stream(plugin):
    @registry.register
    class Other(Codec):
        name = "other-test"
        kind = Kind.LOSSLESS
        knob = Knob("x", 0, 1, True, (0,))
        params = {"x": 0}

        def encode_payload(self, cube):
            return b""

        def decode_payload(self, payload, header):
            return np.zeros(header.shape, header.dtype)

    cube = Cube(np.zeros((1, 2, 2), np.uint8))
    stream = registry.create_codec("testraw").encode(cube)
    with pytest.raises(CorruptStreamError, match="written by codec 'testraw', not 'other-test'"):
        Other().decode(stream)
    registry._registered.pop("other-test")


def test_codecs_listing_is_fast_and_imports_no_heavy_library():
    code = (
        "import sys, time; t=time.time(); from hsbench.cli import main; main(['codecs']);"
        "heavy=[m for m in ('torch','numba','dask','matplotlib') if m in sys.modules];"
        "print('HEAVY', heavy, time.time()-t)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    line = [l for l in out.splitlines() if l.startswith("HEAVY")][0]
    assert "[]" in line, line
