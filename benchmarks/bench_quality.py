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


class QualityAtCR16:
    """PSNR / SAM / reached CR of each codec at a target compression ratio of 16."""

    params = (_codecs(), list(CUBES))
    param_names = ("codec", "cube")
    timeout = 600
    number = 1
    repeat = 1

    def setup(self, codec: str, cube: str) -> None:
        from hsbench import metrics
        from hsbench.errors import CodecUnavailableError, UnsupportedCubeError

        data = CUBES[cube]()
        try:
            cls = get_codec(codec)
            cls.check_available()
            if cls.knob is None or has_discrete_knob(cls):
                raise NotImplementedError(f"{codec} has no continuous rate knob (or needs a trained model per rate)")
            res = search_rate(cls, {}, data, RateTarget("cr", TARGET_CR),
                              make=lambda **p: create_codec(codec, **p))
            instance = create_codec(codec, **res.params)
            stream = instance.encode(data)
        except (CodecUnavailableError, UnsupportedCubeError) as exc:
            raise NotImplementedError(str(exc)) from exc
        self.cr = data.nominal_bytes / len(stream)
        self.scores = metrics.evaluate(data, instance.decode(stream))

    def track_psnr(self, codec: str, cube: str) -> float:
        return float(self.scores["psnr"])

    track_psnr.unit = "dB"  # type: ignore[attr-defined]

    def track_sam_deg(self, codec: str, cube: str) -> float:
        return float(self.scores["sam_deg"])

    track_sam_deg.unit = "deg"  # type: ignore[attr-defined]

    def track_reached_cr(self, codec: str, cube: str) -> float:
        return float(self.cr)

    track_reached_cr.unit = "ratio"  # type: ignore[attr-defined]
