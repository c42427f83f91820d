"""asv benchmarks of every registered codec at its default parameters on two fixed cubes.

Codecs come from the registry (:func:`hsbench.codecs.registry.codec_names`), so a
new built-in or plug-in codec is benchmarked without editing this file. Cubes:
``rgb8`` (scikit-image's astronaut, 3 x 256 x 256, 8 bit) and ``hsi16`` (a
deterministic 32 x 128 x 128 16-bit cube, :func:`benchmarks.bench_classical.hsi16`).
A codec that is unavailable here, cannot code a cube or needs driver-side set-up
(a trained model: learned codecs have their own benchmarks) is skipped
(``NotImplementedError`` in ``setup``); any other error fails the benchmark.
"""

from __future__ import annotations

from hsbench.codecs.registry import codec_names, create_codec
from hsbench.cube import Cube
from hsbench.errors import CodecUnavailableError, UnsupportedCubeError

from .bench_classical import astronaut, hsi16


def rgb8() -> Cube:
    """astronaut's central 256 x 256 crop, (3, 256, 256) uint8."""
    full = astronaut()
    return full.with_data(full.data[:, 128:384, 128:384].copy())


CUBES = {"rgb8": rgb8, "hsi16": lambda: hsi16(bands=32, side=128)}


def _codecs() -> list[str]:
    """Every codec the registry knows (built-in and plug-ins)."""
    return codec_names()


def build(codec: str, cube: str) -> tuple[object, Cube, bytes]:
    """The codec at its defaults, the cube and one stream; NotImplementedError when it does not apply."""
    from hsbench.codecs.registry import get_codec
    from hsbench.codecs.learned.models import is_model_codec

    data = CUBES[cube]()
    try:
        cls = get_codec(codec)
        if is_model_codec(cls):
            # needs a trained model found by the planner: benchmarked by its own suite (bench_learned)
            raise NotImplementedError(f"{codec} needs a prepared model")
        instance = create_codec(codec)
        stream = instance.encode(data)
    except (CodecUnavailableError, UnsupportedCubeError) as exc:
        raise NotImplementedError(str(exc)) from exc
    return instance, data, stream


class CodecSpeed:
    """Encode / decode time and peak memory of each codec (default parameters) on each cube."""

    params = (_codecs(), list(CUBES))
    param_names = ("codec", "cube")
    timeout = 300
    number = 1
    repeat = (1, 3, 20.0)

    def setup(self, codec: str, cube: str) -> None:
        self.codec, self.cube, self.stream = build(codec, cube)

    def time_encode(self, codec: str, cube: str) -> None:
        self.codec.encode(self.cube)

    def time_decode(self, codec: str, cube: str) -> None:
        self.codec.decode(self.stream)

    def peakmem_encode_decode(self, codec: str, cube: str) -> None:
        self.codec.decode(self.codec.encode(self.cube))

    def track_bpppc(self, codec: str, cube: str) -> float:
        """Rate of the default operating point (real bitstream, bits per pixel per channel)."""
        return 8 * len(self.stream) / self.cube.num_samples

    track_bpppc.unit = "bpppc"  # type: ignore[attr-defined]
