"""The CCSDS 123.0-B-2 block-adaptive entropy coder (section 5.4.3.4), compiled with numba.

The mapped indices, in the sample encoding order (BSQ, or BI with depth M), are cut
into blocks of J = 8, 16, 32 or 64 (the last one zero-filled) and each block is coded
with the CCSDS 121.0-B lossless coder's options, with no preprocessor (the CCSDS 123
predictor and mapper take its place) and no reference samples. With
n_id = max(ceil(log2 D), 3) option-identifier bits (max(ceil(log2 D), 1) with the
*restricted* code options, D <= 4):

* **zero block**: a run of all-zero blocks is coded as n_id + 1 zeros and the
  fundamental-sequence (FS) codeword of the run length: 1..4 blocks: 0..3 zeros and a
  one; 5 or more: that many zeros and a one; a run that reaches the end of a segment
  ("ROS"): 4 zeros and a one. Segments are 64 blocks long and restart every r blocks
  (the reference sample interval, 1..4096);
* **second extension**: n_id zeros, a one, then for each pair the FS codeword of
  (d0 + d1)(d0 + d1 + 1) / 2 + d1;
* **sample splitting** with k = 0 .. k_max (k_max = 5 for D <= 8, 13 for D <= 16; 1
  restricted, none for restricted D <= 2): identifier k + 1, the FS codewords of
  floor(d / 2^k) for the J samples, then their k low bits;
* **no compression**: identifier of all ones, then the J samples in D bits.

The encoder picks the shortest option, ties going to the first in the order no
compression, second extension, k = 0, 1, ... (as the NTNU verification model does).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from hsbench.codecs.ccsds123.entropy import _clzu64, _put, _window, next_sample

SEGMENT = 64


def id_bits(dyn: int, restricted: bool) -> int:
    """n_id, the option identifier width (CCSDS 121.0-B, Table 5-1, as used by 123.0-B-2 5.4.3.4)."""
    return max((dyn - 1).bit_length(), 1 if restricted else 3)


def max_split(dyn: int, restricted: bool) -> int:
    """The largest sample-splitting k (-1: no splitting options)."""
    if restricted:
        return -1 if dyn <= 2 else 1
    return 5 if dyn <= 8 else 13


@njit(cache=True, nogil=True, inline="always")
def _gather(delta, blk, z, z0, t, done, nx, bsq, depth):  # pragma: no cover - compiled
    """Fill ``blk`` with the next samples in encoding order from (z, t), zeros past the image end."""
    nz, n = delta.shape
    for p in range(blk.shape[0]):
        if done < nz * n:
            blk[p] = delta[z, t]
            z, z0, t = next_sample(z, z0, t, nz, n, nx, bsq, depth)
            done += 1
        else:
            blk[p] = 0
    return z, z0, t, done


@njit(cache=True, nogil=True, inline="always")
def _scatter(delta, blk, z, z0, t, done, nx, bsq, depth):  # pragma: no cover - compiled
    """Store ``blk`` as the next samples from (z, t); returns False if its fill past the image is not zero."""
    nz, n = delta.shape
    ok = True
    for p in range(blk.shape[0]):
        if done < nz * n:
            delta[z, t] = blk[p]
            z, z0, t = next_sample(z, z0, t, nz, n, nx, bsq, depth)
            done += 1
        elif blk[p] != 0:
            ok = False
    return z, z0, t, done, ok


@njit(cache=True, nogil=True, inline="always")
def _put_fs(out, pos, bits, nbits, m):  # pragma: no cover - compiled
    """Fundamental sequence codeword of m: m zeros and a one."""
    while m >= 32:
        pos, bits, nbits = _put(out, pos, bits, nbits, 0, 32)
        m -= 32
    return _put(out, pos, bits, nbits, 1, m + 1)


@njit(cache=True, nogil=True, inline="always")
def _put_zero_run(out, pos, bits, nbits, run, ros, nid):  # pragma: no cover - compiled
    pos, bits, nbits = _put(out, pos, bits, nbits, 0, nid + 1)
    if run <= 4:
        return _put_fs(out, pos, bits, nbits, run - 1)
    if ros:
        return _put_fs(out, pos, bits, nbits, 4)
    return _put_fs(out, pos, bits, nbits, run)


@njit(cache=True, nogil=True)
def block_encode(  # pragma: no cover - compiled
    delta: np.ndarray, nx: int, dyn: int, bsq: bool, depth: int, j: int, rsi: int, nid: int, kmax: int,
    out: np.ndarray,
) -> int:
    """Write the block-adaptive body of ``delta`` (B, H*W) uint16 into ``out``.

    Returns the number of bytes written (the last one zero-padded), or -1 when ``out``
    is too small.
    """
    nz, n = delta.shape
    nb = (nz * n + j - 1) // j
    blk = np.zeros(j, dtype=np.int64)
    z = z0 = t = done = 0
    cap = out.shape[0] - 256  # room for one more block (at most 4 + 64 * 16 bits) before the check
    pos = 0
    bits = np.int64(0)
    nbits = 0
    run = 0
    all_ones = (1 << nid) - 1
    for num in range(nb):
        z, z0, t, done = _gather(delta, blk, z, z0, t, done, nx, bsq, depth)
        sos = (num % rsi) % SEGMENT == 0
        zero = True
        for v in blk:
            if v != 0:
                zero = False
                break
        if zero and not sos:
            run += 1
            continue
        if run > 0:
            pos, bits, nbits = _put_zero_run(out, pos, bits, nbits, run, sos, nid)
        if zero:
            run = 1
            continue
        run = 0
        # lengths of the options, in the model's order of preference
        best_len = nid + j * dyn
        best = -2  # -2 no compression, -1 second extension, k >= 0 splitting
        ext = nid + 1
        for p in range(0, j, 2):
            s = blk[p] + blk[p + 1]
            ext += (s * (s + 1)) // 2 + blk[p + 1] + 1
        if ext < best_len:
            best_len, best = ext, -1
        for k in range(kmax + 1):
            length = nid + j * k
            for v in blk:
                length += (v >> k) + 1
            if length < best_len:
                best_len, best = length, k
        if best == -2:
            pos, bits, nbits = _put(out, pos, bits, nbits, all_ones, nid)
            for v in blk:
                pos, bits, nbits = _put(out, pos, bits, nbits, v, dyn)
        elif best == -1:
            pos, bits, nbits = _put(out, pos, bits, nbits, 1, nid + 1)
            for p in range(0, j, 2):
                s = blk[p] + blk[p + 1]
                pos, bits, nbits = _put_fs(out, pos, bits, nbits, (s * (s + 1)) // 2 + blk[p + 1])
        else:
            pos, bits, nbits = _put(out, pos, bits, nbits, best + 1, nid)
            for v in blk:
                pos, bits, nbits = _put_fs(out, pos, bits, nbits, v >> best)
            if best > 0:
                mask = (np.int64(1) << best) - 1
                for v in blk:
                    pos, bits, nbits = _put(out, pos, bits, nbits, v & mask, best)
        if pos > cap:
            return -1
    if run > 0:
        pos, bits, nbits = _put_zero_run(out, pos, bits, nbits, run, True, nid)
    if nbits > 0:
        out[pos] = (bits << (8 - nbits)) & 0xFF
        pos += 1
    return pos


@njit(cache=True, nogil=True, inline="always")
def _get(words, pos, w):  # pragma: no cover - compiled
    """The w (1..63) bits at ``pos``."""
    return np.int64((_window(words, pos) >> np.uint64(1)) >> np.uint64(63 - w))


@njit(cache=True, nogil=True, inline="always")
def _get_fs(words, pos, limit):  # pragma: no cover - compiled
    """Read an FS codeword; returns (m, new pos), new pos > limit if the data ran out."""
    m = 0
    while True:
        if pos >= limit:
            return m, limit + 1
        z = _clzu64(_window(words, pos))
        if z < 64:
            m += z
            return m, pos + z + 1
        m += 64
        pos += 64


@njit(cache=True, nogil=True)
def block_decode(  # pragma: no cover - compiled
    words: np.ndarray, nbytes: int, delta: np.ndarray, nx: int, dyn: int, bsq: bool, depth: int, j: int,
    rsi: int, nid: int, kmax: int,
) -> int:
    """Read the block-adaptive body (``words``: :func:`~.entropy.stream_words`) into ``delta`` (B, H*W).

    Returns the number of bits consumed, -1 when the data runs out, -2 when it is
    damaged (a value outside the D-bit range, an undefined option, a zero-block run
    past its segment, nonzero fill samples).
    """
    nz, n = delta.shape
    total = nz * n
    nb = (total + j - 1) // j
    blk = np.zeros(j, dtype=np.int64)
    z = z0 = t = done = 0
    limit = 8 * nbytes
    top = np.int64(1) << dyn
    all_ones = (1 << nid) - 1
    pos = 0
    num = 0
    while num < nb:
        if pos + nid > limit:
            return -1
        opt = _get(words, pos, nid)
        pos += nid
        if opt == 0:
            if pos + 1 > limit:
                return -1
            ext = _get(words, pos, 1)
            pos += 1
            if ext == 0:  # zero-block run
                m, pos = _get_fs(words, pos, limit)
                if pos > limit:
                    return -1
                off = num % rsi
                seg_end = num - off + min(rsi, (off // SEGMENT + 1) * SEGMENT)
                seg_end = min(seg_end, nb)
                if m <= 3:
                    run = m + 1
                elif m == 4:
                    run = seg_end - num
                else:
                    run = m
                if num + run > seg_end:
                    return -2
                blk[:] = 0
                for _ in range(run):
                    z, z0, t, done, ok = _scatter(delta, blk, z, z0, t, done, nx, bsq, depth)
                num += run
                continue
            for p in range(0, j, 2):
                m, pos = _get_fs(words, pos, limit)
                if pos > limit:
                    return -1
                beta = np.int64((np.sqrt(8.0 * m + 1.0) - 1.0) / 2.0)
                while beta * (beta + 1) // 2 > m:
                    beta -= 1
                while (beta + 1) * (beta + 2) // 2 <= m:
                    beta += 1
                d1 = m - beta * (beta + 1) // 2
                blk[p] = beta - d1
                blk[p + 1] = d1
        elif opt == all_ones:
            if pos + j * dyn > limit:
                return -1
            for p in range(j):
                blk[p] = _get(words, pos, dyn)
                pos += dyn
        else:
            k = opt - 1
            if k > kmax:
                return -2
            for p in range(j):
                m, pos = _get_fs(words, pos, limit)
                if pos > limit:
                    return -1
                if m >= top:
                    return -2
                blk[p] = np.int64(m) << k
            if k > 0:
                if pos + j * k > limit:
                    return -1
                for p in range(j):
                    blk[p] |= _get(words, pos, k)
                    pos += k
        for p in range(j):
            if blk[p] >= top:
                return -2
        z, z0, t, done, ok = _scatter(delta, blk, z, z0, t, done, nx, bsq, depth)
        if not ok:
            return -2
        num += 1
    return pos
