"""Embedded datasets that need no download.

``samples``: real 8-bit photographs that ship with scikit-image (``skimage.data``),
loaded offline. They are the default data of ``hsbench run`` and the training
images of the quick-trained learned codecs when a run evaluates Kodak.

``samples-train``: three other bundled scikit-image photographs (``retina`` and the
two views of ``stereo_motorcycle``), disjoint from ``samples``: the training images
of the quick-trained learned codecs when a run evaluates ``samples``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hsbench.cube import Cube
from hsbench.datasets.base import Dataset, DatasetRef
from hsbench.errors import DatasetError

#: skimage.data loaders of real colour photographs (all 8-bit RGB).
SAMPLE_IMAGES = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "hubble_deep_field")


class _SkimageDataset(Dataset):
    """Bundled ``skimage.data`` colour photographs as ``(3, H, W)`` uint8 cubes.

    ``images`` maps an image id to ``(skimage.data loader, index into its result or None)``.
    """

    images: dict[str, tuple[str, int | None]]
    license: str

    def __init__(self, ref: DatasetRef) -> None:
        self.ref = ref

    def image_ids(self) -> list[str]:
        return list(self.images)

    def load(self, image_id: str) -> Cube:
        if image_id not in self.images:
            raise DatasetError(f"{self.name} has no image {image_id!r}; it has {', '.join(self.images)}")
        import skimage.data

        loader, index = self.images[image_id]
        result = getattr(skimage.data, loader)()
        array = np.asarray(result if index is None else result[index])
        return Cube.from_hwc(array[..., :3], bit_depth=8, name=image_id, meta={"source": f"skimage.data.{loader}"})

    def info(self) -> dict[str, Any]:
        import skimage

        return {
            **super().info(),
            "source": f"scikit-image {skimage.__version__} skimage.data",
            "license": self.license,
        }


class SamplesDataset(_SkimageDataset):
    """scikit-image's bundled colour photographs as ``(3, H, W)`` uint8 cubes."""

    name = "samples"
    train_spec = "samples-train"
    images = {image_id: (image_id, None) for image_id in SAMPLE_IMAGES}
    license = "see scikit-image's data licences (public domain / CC0 / CC-BY images)"


#: bundled skimage colour photographs that are not in SAMPLE_IMAGES: id -> (loader, index into its result)
TRAIN_IMAGES: dict[str, tuple[str, int | None]] = {
    "retina": ("retina", None),
    "motorcycle_left": ("stereo_motorcycle", 0),
    "motorcycle_right": ("stereo_motorcycle", 1),
}


class SamplesTrainDataset(_SkimageDataset):
    """Training photographs for learned codecs evaluated on ``samples`` (disjoint from it), ``(3, H, W)`` uint8."""

    name = "samples-train"
    images = TRAIN_IMAGES
    license = "see scikit-image's data licences"
