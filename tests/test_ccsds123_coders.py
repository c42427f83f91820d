"""Tests of the CCSDS 123.0-B-2 hybrid (5.4.3.3) and block-adaptive (5.4.3.4) entropy coders.

Byte-for-byte agreement with the NTNU verification model is in
``test_ccsds123_conformance.py``; here: the code tables' structure (checked from the
table file with Kraft sums, independently of the loader), hand-computed bodies, round
trips over orders / bit depths / limits, the rates the coders exist for, damage.
"""

from __future__ import annotations

import re
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from hsbench.codecs.ccsds123 import Ccsds123Header, compress, decompress, pack_header
from hsbench.codecs.ccsds123.entropy import decode_body, encode_body
from hsbench.codecs.ccsds123.lowentropy import INPUT_SYMBOL_LIMITS, low_entropy_tables
from hsbench.codecs.registry import create_codec
from hsbench.cube import Cube, integer_range
from hsbench.errors import CodecParameterError, CorruptStreamError, UnsupportedCubeError

TABLES = Path(__file__).resolve().parents[1] / "hsbench" / "codecs" / "ccsds123" / "low_entropy_codes.txt"


def _sections() -> dict[tuple[str, int], list[tuple[str, str]]]:
    """The table file as {(kind, i): [(input word, bit string)]}, parsed with no help from the loader."""
    out: dict[tuple[str, int], list[tuple[str, str]]] = {}
    key = None
    for line in TABLES.read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        a, b = line.split()
        if a in ("code", "flush"):
            key = (a, int(b))
            out[key] = []
            continue
        word = "" if a == "-" else re.sub(r"(.)\{(\d+)\}", lambda m: m.group(1) * int(m.group(2)), a)
        n, v = b.split("'h")
        out[key].append((word, format(int(v, 16), f"0{int(n)}b")))
    return out


def _prefix_free(words: list[str]) -> bool:
    ws = sorted(words)
    return all(not ws[i + 1].startswith(ws[i]) for i in range(len(ws) - 1))


def test_low_entropy_tables_are_complete_prefix_codes():
    """Each code: input words complete and prefix-free over {0..L_i, X}; codewords and flush words
    complete (Kraft sum 1) and prefix-free read backwards; the flush table lists every proper prefix."""
    sec = _sections()
    assert len(sec) == 32
    for i in range(16):
        alphabet = int(INPUT_SYMBOL_LIMITS[i]) + 2
        code, flush = sec[("code", i)], sec[("flush", i)]
        inputs = [w for w, _ in code]
        assert _prefix_free(inputs)
        assert sum(Fraction(1, alphabet ** len(w)) for w in inputs) == 1
        assert sum(Fraction(1, 2 ** len(c)) for _, c in code) == 1
        assert _prefix_free([c[::-1] for _, c in code])
        assert sum(Fraction(1, 2 ** len(c)) for _, c in flush) == 1
        assert _prefix_free([c[::-1] for _, c in flush])
        assert {w for w, _ in flush} == {w[:j] for w in inputs for j in range(len(w))}
    # the longest input word of the last code is 256 zeros, coded in one bit
    assert ("0" * 256, "0") in sec[("code", 15)]


def test_loader_arrays_walk_the_words():
    tab = low_entropy_tables()
    sec = _sections()
    for i in (0, 7, 15):
        for word, bits in sec[("code", i)][:40]:
            node = 0
            for ch in word:
                node = tab.child[i, node, INPUT_SYMBOL_LIMITS[i] + 1 if ch == "X" else int(ch, 16)]
            assert tab.is_leaf[i, node]
            assert format(int(tab.word_value[i, node]), f"0{int(tab.word_len[i, node])}b") == bits
            t = 0  # the reverse trie reads the codeword from its last bit
            for b in bits[::-1]:
                t = tab.code_trie[i, t, int(b)]
            assert t == -(node + 1)


def _hybrid_header(nz: int, n: int, **kw) -> Ccsds123Header:
    return Ccsds123Header(x_size=n, y_size=1, z_size=nz, signed=False, dynamic_range=8, entropy_coder="hybrid", **kw)


def _bits(data: bytes) -> str:
    return "".join(format(b, "08b") for b in data)


def _root_flush_bits() -> str:
    sec = _sections()
    return "".join(dict(sec[("flush", i)])[""] for i in range(16))


