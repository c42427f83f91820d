"""Tests of the CCSDS 123.0-B-2 codec: round trips, error bounds, hand-checked cases, header, damage."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hsbench.codecs.ccsds123 import Ccsds123Codec, Ccsds123Header, compress, decompress, error_bound
from hsbench.codecs.ccsds123.codec import _run_predictor
from hsbench.codecs.ccsds123.header import LOCAL_SUMS, pack_header, unpack_header
from hsbench.codecs.registry import create_codec
from hsbench.cube import Cube, integer_range
from hsbench.errors import CodecParameterError, CorruptStreamError, UnsupportedCubeError

from conftest import INDIAN_PINES, require_data



def _random_cube(rng: np.random.Generator, shape, bits: int, signed: bool, smooth: bool = False) -> Cube:
    lo, hi = integer_range(bits, signed)
    if smooth:
        b, h, w = shape
        yy, xx = np.mgrid[0:h, 0:w]
        base = np.sin(xx / 5.0) + np.cos(yy / 7.0)
        spec = np.linspace(0.6, 1.0, b)[:, None, None]
        x = (base[None] * spec + 2) / 4 * (hi - lo) + lo + rng.normal(0, 1.5, shape)
        data = np.clip(np.rint(x), lo, hi)
    else:
        data = rng.integers(lo, hi + 1, size=shape)
    if signed:
        dtype = np.int8 if bits <= 8 else np.int16
    else:
        dtype = np.uint8 if bits <= 8 else np.uint16
    return Cube(data.astype(dtype), bit_depth=bits)


def _roundtrip(cube: Cube, **params) -> tuple[np.ndarray, bytes, Ccsds123Codec]:
    codec = create_codec("ccsds123", **params)
    data = codec.encode(cube)
    out = codec.decode(data)
    assert out.shape == cube.shape and out.dtype == cube.dtype
    return out.data, data, codec  # type: ignore[return-value]


def _err(a: np.ndarray, b: np.ndarray) -> int:
    return int(np.abs(a.astype(np.int64) - b.astype(np.int64)).max())


# --- an independent, plain-Python transcription of the predictor (CCSDS 123.0-B-2 section 4) -------
def _reference_deltas(s: np.ndarray, h: Ccsds123Header) -> np.ndarray:
    """Mapped quantizer indices by the standard's equations, with whole-image arrays and no tricks."""
    nz, ny, nx = s.shape
    d = h.dynamic_range
    smin, smax = integer_range(d, h.signed)
    smid = 0 if h.signed else 1 << (d - 1)
    om, p = h.omega, h.prediction_bands
    rep = np.zeros(s.shape, dtype=object)
    sig = np.zeros(s.shape, dtype=object)
    out = np.zeros(s.shape, dtype=np.int64)

    def clip(v, a, b):
        return max(a, min(b, v))

    for z in range(nz):
        ps = min(z, p)
        weights = ([0, 0, 0] if h.full_mode else []) + [0] * ps
        off = 3 if h.full_mode else 0
        if ps:
            weights[off] = (7 * 2**om) // 8
            for i in range(1, ps):
                weights[off + i] = weights[off + i - 1] // 8
        for t in range(nx * ny):
            y, x = divmod(t, nx)
            r = rep[z]
            if t == 0:
                st_ = 2 * int(s[z - 1, 0, 0]) if (p > 0 and z > 0) else 2 * smid
                sh = st_ // 2
                m = 0
                q = int(s[z, 0, 0]) - sh
            else:
                ls = h.local_sum
                if y == 0:
                    if ls in (0, 2):
                        sg = 4 * r[0, x - 1]
                    else:
                        sg = 4 * rep[z - 1, 0, x - 1] if z > 0 else 4 * smid
                elif ls >= 2:
                    sg = 4 * r[y - 1, x]
                elif x == 0:
                    sg = 2 * (r[y - 1, 0] + r[y - 1, 1])
                elif x == nx - 1:
                    sg = (r[y, x - 1] + r[y - 1, x - 1] + 2 * r[y - 1, x]) if ls == 0 else 2 * (r[y - 1, x - 1] + r[y - 1, x])
                else:
                    sg = (r[y, x - 1] + r[y - 1, x - 1] + r[y - 1, x] + r[y - 1, x + 1]) if ls == 0 else (
                        r[y - 1, x - 1] + 2 * r[y - 1, x] + r[y - 1, x + 1])
                sig[z, y, x] = sg
                u = []
                if h.full_mode:
                    if y == 0:
                        u += [0, 0, 0]
                    elif x == 0:
                        u += [4 * r[y - 1, 0] - sg] * 3
                    else:
                        u += [4 * r[y - 1, x] - sg, 4 * r[y, x - 1] - sg, 4 * r[y - 1, x - 1] - sg]
                u += [4 * rep[z - i, y, x] - sig[z - i, y, x] for i in range(1, ps + 1)]
                dhat = sum(a * b for a, b in zip(weights, u))
                v = dhat + 2**om * (sg - 4 * smid)
                if h.register_size < 64:
                    v = ((v + 2 ** (h.register_size - 1)) % 2**h.register_size) - 2 ** (h.register_size - 1)
                sb = clip(v + 2 ** (om + 2) * smid + 2 ** (om + 1), 2 ** (om + 2) * smin, 2 ** (om + 2) * smax + 2 ** (om + 1))
                st_ = sb // 2 ** (om + 1)
                sh = st_ // 2
                ms = []
                if h.absolute_limit is not None:
                    ms.append(h.absolute_limit)
                if h.relative_limit is not None:
                    ms.append(h.relative_limit * abs(sh) // 2**d)
                m = min(ms) if ms else 0
                delta = int(s[z, y, x]) - sh
                q = (1 if delta > 0 else -1 if delta < 0 else 0) * ((abs(delta) + m) // (2 * m + 1))
            theta = min((sh - smin + m) // (2 * m + 1), (smax - sh + m) // (2 * m + 1))
            if abs(q) > theta:
                out[z, y, x] = abs(q) + theta
            elif 0 <= (-1) ** st_ * q <= theta:
                out[z, y, x] = 2 * abs(q)
            else:
                out[z, y, x] = 2 * abs(q) - 1
            sp = clip(sh + q * (2 * m + 1), smin, smax)
            if t == 0:
                rep[z, 0, 0] = int(s[z, 0, 0])
                continue
            th, phi, psi = h.representative_resolution, h.damping, h.offset
            sgq = (q > 0) - (q < 0)
            bar = (4 * (2**th - phi) * (sp * 2**om - sgq * m * psi * 2 ** (om - th)) + phi * sb - phi * 2 ** (om + 1)) // 2 ** (om + th + 1)
            rep[z, y, x] = (bar + 1) // 2
            e = 2 * sp - st_
            rho = clip(h.nu_min + (t - nx) // 2**h.t_inc_log2, h.nu_min, h.nu_max) + d - om
            wlim = 2 ** (om + 2)
            for i in range(len(weights)):
                step = (1 if e >= 0 else -1) * u[i]
                inc = (step * 2 ** (-rho) + 1) if rho <= 0 else None
                inc = inc // 2 if inc is not None else (step + 2**rho) // 2 ** (rho + 1)
                weights[i] = clip(weights[i] + inc, -wlim, wlim - 1)
    return out


def _kernel_deltas(s: np.ndarray, h: Ccsds123Header) -> np.ndarray:
    from hsbench.codecs.ccsds123.predictor import predict

    delta = np.empty(s.shape, dtype=np.uint16)
    _run_predictor(predict, np.ascontiguousarray(s, dtype=np.int16 if h.signed else np.uint16), delta, h, False)
    return delta.astype(np.int64)


# --- hand-checked case -------------------------------------------------------------------------------
HAND_BAND0 = np.array([[10, 12, 11], [13, 15, 14], [9, 10, 20]])
HAND_CUBE = np.stack([HAND_BAND0, HAND_BAND0 + 10]).astype(np.uint16)
HAND_HEADER = Ccsds123Header(
    x_size=3, y_size=3, z_size=2, signed=False, dynamic_range=8, prediction_bands=1,
    full_mode=False, local_sum=LOCAL_SUMS["wide-column"], k_init=0,
)


def test_hand_checked_mapped_residuals_and_codewords():
    """2-band 3 x 3, D = 8, reduced mode, wide column-oriented sums, P = 1, lossless, K = 0.

    Band 0 (reduced mode, z = 0: d^ = 0, so s_tilde = floor(sigma / 2) + 1 with sigma = 4 x
    north, or 4 x west on row 0; s^ = north / west and s_tilde is odd):
      t=0: s_tilde = 2 s_mid = 256, s^ = 128, Delta = 10 - 128 = -118, theta = min(128, 127) = 127,
           (-1)^256 q = -118 < 0  ->  delta = 2*118 - 1 = 235
      t=1: s^ = 10, Delta = 2, s_tilde odd so (-1)^s_tilde q = -2 < 0 -> delta = 3
      t=2: s^ = 12, Delta = -1 -> (-1)(-1) = 1 >= 0 -> delta = 2
      t=3..5: s^ = north = 10, 12, 11, Delta = 3, 3, 3 -> delta = 5, 5, 5
      t=6..8: s^ = 13, 15, 14, Delta = -4, -5, 6 -> delta = 8, 10, 11
    Band 1 = band 0 + 10:
      t=0: s_tilde = 2 s_0(0) = 20, s^ = 10, Delta = 10, theta = 10, (-1)^20 * 10 = 10 -> delta = 20
      t=1: U = [4*12 - 40] = [8], W = floor(7 * 2^19 / 8) = 458752, d^ = 3670016,
           s_tilde = floor((3670016 + 2^19 * 80) / 2^20) + 1 = 43 + 1 = 44, s^ = 22 = s -> delta = 0

    Code lengths, band 0 (Gamma(1) = 2, Sigma(1) = floor(143 * 2 / 128) = 2, gamma* = 6):
      t=0: 8 bits raw (11101011)
      t=1: Gamma 2, Sigma 2, 2*2 > 2 + 0 -> k=0; u = 3: 0001 (4 bits)
      t=2: Gamma 3, Sigma 5, 6 > 5 + 1? no -> k = 1 (3*2 <= 6); 2 -> 01|0 (3 bits)
      t=3: Gamma 4, Sigma 7, lim 8 -> k = 1; 5 -> 001|1 (4)
      t=4: Gamma 5, Sigma 12, lim 13 -> k = 1; 5 -> 001|1 (4)
      t=5: Gamma 6, Sigma 17, lim 19 -> k = 1; 5 -> 001|1 (4)
      t=6: Gamma 7, Sigma 22, lim 24 -> k = 1; 8 -> 00001|0 (6)
      t=7: Gamma 8, Sigma 30, lim 33 -> k = 2; 10 -> 001|10 (5)
      t=8: Gamma 9, Sigma 40, lim 43 -> k = 2; 11 -> 001|11 (5)
    Band 1 starts with 00010100 (20) and codes delta = 0 at t = 1 with k = 0 as "1".
    """
    delta = _kernel_deltas(HAND_CUBE, HAND_HEADER)
    assert delta[0].ravel().tolist() == [235, 3, 2, 5, 5, 5, 8, 10, 11]
    assert delta[1, 0, :2].tolist() == [20, 0]
    stream = compress(HAND_CUBE, HAND_HEADER)
    head = pack_header(HAND_HEADER)
    assert len(head) == 19  # 12 image + 5 predictor + 2 entropy-coder bytes (lossless: no quantizer part)
    bits = "".join(f"{b:08b}" for b in stream[len(head):])
    band0 = "11101011" "0001" "010" "0011" "0011" "0011" "000010" "00110" "00111"
    assert bits.startswith(band0 + "00010100" + "1")
    np.testing.assert_array_equal(decompress(stream)[0], HAND_CUBE)


def test_hand_checked_escape_codeword():
    """1 band, 1 x 2, D = 8, reduced, P = 0, U_max = 8: the second sample takes the escape code.

    t=0: s_tilde = 2 s_mid = 256, s^ = 128, Delta = -128, theta = min(128, 127) = 127,
         |q| = 128 > theta -> delta = 128 + 127 = 255, written in 8 bits: 11111111
    t=1: sigma = 4 * 0, s_tilde = floor(0 / 2) + 1 = 1, s^ = 0, Delta = 200, theta = min(0, 255) = 0,
         |q| > 0 -> delta = 200; Gamma 2, Sigma 2 -> k = 0; u = 200 >= U_max, so
         8 zeros then 200 in 8 bits: 00000000 11001000
    """
    h = Ccsds123Header(x_size=2, y_size=1, z_size=1, signed=False, dynamic_range=8, prediction_bands=0,
                       full_mode=False, u_max=8)
    image = np.array([[[0, 200]]], dtype=np.uint16)
    assert _kernel_deltas(image, h).ravel().tolist() == [255, 200]
    stream = compress(image, h)
    assert stream[len(pack_header(h)):] == bytes([0b11111111, 0b00000000, 0b11001000])
    np.testing.assert_array_equal(decompress(stream)[0], image)


@settings(max_examples=200, deadline=None)
@given(g=st.integers(1, 2**11), acc=st.integers(0, 2**40), dyn=st.integers(2, 16))
def test_code_parameter_definition(g, acc, dyn):
    """k = 0 if 2 Gamma > Sigma + floor(49 Gamma / 2^7), else the largest k <= D-2 with Gamma 2^k <= that."""
    from hsbench.codecs.ccsds123.entropy import _code_param

    lim = acc + (49 * g) // 128
    expected = 0 if 2 * g > lim else max(k for k in range(0, dyn - 1) if g * 2**k <= lim)
    assert _code_param(g, acc, dyn) == expected


def test_header_bytes_of_the_hand_case():
    """The first image-metadata bytes, field by field (CCSDS 123.0-B-2 table 5-2 layout)."""
    head = pack_header(HAND_HEADER)
    assert head[0] == 0  # user data
    assert head[1:7] == bytes([0, 3, 0, 3, 0, 2])  # Nx, Ny, Nz
    # sample type 0, reserved 0, large-D 0, D = 8 (1000), BSQ 1  ->  0001 0001
    assert head[7] == 0b00010001
    assert head[8:10] == b"\x00\x00"  # sub-frame interleaving depth (0 for BSQ)
    assert head[10] == 0b00001000  # reserved 00, word size 1 (001), sample-adaptive 00, reserved 0
    assert head[11] == 0  # lossless, no supplementary tables
    # predictor: reserved 0, no representatives 0, P = 0001, reduced 1, offsets 0, wide column 10, R = 0 (64)
    assert head[12] == 0b00000110 and head[13] == 0b10000000


# --- predictor against the reference transcription ------------------------------------------------
@pytest.mark.parametrize("full,local_sum", list(itertools.product([True, False], range(4))))
@pytest.mark.parametrize("limits", [(None, None), (3, None), (None, 40), (2, 30)])
def test_predictor_matches_reference(full, local_sum, limits):
    rng = np.random.default_rng(local_sum + 4 * full)
    cube = _random_cube(rng, (4, 5, 6), 10, signed=bool(local_sum % 2), smooth=True)
    h = Ccsds123Header(
        x_size=6, y_size=5, z_size=4, signed=cube.signed, dynamic_range=10, prediction_bands=2,
        full_mode=full, local_sum=local_sum, omega=8, register_size=32, t_inc_log2=4, nu_min=-2, nu_max=2,
        absolute_limit=limits[0], relative_limit=limits[1],
        representative_resolution=3 if limits != (None, None) else 0,
        damping=2 if limits != (None, None) else 0, offset=5 if limits != (None, None) else 0,
    )
    np.testing.assert_array_equal(_kernel_deltas(cube.data, h), _reference_deltas(cube.data, h))
    out, hdr = decompress(compress(cube.data, h))
    assert hdr == h
    assert _err(out, cube.data) <= error_bound(h)


# --- round trips -------------------------------------------------------------------------------------
@pytest.mark.parametrize("bits,signed", [(1, False), (1, True), (2, False), (8, False), (8, True),
                                         (12, False), (13, True), (16, False), (16, True)])
@pytest.mark.parametrize("shape", [(1, 1, 1), (1, 1, 17), (17, 1, 1), (1, 17, 1), (3, 5, 7), (5, 2, 1), (2, 9, 4)])
def test_lossless_roundtrip_random(bits, signed, shape):
    rng = np.random.default_rng(bits * 100 + sum(shape))
    cube = _random_cube(rng, shape, bits, signed)
    out, _, codec = _roundtrip(cube)
    np.testing.assert_array_equal(out, cube.data)
    assert codec.max_error(cube) == 0


@pytest.mark.parametrize("mode,local_sum,p", list(itertools.product(
    ["full", "reduced"], list(LOCAL_SUMS), [0, 1, 3, 15])))
def test_every_predictor_configuration_roundtrips(mode, local_sum, p):
    rng = np.random.default_rng(p)
    cube = _random_cube(rng, (6, 7, 9), 12, False, smooth=True)
    for limit in (0, 5):
        out, _, codec = _roundtrip(cube, prediction_mode=mode, local_sum=local_sum, prediction_bands=p,
                                   max_error=limit)
        assert _err(out, cube.data) <= limit
        if limit == 0:
            np.testing.assert_array_equal(out, cube.data)


@pytest.mark.parametrize("order,depth", [("bsq", 1), ("bil", 1), ("bip", 1), ("bi", 2), ("bi", 5)])
def test_orders_decode_to_the_same_image(order, depth):
    rng = np.random.default_rng(7)
    cube = _random_cube(rng, (5, 6, 7), 16, False, smooth=True)
    sizes = []
    for limit in (0, 3):
        out, data, codec = _roundtrip(cube, order=order, interleave_depth=depth, max_error=limit)
        assert _err(out, cube.data) <= limit
        h, _ = unpack_header(codec.encode_payload(cube))
        assert h.order == ("bsq" if order == "bsq" else "bi")
        assert h.interleave_depth == {"bsq": 0, "bil": 1, "bip": 5, "bi": depth}[order]
        sizes.append(len(data))
    assert sizes[1] < sizes[0]


def test_bi_and_bsq_code_the_same_residuals():
    rng = np.random.default_rng(8)
    cube = _random_cube(rng, (4, 5, 6), 12, False, smooth=True)
    a = create_codec("ccsds123", order="bsq").encode_payload(cube)
    b = create_codec("ccsds123", order="bip").encode_payload(cube)
    assert abs(len(a) - len(b)) <= 1  # same codewords, interleaved differently
    np.testing.assert_array_equal(decompress(a)[0], decompress(b)[0])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    bits=st.integers(2, 16),
    signed=st.booleans(),
    shape=st.tuples(st.integers(1, 4), st.integers(1, 6), st.integers(1, 6)),
    limit=st.integers(0, 40),
    relative=st.integers(0, 300),
    smooth=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_error_bound_property(bits, signed, shape, limit, relative, smooth, seed):
    cube = _random_cube(np.random.default_rng(seed), shape, bits, signed, smooth)
    out, _, codec = _roundtrip(cube, max_error=limit, relative_error=relative)
    bound = codec.max_error(cube)
    assert bound <= limit or limit == 0
    assert _err(out, cube.data) <= bound
    if limit == 0 and relative == 0:
        np.testing.assert_array_equal(out, cube.data)


def test_relative_and_absolute_limits():
    rng = np.random.default_rng(3)
    cube = _random_cube(rng, (4, 12, 12), 12, False, smooth=True)
    _, lossless, _ = _roundtrip(cube)
    out_r, rel, codec_r = _roundtrip(cube, relative_error=200)
    assert codec_r.max_error(cube) == (200 * 4095) >> 12 == 199
    hr = unpack_header(codec_r.encode_payload(cube))[0]
    assert (hr.absolute_limit, hr.relative_limit) == (None, 200)
    # the relative limit bounds each error by floor(r |s^| / 2^D) <= floor(r |s| ... ) + slack of r/2^D
    assert _err(out_r, cube.data) <= 199
    out_b, both, codec_b = _roundtrip(cube, max_error=2, relative_error=200)
    assert codec_b.max_error(cube) == 2 and _err(out_b, cube.data) <= 2
    assert len(rel) < len(lossless) and len(both) < len(lossless)


def test_rate_falls_as_the_error_limit_grows_on_smooth_data():
    rng = np.random.default_rng(4)
    cube = _random_cube(rng, (8, 24, 24), 16, False, smooth=True)
    sizes = []
    for limit in (0, 2, 8, 32):
        out, data, _ = _roundtrip(cube, max_error=limit)
        assert _err(out, cube.data) <= limit
        sizes.append(len(data))
    assert sizes == sorted(sizes, reverse=True) and sizes[-1] < sizes[0] / 2


def test_damping_and_offset():
    rng = np.random.default_rng(5)
    cube = _random_cube(rng, (4, 10, 10), 12, True, smooth=True)
    out, data, codec = _roundtrip(cube, max_error=6, damping=3, offset=7, representative_resolution=3)
    assert _err(out, cube.data) <= 6
    h = unpack_header(codec.encode_payload(cube))[0]
    assert (h.representative_resolution, h.damping, h.offset) == (3, 3, 7)


def test_limits_are_capped_by_the_bit_depth():
    rng = np.random.default_rng(6)
    one_bit = _random_cube(rng, (2, 5, 5), 1, False)
    out, _, codec = _roundtrip(one_bit, max_error=10)
    np.testing.assert_array_equal(out, one_bit.data)  # D = 1: coded as 2-bit data, losslessly
    assert codec.max_error(one_bit) == 0
    four_bit = _random_cube(rng, (2, 5, 5), 4, False)
    out, _, codec = _roundtrip(four_bit, max_error=100)
    assert codec.max_error(four_bit) == 7 and _err(out, four_bit.data) <= 7
    assert codec.row_columns(four_bit)["ccsds123_error_bound"] == 7


def test_nx_one_switches_to_reduced_column_prediction():
    cube = _random_cube(np.random.default_rng(9), (3, 8, 1), 10, False, smooth=True)
    codec = create_codec("ccsds123", prediction_mode="full", local_sum="narrow-neighbour")
    h = unpack_header(codec.encode_payload(cube))[0]
    assert not h.full_mode and h.local_sum == LOCAL_SUMS["narrow-column"]
    np.testing.assert_array_equal(codec.decode(codec.encode(cube)).data, cube.data)


# --- real data -----------------------------------------------------------------------------------------
def test_kodak_image():
    path = require_data("kodak", "kodim23.png")
    from hsbench.datasets.readers import read_image

    cube = read_image(path)
    cube = cube.with_data(np.ascontiguousarray(cube.data[:, 128:384, 192:576]))
    out, lossless, _ = _roundtrip(cube)
    np.testing.assert_array_equal(out, cube.data)
    assert 8 * len(lossless) / cube.num_samples < 6.0  # a photograph codes well below 8 bpppc
    out, near, _ = _roundtrip(cube, max_error=3)
    assert _err(out, cube.data) == 3 and len(near) < len(lossless)


def _indian_pines_16bit(bands: int, size: int) -> Cube:
    path = require_data(*INDIAN_PINES)
    from scipy.io import loadmat

    x = loadmat(path)["simu_indian"][:size, :size, :bands]
    data = np.rint(np.moveaxis(x, -1, 0) / x.max() * 65535).astype(np.uint16)
    return Cube(np.ascontiguousarray(data), bit_depth=16, name="simu_indian")


def test_indian_pines_224_bands():
    cube = _indian_pines_16bit(224, 32)
    sizes = []
    for limit in (0, 10, 100):
        out, data, _ = _roundtrip(cube, max_error=limit)
        assert _err(out, cube.data) <= limit
        if limit == 0:
            np.testing.assert_array_equal(out, cube.data)
        sizes.append(8 * len(data) / cube.num_samples)
    # piecewise constant with sharp 16-bit edges: the Golomb coder pays for the edges (about 11.5
    # bpppc lossless here), and every step of the error limit saves bits
    assert sizes[0] < 16 and sizes[0] > sizes[1] > sizes[2]


# --- header ------------------------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(
    sizes=st.tuples(st.integers(1, 65535), st.integers(1, 65535), st.integers(1, 65535)),
    signed=st.booleans(),
    dyn=st.integers(2, 16),
    bi=st.booleans(),
    word=st.integers(1, 8),
    user=st.integers(0, 255),
    p=st.integers(0, 15),
    full=st.booleans(),
    local_sum=st.integers(0, 3),
    omega=st.integers(4, 19),
    tinc=st.integers(4, 11),
    nus=st.tuples(st.integers(-6, 9), st.integers(-6, 9)),
    lims=st.tuples(st.integers(0, 70000), st.integers(0, 70000), st.booleans(), st.booleans()),
    rep=st.tuples(st.integers(0, 4), st.integers(0, 15), st.integers(0, 15)),
    coder=st.tuples(st.integers(8, 32), st.integers(1, 8), st.integers(0, 7), st.integers(0, 14)),
    entropy=st.tuples(st.sampled_from(["sample", "hybrid", "block"]), st.sampled_from([8, 16, 32, 64]),
                      st.booleans(), st.integers(1, 4096)),
    data=st.data(),
)
def test_header_roundtrip(sizes, signed, dyn, bi, word, user, p, full, local_sum, omega, tinc, nus, lims,
                          rep, coder, entropy, data):
    nx, ny, nz = sizes
    cap = (1 << min(dyn - 1, 16)) - 1
    a = lims[0] % (cap + 1) if lims[2] else None
    r = lims[1] % (cap + 1) if lims[3] else None
    theta = rep[0]
    phi, psi = rep[1] % (1 << theta), rep[2] % (1 << theta)
    if a is None and r is None:
        psi = 0
    u_max, gamma0, extra, k = coder
    gamma_star = min(11, max(4, gamma0 + 1) + extra)
    name, block, restricted, rsi = entropy
    if name == "block":  # the other coders' fields are not in the header: they keep their defaults
        fields = {"block_size": block, "restricted_codes": restricted and dyn <= 4, "reference_interval": rsi}
    else:
        fields = {"u_max": u_max, "gamma_star": gamma_star, "gamma0": gamma0}
        if name == "sample":
            fields["k_init"] = min(k, dyn - 2)
    h = Ccsds123Header(
        x_size=nx, y_size=ny, z_size=nz, signed=signed, dynamic_range=dyn, order="bi" if bi else "bsq",
        interleave_depth=data.draw(st.integers(1, nz)) if bi else 0, output_word_size=word, user_data=user,
        prediction_bands=p, full_mode=full and nx > 1, local_sum=local_sum,
        register_size=data.draw(st.integers(max(32, dyn + omega + 2), 64)), omega=omega, t_inc_log2=tinc,
        nu_min=min(nus), nu_max=max(nus), absolute_limit=a, relative_limit=r,
        representative_resolution=theta if (phi or psi) else 0, damping=phi, offset=psi,
        entropy_coder=name, **fields,
    )
    raw = pack_header(h)
    back, n = unpack_header(raw + b"\xff\xff")
    assert back == h and n == len(raw)


def test_header_rejects_what_it_cannot_decode():
    raw = bytearray(pack_header(HAND_HEADER))
    raw[10] |= 0b00000110  # entropy coder type 3: reserved
    with pytest.raises(CorruptStreamError, match="type 3"):
        unpack_header(bytes(raw))
    raw = bytearray(pack_header(HAND_HEADER))
    raw[7] |= 0b01000000  # a reserved bit
    with pytest.raises(CorruptStreamError, match="reserved"):
        unpack_header(bytes(raw))
    with pytest.raises(CorruptStreamError, match="truncated"):
        unpack_header(pack_header(HAND_HEADER)[:10])


# --- damaged streams and bad input --------------------------------------------------------------------
def test_truncated_and_padded_bare_streams():
    cube = _random_cube(np.random.default_rng(11), (3, 8, 8), 12, False, smooth=True)
    bare = create_codec("ccsds123").encode_payload(cube)
    np.testing.assert_array_equal(decompress(bare)[0], cube.data)
    for cut in (len(bare) - 1, len(bare) // 2, 25):
        with pytest.raises(CorruptStreamError):
            decompress(bare[:cut])
    with pytest.raises(CorruptStreamError, match="trailing|bytes"):
        decompress(bare + b"\x00\x00")
    # a header announcing a huge image fails before any allocation
    huge = pack_header(replace(HAND_HEADER, x_size=65535, y_size=65535, z_size=65535))
    with pytest.raises(CorruptStreamError, match="truncated"):
        decompress(huge + bare[19:])


def test_damaged_framed_stream():
    cube = _random_cube(np.random.default_rng(12), (3, 8, 8), 12, False, smooth=True)
    codec = create_codec("ccsds123", max_error=2)
    data = bytearray(codec.encode(cube))
    for pos in (30, len(data) // 2, len(data) - 6):
        bad = bytearray(data)
        bad[pos] ^= 0x10
        with pytest.raises(CorruptStreamError):
            codec.decode(bytes(bad))
    with pytest.raises(CorruptStreamError):
        codec.decode(bytes(data[:-3]))


def test_unsupported_cubes_and_parameters():
    codec = create_codec("ccsds123")
    with pytest.raises(UnsupportedCubeError, match="integer"):
        codec.encode(Cube(np.zeros((1, 2, 2), np.float32)))
    with pytest.raises(UnsupportedCubeError, match="1..16"):
        codec.encode(Cube(np.zeros((1, 2, 2), np.uint32)))
    with pytest.raises(CodecParameterError):
        create_codec("ccsds123", prediction_bands=16)
    with pytest.raises(CodecParameterError, match="local_sum"):
        create_codec("ccsds123", local_sum="diagonal")
    with pytest.raises(CodecParameterError, match="t_inc"):
        create_codec("ccsds123", t_inc=100)
    with pytest.raises(CodecParameterError):
        create_codec("ccsds123", max_error=-1)
    with pytest.raises(UnsupportedCubeError, match="R must"):
        create_codec("ccsds123", register_size=32, omega=19).encode(Cube(np.zeros((1, 2, 2), np.uint16)))


def test_header_sizes_replace_roundtrip():
    """A header changed field by field still round-trips (guards against fields read from the wrong bits)."""
    base = replace(HAND_HEADER, absolute_limit=5, relative_limit=9, damping=1, offset=2, representative_resolution=2)
    for change in ({"order": "bi", "interleave_depth": 2}, {"output_word_size": 4}, {"gamma0": 3, "gamma_star": 9},
                   {"u_max": 32}, {"nu_min": -6, "nu_max": 9}, {"signed": True}):
        h = replace(base, **change)
        assert unpack_header(pack_header(h))[0] == h


def test_registry_and_default_sweep():
    from hsbench.codecs.registry import describe_codecs, get_codec

    cls = get_codec("ccsds123")
    assert cls is Ccsds123Codec and cls.kind.value == "near-lossless"
    info = {i.name: i for i in describe_codecs()}["ccsds123"]
    assert info.available and info.knob.startswith("max_error")
    cube = _random_cube(np.random.default_rng(13), (3, 9, 9), 12, False, smooth=True)
    sizes = []
    for params in cls.sweep():
        codec = create_codec("ccsds123", **params)
        data = codec.encode(cube)
        assert _err(codec.decode(data).data, cube.data) <= codec.max_error(cube) == params["max_error"]
        sizes.append(len(data))
    assert sizes[0] == max(sizes) and sizes[-1] == min(sizes)


def test_framing_is_cross_checked_against_the_ccsds_header():
    from hsbench.codecs import container

    rng = np.random.default_rng(4)
    cube = Cube(rng.integers(0, 4096, (2, 6, 5)).astype(np.uint16), bit_depth=12)
    codec = create_codec("ccsds123")
    header, payload = container.unpack(codec.encode(cube))
    for forged, message in [
        (replace(header, bit_depth=8), "D = 12 does not fit the framing's 8-bit"),  # would decode values > 255
        (replace(header, bit_depth=16), "D = 12 does not fit the framing's 16-bit"),
        (replace(header, dtype=np.dtype(np.int16)), "unsigned samples, the framing int16"),
        (replace(header, dtype=np.dtype(np.float32), bit_depth=32, value_range=(0.0, 1.0)), "float32"),
        (replace(header, shape=(2, 5, 6)), r"says \(2, 6, 5\), the framing \(2, 5, 6\)"),
    ]:
        with pytest.raises(CorruptStreamError, match=message):
            codec.decode(container.pack(forged, bytes(payload)))


def test_read_only_memmap_input(tmp_path):
    """Little-endian BSQ files are read as read-only memmaps; numba's predictor needs writable arrays."""
    data = np.random.default_rng(2).integers(0, 4096, (3, 7, 9)).astype("<u2")
    data.tofile(tmp_path / "cube.raw")
    mapped = np.memmap(tmp_path / "cube.raw", dtype="<u2", mode="r", shape=data.shape)
    cube = Cube(mapped, bit_depth=12)
    assert not cube.data.flags.writeable
    codec = create_codec("ccsds123", max_error=3)
    out = codec.decode(codec.encode(cube))
    assert np.abs(out.data.astype(int) - data).max() <= 3
