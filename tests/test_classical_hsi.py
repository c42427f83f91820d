"""Both classical codecs on a real 224-band float cube (simulated Indian Pines), when it is present."""

from __future__ import annotations

import numpy as np
import pytest

from hsbench.codecs import create_codec
from hsbench.cube import Cube



@pytest.fixture(scope="module")
def indian(indian_pines_mat) -> Cube:
    scipy_io = pytest.importorskip("scipy.io")
    array = scipy_io.loadmat(indian_pines_mat)["simu_indian"]  # (rows, cols, bands) float64 reflectance
    return Cube.from_hwc(array[:, :, ::4], name="simu_indian")  # every 4th band: 56 bands, keeps the test quick


@pytest.mark.parametrize("codec_name,params,min_psnr", [("jpeg", {"quality": 90}, 35.0),
                                                         ("jpeg2000", {"ratio": 8}, 45.0)])
def test_float_hyperspectral_round_trip(indian, codec_name, params, min_psnr):
    codec = create_codec(codec_name, **params)
    stream = codec.encode(indian)
    out = codec.decode(stream)
    assert out.shape == indian.shape and out.dtype == np.float64
    mse = np.mean((out.data - indian.data) ** 2)
    psnr = 10 * np.log10(indian.peak**2 / mse)
    assert psnr > min_psnr
    assert len(stream) < indian.data.nbytes / 8  # float64 input: any real coding is far smaller
    assert codec.row_columns(indian)["rescaled_bits"] in ("float64->8", "float64->16")