def test_hybrid_hand_checked_high_entropy_body():
    """delta = (0, 100), D = 8, gamma_0 = 1: Gamma = 2, 3; Sigma(1) = 4 * 2 + 4 * 100 = 408, high entropy
    (408 * 2^14 >= 303336 * 3); k = floor(log2(floor((408 + 4) / 3))) - 2 = 5; codeword: the 5 low bits of
    100 (00100), a one, 100 >> 5 = 3 zeros. Tail: the 16 root flush words, Sigma = 408 in 2 + 8 + 6 bits, 1."""
    h = _hybrid_header(1, 2)
    delta = np.array([[0, 100]], dtype=np.uint16)
    body = encode_body(delta, h)
    expect = "00000000" + "00100" + "1" + "000" + _root_flush_bits() + format(408, "016b") + "1"
    assert _bits(body) == expect + "0" * (-len(expect) % 8)
    raw = pack_header(h) + body
    np.testing.assert_array_equal(decode_body(raw, len(pack_header(h)), h), delta)


def test_hybrid_hand_checked_low_entropy_body():
    """delta = (3, 0, 0): Sigma(1) = 8 with Gamma(1) = 3: 8 * 2^14 < 3 * 50678 but not < 3 * 34898, code 6;
    Sigma(2) = 8, Gamma(2) = 4: 8 * 2^14 < 4 * 34898, code 7. Each code holds one symbol '0', an
    incomplete word, so only flush words are written: code 6's for prefix '0', code 7's for '0'."""
    h = _hybrid_header(1, 3)
    delta = np.array([[3, 0, 0]], dtype=np.uint16)
    sec = _sections()
    flush = "".join(dict(sec[("flush", i)])["0" if i in (6, 7) else ""] for i in range(16))
    expect = "00000011" + flush + format(8, "016b") + "1"
    body = encode_body(delta, h)
    assert _bits(body) == expect + "0" * (-len(expect) % 8)
    np.testing.assert_array_equal(decode_body(pack_header(h) + body, len(pack_header(h)), h), delta)


def _block_header(n: int, **kw) -> Ccsds123Header:
    return Ccsds123Header(x_size=n, y_size=1, z_size=1, signed=False, dynamic_range=8, entropy_coder="block", **kw)


@pytest.mark.parametrize("n,kw,bits", [
    # two zero blocks: n_id + 1 = 4 zeros, FS(2 - 1) = 01
    (16, {"block_size": 8}, "0000" + "01"),
    # 70 zero blocks: a run to the end of the 64-block segment (ROS: 00001), then 6 to the image end (ROS)
    (560, {"block_size": 8}, "0000" + "00001" + "0000" + "00001"),
    # r = 10: seven segments of ten zero blocks, each a run to its segment's end
    (560, {"block_size": 8, "reference_interval": 10}, ("0000" + "00001") * 7),
    # 40 zero blocks of 16 inside one segment (FS with 40 zeros), then (0, ..., 0, 1): second extension,
    # seven pairs (0, 0) -> FS(0) and (0, 1) -> FS(2)
    (656, {"block_size": 16}, "0000" + "0" * 40 + "1" + "0001" + "1" * 7 + "001"),
])
def test_block_adaptive_hand_checked_zero_blocks(n, kw, bits):
    h = _block_header(n, **kw)
    delta = np.zeros((1, n), dtype=np.uint16)
    delta[0, -1] = n == 656
    body = encode_body(delta, h)
    assert _bits(body) == bits + "0" * (-len(bits) % 8)
    np.testing.assert_array_equal(decode_body(pack_header(h) + body, len(pack_header(h)), h), delta)


def test_block_adaptive_hand_checked_options():
    """(1, 0, 2, 0, 0, 0, 0, 0): second extension 3 + 1 + 2 + 4 + 1 + 1 = 12 bits beats k = 0 (14),
    k = 1 (20) and no compression (67): 000 1, FS(1) = 01, FS(3) = 0001, FS(0), FS(0).
    (9, 200, 3, 7, 1, 0, 5, 4): k = 4 splitting (3 + 20 + 32 = 55 bits; k = 3: 61, k = 5: 57, no
    compression: 67): id 101, FS(v >> 4), then the 4 low bits of each."""
    h = _block_header(8, block_size=8)
    body = encode_body(np.array([[1, 0, 2, 0, 0, 0, 0, 0]], dtype=np.uint16), h)
    assert _bits(body) == "0001" + "01" + "0001" + "1" + "1" + "0000"
    block = [9, 200, 3, 7, 1, 0, 5, 4]
    costs = {k: 3 + sum((v >> k) + 1 for v in block) + 8 * k for k in range(6)}
    assert min(costs, key=costs.get) == 4 and (costs[3], costs[4], costs[5]) == (61, 55, 57)
    body = encode_body(np.array([block], dtype=np.uint16), h)
    expect = "101" + "".join("0" * (v >> 4) + "1" for v in block) + "".join(format(v & 15, "04b") for v in block)
    assert _bits(body) == expect + "0" * (-len(expect) % 8)


