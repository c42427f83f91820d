"""The decoding contract of ``Codec.decode``: stream errors only, bugs surface, bounded geometry."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from hsbench.codecs import container
from hsbench.codecs.base import Codec, Kind
from hsbench.codecs.registry import create_codec
from hsbench.cube import Cube
from hsbench.errors import CorruptStreamError, UnsupportedCubeError


class _Raw(Codec):
    """Samples verbatim; ``mode`` selects a deliberate defect of the decoder."""

    name = "contract-raw"
    kind = Kind.LOSSLESS
    params = {"mode": "ok"}
    max_samples_per_byte = 1.0

    def encode_payload(self, cube: Cube) -> bytes:
        return np.ascontiguousarray(cube.data).tobytes()

    def decode_payload(self, payload, header):
        mode = self.config["mode"]
        if mode == "bug":
            return [][1]  # an IndexError: a bug in the codec, not a damaged stream
        if mode == "panic":
            import constriction

            model = constriction.stream.model.QuantizedGaussian(0, 3, 1.0, -1.0)  # a std read from a bad stream
            constriction.stream.queue.RangeDecoder(np.array([1, 2], np.uint32)).decode(model, 4)
        if mode == "wrong-depth":
            return np.full(header.shape, 4095, header.dtype)
        return np.frombuffer(payload, dtype=header.dtype).reshape(header.shape)


def _cube() -> Cube:
    return Cube(np.arange(24, dtype=np.uint8).reshape(2, 3, 4), bit_depth=8)


def test_a_decoder_bug_surfaces_as_itself():
    data = _Raw().encode(_cube())
    with pytest.raises(IndexError):
        _Raw(mode="bug").decode(data)


def test_a_rust_panic_of_the_entropy_decoder_is_a_corrupt_stream():
    pytest.importorskip("constriction")
    data = _Raw().encode(_cube())
    with pytest.raises(CorruptStreamError, match="entropy decoder.*std"):
        _Raw(mode="panic").decode(data)


def test_decoded_samples_outside_the_framed_bit_depth_are_a_corrupt_stream():
    header, payload = container.unpack(_Raw().encode(_cube()))
    data = container.pack(replace(header, dtype=np.dtype(np.uint16), bit_depth=3), bytes(payload) * 2)
    with pytest.raises(CorruptStreamError, match="invalid cube.*3-bit"):
        _Raw(mode="wrong-depth").decode(data)


def test_geometry_is_bounded_by_the_payload_before_decoding():
    header, payload = container.unpack(_Raw().encode(_cube()))
    forged = container.pack(replace(header, shape=(2, 3, 5)), bytes(payload))
    with pytest.raises(CorruptStreamError, match="30 samples but the payload has only 24 bytes"):
        _Raw(mode="bug").decode(forged)  # refused before decode_payload runs


def test_the_encoder_never_writes_a_stream_its_decoder_would_refuse():
    class Tiny(_Raw):
        def encode_payload(self, cube: Cube) -> bytes:
            return b"\0"  # one byte for 24 samples, beyond max_samples_per_byte = 1

    with pytest.raises(UnsupportedCubeError, match="at most 1 samples per payload byte"):
        Tiny().encode(_cube())


@pytest.mark.parametrize("name", ["jpeg", "jpeg2000"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_constant_float_image_round_trips(name, dtype):
    cube = Cube(np.full((3, 9, 11), 0.37, dtype))
    assert cube.value_range == (float(dtype(0.37)),) * 2
    codec = create_codec(name)
    out = codec.decode(codec.encode(cube))
    assert out.value_range == cube.value_range
    assert np.array_equal(out.data, cube.data)


def test_latent_symbols_never_cost_less_than_the_learned_bound_assumes():
    """The learned codecs' geometry bound rests on MIN_SYMBOL_BITS: check it against constriction itself."""
    constriction = pytest.importorskip("constriction")
    from hsbench.codecs.learned.latent import MIN_SYMBOL_BITS, _MIN_STD

    assert MIN_SYMBOL_BITS == pytest.approx(0.0672, abs=1e-4)
    n = 200_000
    encoder = constriction.stream.queue.RangeEncoder()
    model = constriction.stream.model.QuantizedGaussian(0, 255, 100.0, _MIN_STD)
    encoder.encode(np.full(n, 100, np.int32), model)  # the likeliest symbol, every time: the cheapest stream
    assert 32 * encoder.get_compressed().size >= n * MIN_SYMBOL_BITS


def test_learned_decoder_refuses_a_forged_geometry_before_decoding(tmp_path):
    pytest.importorskip("torch")
    from hsbench.codecs.learned import checkpoint as ckpt_io
    from hsbench.codecs.learned.sscnet import SSCNetCodec
    from hsbench.codecs.learned.train import train_codec

    def cube(seed: int) -> Cube:
        rng = np.random.default_rng(seed)
        return Cube(rng.integers(0, 4096, (4, 32, 32)).astype(np.uint16), bit_depth=12, name=f"c{seed}")

    arch = {"bands": 4, "tile": 16, "width": 4, "latent": 4}
    ckpt = train_codec(SSCNetCodec, arch, [cube(1), cube(2)], train_spec="t", epochs=1, batch=4, seed=0,
                       device="cpu", progress=False)
    ckpt_io.save_checkpoint(ckpt, tmp_path / "m.pt")
    codec = create_codec("sscnet", checkpoint=str(tmp_path / "m.pt"), device="cpu")
    header, payload = container.unpack(codec.encode(cube(3)))
    # 4 x 16 x 16 samples per tile, 4 x 2 x 2 latent symbols: 64 samples per symbol, 64 * 119 per byte
    assert codec.max_samples_per_byte == pytest.approx(64 * 8 / 0.0672, rel=1e-3)
    forged = container.pack(replace(header, shape=(4, 65535, 65535)), bytes(payload))  # 256 GiB of float32
    with pytest.raises(CorruptStreamError, match="samples per payload byte"):
        codec.decode(forged)
