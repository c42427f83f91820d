"""Check the classical codecs against published Kodak figures (a script, not an asv benchmark).

Usage::

    PYTHONPATH=. python benchmarks/kodak_classical.py [--data-root ../shared/datasets] [--codec jpeg]

(the data root defaults to ``$HSBENCH_DATA``, else ``../shared/datasets``)

For every knob value of the codec's default sweep it codes the 24 Kodak images
and prints the mean rate in bits per pixel (``8 * bytes / (H * W)``, hsbench
framing included) and the mean over images of the RGB PSNR (MSE over all
channels, peak 255), the convention of published Kodak tables. For ``jpeg`` it
also prints the published Pillow-JPEG Kodak figures of CompressAI
(``results/image/kodak/jpeg.json``, "JPEG. Pillow version 7.1.2", qualities
5..95 in steps of 5, 4:2:0) next to ours.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from hsbench.codecs import create_codec, get_codec
from hsbench.datasets import open_dataset


#: CompressAI's published Pillow JPEG on Kodak: quality -> (mean bpp, mean RGB PSNR dB).
#: InterDigitalInc/CompressAI, results/image/kodak/jpeg.json (Pillow 7.1.2).
PUBLISHED_PILLOW_JPEG = {
    10: (0.3266, 26.577),
    20: (0.5084, 29.042),
    30: (0.6601, 30.378),
    40: (0.7860, 31.308),
    50: (0.9060, 32.059),
    60: (1.0372, 32.790),
    70: (1.2398, 33.793),
    80: (1.5718, 35.239),
    90: (2.3502, 37.912),
    95: (3.4013, 40.557),
}


def rgb_psnr(reference: np.ndarray, decoded: np.ndarray) -> float:
    """PSNR with peak 255 over all channels: ``10 log10(255**2 / MSE)``."""
    mse = np.mean((reference.astype(np.float64) - decoded.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / mse))


def main() -> None:
    """Print the Markdown table of mean bpp / PSNR per knob value."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", default=os.environ.get("HSBENCH_DATA", "../shared/datasets"))
    parser.add_argument("--codec", default="jpeg")
    args = parser.parse_args()
    dataset = open_dataset("kodak", args.data_root)
    cubes = [dataset.load(i) for i in dataset.image_ids()]
    knob = get_codec(args.codec).knob
    reference = PUBLISHED_PILLOW_JPEG if args.codec == "jpeg" else {}
    extra = " published bpp | published PSNR |" if reference else ""
    print(f"| {knob.name} | mean bpp | mean PSNR (dB) | encode MB/s | decode MB/s |{extra}")
    print("|---:|---:|---:|---:|---:|" + ("---:|---:|" if reference else ""))
    for params in get_codec(args.codec).sweep():
        codec = create_codec(args.codec, **params)
        bpp, psnr, t_enc, t_dec, raw = [], [], 0.0, 0.0, 0.0
        for cube in cubes:
            start = time.perf_counter()
            stream = codec.encode(cube)
            t_enc += time.perf_counter() - start
            start = time.perf_counter()
            decoded = codec.decode(stream)
            t_dec += time.perf_counter() - start
            raw += cube.nominal_bytes
            bpp.append(8 * len(stream) / (cube.rows * cube.cols))
            psnr.append(rgb_psnr(cube.data, decoded.data))
        published = reference.get(params[knob.name])
        tail = f" {published[0]:.3f} | {published[1]:.2f} |" if published else (" | |" if reference else "")
        print(
            f"| {params[knob.name]:g} | {np.mean(bpp):.3f} | {np.mean(psnr):.2f} | "
            f"{raw / 1e6 / t_enc:.1f} | {raw / 1e6 / t_dec:.1f} |{tail}"
        )


if __name__ == "__main__":
    main()