def _cube(shape, bits, signed, smooth, seed):
    rng = np.random.default_rng(seed)
    lo, hi = integer_range(bits, signed)
    if smooth:
        b, h, w = shape
        yy, xx = np.mgrid[0:h, 0:w]
        base = np.sin(xx / 6.0) + np.cos(yy / 9.0)
        x = (base[None] * np.linspace(0.7, 1.0, b)[:, None, None] + 2) / 4 * (hi - lo) + lo
        data = np.clip(np.rint(x + rng.normal(0, 1.0, shape)), lo, hi)
    else:
        data = rng.integers(lo, hi + 1, size=shape)
    dtype = (np.int8 if bits <= 8 else np.int16) if signed else (np.uint8 if bits <= 8 else np.uint16)
    return Cube(data.astype(dtype), bit_depth=bits)


CODERS = [
    {"entropy_coder": "hybrid"},
    {"entropy_coder": "hybrid", "u_max": 8, "gamma_star": 4},
    {"entropy_coder": "block"},
    {"entropy_coder": "block", "block_size": 64, "reference_interval": 3},
]


@pytest.mark.parametrize("coder", CODERS, ids=lambda c: "-".join(str(v) for v in c.values()))
@pytest.mark.parametrize("bits,signed,smooth,max_error", [
    (2, False, False, 0), (4, False, True, 1), (8, False, True, 0), (8, True, False, 3), (12, False, True, 5),
    (13, True, True, 0), (16, False, True, 40), (16, False, False, 0),
])
@pytest.mark.parametrize("order", ["bsq", "bil", "bip"])
def test_roundtrip_within_the_error_limit(coder, bits, signed, smooth, max_error, order):
    cube = _cube((4, 9, 11), bits, signed, smooth, seed=bits + 100 * max_error)
    codec = create_codec("ccsds123", order=order, max_error=max_error, **coder)
    out = codec.decode(codec.encode(cube))
    err = int(np.abs(out.data.astype(np.int64) - cube.data.astype(np.int64)).max())
    assert err <= codec.max_error(cube)
    if max_error == 0:
        np.testing.assert_array_equal(out.data, cube.data)


@pytest.mark.parametrize("shape", [(1, 1, 1), (1, 1, 9), (7, 1, 1), (2, 30, 1), (3, 2, 130)])
@pytest.mark.parametrize("coder", ["hybrid", "block"])
def test_edge_shapes_roundtrip(shape, coder):
    cube = _cube(shape, 10, False, True, seed=sum(shape))
    codec = create_codec("ccsds123", entropy_coder=coder, order="bi", interleave_depth=2)
    np.testing.assert_array_equal(codec.decode(codec.encode(cube)).data, cube.data)


def test_same_residuals_any_coder():
    """The entropy coder changes the body only: all three decode to the same reconstruction."""
    cube = _cube((5, 12, 12), 12, False, True, seed=5)
    outs = [create_codec("ccsds123", max_error=4, entropy_coder=c) for c in ("sample", "hybrid", "block")]
    recon = [c.decode(c.encode(cube)).data for c in outs]
    np.testing.assert_array_equal(recon[0], recon[1])
    np.testing.assert_array_equal(recon[0], recon[2])


def test_hybrid_and_block_go_below_one_bit_per_sample():
    """The sample-adaptive coder spends at least 1 bit per sample; on smooth data with a large error limit
    the hybrid coder (low-entropy codes) and the block-adaptive one (zero blocks) go well below."""
    rng = np.random.default_rng(9)
    yy, xx = np.mgrid[0:32, 0:32]
    smooth = 2000 + 300 * np.sin(xx / 10) * np.cos(yy / 13) * np.linspace(0.8, 1.2, 6)[:, None, None]
    cube = Cube(np.rint(smooth + rng.normal(0, 3, (6, 32, 32))).astype(np.uint16), bit_depth=12)
    rates = {}
    for coder in ("sample", "hybrid", "block"):
        codec = create_codec("ccsds123", max_error=64, entropy_coder=coder)
        rates[coder] = 8 * len(codec.encode_payload(cube)) / cube.num_samples
    assert rates["sample"] >= 1.0
    assert rates["hybrid"] < 0.5 and rates["block"] < 0.8
    assert rates["hybrid"] < rates["block"] < rates["sample"]


