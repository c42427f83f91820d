"""asv benchmarks of the embedded datasets: synthetic hyperspectral scene generation."""

from __future__ import annotations

from hsbench.datasets.spectral_library import earthlib_library
from hsbench.datasets.synthetic import SCENES, synthesize


class SyntheticSceneGeneration:
    """Generating one synthetic-hsi scene from scratch (uncached); target < 1 s."""

    params = list(SCENES)
    param_names = ["scene"]
    timeout = 120

    def setup(self, scene: str) -> None:
        earthlib_library()  # read once, as in a process that generates several scenes
        self.spec = SCENES[scene]

    def time_synthesize(self, scene: str) -> None:
        synthesize(self.spec)

    def peakmem_synthesize(self, scene: str) -> None:
        synthesize(self.spec)

    def track_megasamples(self, scene: str) -> float:
        spec = self.spec
        return 180 * spec.rows * spec.cols / 1e6

    track_megasamples.unit = "Msamples"  # type: ignore[attr-defined]


class SpectralLibraryRead:
    """Reading earthlib's spectral library (7,261 x 180 float32) and its class table."""

    timeout = 60

    def time_read(self) -> None:
        earthlib_library.cache_clear()
        earthlib_library()
