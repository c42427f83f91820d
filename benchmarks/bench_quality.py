"""asv ``track_`` benchmarks of rate-distortion quality, so RD regressions show up like speed ones.

For every codec with a rate knob, the knob is searched for a compression ratio of
16 (:func:`hsbench.ratecontrol.search_rate`, 2 % tolerance) on two fixed cubes made
from embedded data (:mod:`benchmarks.bench_codecs`), and the PSNR (peak ``2^D - 1``)
and SAM at that rate are tracked, with the ratio actually reached.
"""

from __future__ import annotations

from hsbench.codecs.registry import create_codec, get_codec
from hsbench.ratecontrol import RateTarget, has_discrete_knob, search_rate

from .bench_codecs import CUBES, _codecs

TARGET_CR = 16.0


def _quality_at_cr16(codec: str, cube: str) -> dict[str, float] | str:
    """The reached ratio, PSNR and SAM of ``codec`` on ``cube`` at CR 16, or why it does not apply."""
    from hsbench import metrics
    from hsbench.errors import CodecUnavailableError, UnsupportedCubeError

    data = CUBES[cube]()
    try:
        cls = get_codec(codec)
        cls.check_available()
        if cls.knob is None or has_discrete_knob(cls):
            return f"{codec} has no continuous rate knob (or needs a trained model per rate)"
        res = search_rate(cls, {}, data, RateTarget("cr", TARGET_CR), make=lambda **p: create_codec(codec, **p))
        instance = create_codec(codec, **res.params)
        stream = instance.encode(data)
    except (CodecUnavailableError, UnsupportedCubeError) as exc:
        return str(exc)
    scores = metrics.evaluate(data, instance.decode(stream))
    return {"cr": data.nominal_bytes / len(stream), "psnr": float(scores["psnr"]), "sam_deg": float(scores["sam_deg"])}


class QualityAtCR16:
    """PSNR / SAM / reached CR of each codec at a target compression ratio of 16.

    The rate searches run once for all three ``track_`` benchmarks (``setup_cache``);
    a codec without a continuous knob, unavailable here or unable to code a cube is
    skipped (``NotImplementedError`` in ``setup``).
    """

    params = (_codecs(), list(CUBES))
    param_names = ("codec", "cube")
    timeout = 600
    number = 1
    repeat = 1

    def setup_cache(self) -> dict[str, dict[str, float] | str]:
        return {f"{codec}/{cube}": _quality_at_cr16(codec, cube) for codec in self.params[0] for cube in self.params[1]}

    setup_cache.timeout = 1800  # type: ignore[attr-defined]

    def setup(self, results: dict, codec: str, cube: str) -> None:
        found = results[f"{codec}/{cube}"]
        if isinstance(found, str):
            raise NotImplementedError(found)
        self.found = found

    def track_psnr(self, results: dict, codec: str, cube: str) -> float:
        return self.found["psnr"]

    track_psnr.unit = "dB"  # type: ignore[attr-defined]

    def track_sam_deg(self, results: dict, codec: str, cube: str) -> float:
        return self.found["sam_deg"]

    track_sam_deg.unit = "deg"  # type: ignore[attr-defined]

    def track_reached_cr(self, results: dict, codec: str, cube: str) -> float:
        return self.found["cr"]

    track_reached_cr.unit = "ratio"  # type: ignore[attr-defined]