@pytest.mark.parametrize("coder", ["hybrid", "block"])
def test_damaged_and_truncated_streams(coder):
    cube = _cube((3, 10, 10), 12, False, True, seed=3)
    codec = create_codec("ccsds123", entropy_coder=coder, max_error=1)
    bare = codec.encode_payload(cube)
    np.testing.assert_array_equal(decompress(bare)[0].shape, cube.shape)
    for cut in (len(bare) - 1, len(bare) // 2, 30):
        with pytest.raises(CorruptStreamError):
            decompress(bare[:cut])
    with pytest.raises(CorruptStreamError):
        decompress(bare + b"\x01")
    caught = 0
    for pos in range(30, len(bare), 7):  # flipped bits: an error, or a different image within range
        bad = bytearray(bare)
        bad[pos] ^= 0x24
        try:
            out, _ = decompress(bytes(bad))
        except CorruptStreamError:
            caught += 1
        else:
            assert out.shape == cube.shape
    assert caught > 0
    head = pack_header(replace(codec.header(cube), x_size=65535, y_size=65535, z_size=65535))
    with pytest.raises(CorruptStreamError, match="truncated"):
        decompress(head + bare[len(head):])


def test_hybrid_stream_without_final_one():
    h = _hybrid_header(1, 4)
    head = pack_header(h)
    with pytest.raises(CorruptStreamError):
        decompress(head + bytes(64))


def test_parameters_and_cubes_the_coders_reject():
    with pytest.raises(CodecParameterError, match="entropy_coder"):
        create_codec("ccsds123", entropy_coder="huffman")
    with pytest.raises(CodecParameterError, match="block_size"):
        create_codec("ccsds123", entropy_coder="block", block_size=12)
    with pytest.raises(CodecParameterError, match="reference_interval"):
        create_codec("ccsds123", entropy_coder="block", reference_interval=0)
    with pytest.raises(CodecParameterError, match="restricted_codes"):
        create_codec("ccsds123", entropy_coder="block", restricted_codes=2)
    codec = create_codec("ccsds123", entropy_coder="block", restricted_codes=1)
    with pytest.raises(UnsupportedCubeError, match="D <= 4"):
        codec.encode(Cube(np.zeros((1, 4, 4), np.uint8), bit_depth=8))
    small = Cube(np.arange(16, dtype=np.uint8).reshape(1, 4, 4) % 16, bit_depth=4)
    np.testing.assert_array_equal(codec.decode(codec.encode(small)).data, small.data)


def test_row_records_the_coder_and_bare_stream_says_it():
    cube = _cube((2, 6, 6), 8, False, True, seed=1)
    for coder in ("sample", "hybrid", "block"):
        codec = create_codec("ccsds123", entropy_coder=coder)
        assert codec.row_columns(cube)["ccsds123_entropy_coder"] == coder
        data, h = decompress(compress(cube.data, codec.header(cube)))
        assert h.entropy_coder == coder
        np.testing.assert_array_equal(data, cube.data)


@pytest.mark.parametrize("coder", ["hybrid", "block"])
def test_cli_writes_bare_streams_of_the_new_coders(tmp_path, coder):
    from hsbench.cli import main

    data = _cube((3, 9, 11), 12, False, True, seed=4).data
    src, bare = tmp_path / "cube.npy", tmp_path / "cube.c123"
    np.save(src, data)
    assert main(["compress", "--codec", "ccsds123", "--ccsds", "--param", f"entropy_coder={coder}",
                 "--param", "max_error=2", "--param", "order=bip", "--bit-depth", "12",
                 str(src), "-o", str(bare)]) == 0
    decoded, header = decompress(bare.read_bytes())
    assert header.entropy_coder == coder and header.interleave_depth == 3
    assert np.abs(decoded.astype(int) - data).max() <= 2


@pytest.mark.parametrize("coder,most", [("hybrid", 0.06), ("block", 0.03)])
def test_constant_cube_codes_in_a_few_bits_and_decodes(coder, most):
    """The payload bound that guards allocations must admit the smallest legitimate streams."""
    cube = Cube(np.full((3, 96, 96), 1000, dtype=np.uint16), bit_depth=12)
    codec = create_codec("ccsds123", entropy_coder=coder, block_size=64)
    bare = codec.encode_payload(cube)
    assert 8 * len(bare) / cube.num_samples < most
    np.testing.assert_array_equal(decompress(bare)[0], cube.data)


@pytest.mark.parametrize("coder,order,bands", [("hybrid", "bsq", 1), ("block", "bsq", 1), ("sample", "bi", 90)])
def test_incompressible_residuals_fit_the_worst_case_buffer(coder, order, bands):
    """Uniform 16-bit mapped indices cost more than D bits each: the first buffer is too small and the
    encoder retries with the worst case (and never writes past a buffer, also in BIP order)."""
    delta = np.random.default_rng(2).integers(0, 1 << 16, (bands, 90000 // bands)).astype(np.uint16)
    h = Ccsds123Header(x_size=100, y_size=900 // bands, z_size=bands, signed=False, dynamic_range=16,
                       order=order, interleave_depth=bands if order == "bi" else 0, entropy_coder=coder,
                       block_size=8, u_max=8)
    body = encode_body(delta, h)
    assert len(body) > delta.size * 2 + 4096
    np.testing.assert_array_equal(decode_body(pack_header(h) + body, len(pack_header(h)), h), delta)
