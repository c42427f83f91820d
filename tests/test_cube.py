import numpy as np
import pytest

from hsbench.cube import Cube, integer_range
from hsbench.errors import InvalidCubeError


def test_integer_cube_defaults_and_properties():
    cube = Cube(np.zeros((3, 4, 5), np.uint16) + 4095, bit_depth=12, name="x")
    assert cube.shape == (3, 4, 5)
    assert cube.peak == 4095
    assert cube.nominal_bytes == 3 * 4 * 5 * 12 / 8
    assert cube.value_range == (0.0, 4095.0)
    assert not cube.signed and not cube.is_float
    assert Cube(np.zeros((1, 2, 2), np.uint8)).bit_depth == 8


def test_signed_range():
    assert integer_range(16, True) == (-32768, 32767)
    Cube(np.full((1, 1, 2), -2048, np.int16), bit_depth=12)
    with pytest.raises(InvalidCubeError, match="outside the 12-bit signed range"):
        Cube(np.full((1, 1, 2), -2049, np.int16), bit_depth=12)


def test_two_dimensional_array_is_refused_with_hint():
    with pytest.raises(InvalidCubeError, match=r"expected a 3-D array .* array\[np.newaxis\]"):
        Cube(np.zeros((4, 4), np.uint8))


def test_nan_in_float_data_is_refused_with_position():
    data = np.zeros((2, 3, 3), np.float32)
    data[1, 2, 0] = np.nan
    with pytest.raises(InvalidCubeError, match=r"1 NaN / Inf samples, first at .* \(1, 2, 0\)"):
        Cube(data)


def test_values_beyond_bit_depth_are_refused():
    with pytest.raises(InvalidCubeError, match="outside the 12-bit unsigned range"):
        Cube(np.full((1, 2, 2), 4096, np.uint16), bit_depth=12)
    with pytest.raises(InvalidCubeError, match="does not fit dtype"):
        Cube(np.zeros((1, 2, 2), np.uint8), bit_depth=12)


def test_unsupported_dtype_and_empty():
    with pytest.raises(InvalidCubeError, match="unsupported dtype"):
        Cube(np.zeros((1, 2, 2), np.complex64))
    with pytest.raises(InvalidCubeError, match="empty"):
        Cube(np.zeros((0, 2, 2), np.uint8))


def test_float_cube_value_range():
    data = np.linspace(0, 0.5, 8, dtype=np.float32).reshape(2, 2, 2)
    assert Cube(data).peak == pytest.approx(0.5)
    assert Cube(data, value_range=(0, 1)).peak == 1.0
    with pytest.raises(InvalidCubeError, match="high > low"):
        Cube(data, value_range=(1, 1))


def test_from_hwc_and_wavelengths():
    rgb = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    cube = Cube.from_hwc(rgb)
    assert cube.shape == (3, 2, 3)
    np.testing.assert_array_equal(cube.data[1], rgb[..., 1])
    with pytest.raises(InvalidCubeError, match="2 wavelengths for 3 bands"):
        Cube(cube.data, wavelengths=(400.0, 500.0))


def test_sha256_depends_on_samples_and_bit_depth():
    a = Cube(np.zeros((1, 2, 2), np.uint16), bit_depth=12)
    b = Cube(np.zeros((1, 2, 2), np.uint16), bit_depth=16)
    c = Cube(np.ones((1, 2, 2), np.uint16), bit_depth=12)
    assert len({a.sha256(), b.sha256(), c.sha256()}) == 3
    assert a.sha256() == Cube(np.zeros((1, 2, 2), np.uint16), bit_depth=12).sha256()
