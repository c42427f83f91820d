"""Numba kernels of the CCSDS 122.0-B-2 bit-plane encoder (BPE, section 4) and its decoder.

The input of one band is an ``(nblocks, 64)`` int64 array of DWT coefficients
grouped in blocks (section 4.1), slot ``s`` of a block being::

    0          DC coefficient (LL3)
    1, 2, 3    parents p_i: HL3, LH3, HH3
    4+4i+k     children C_i (family i = HL, LH, HH at level 2), 2x2 group, k = 2 dr + dc
    16+16i+4j+k  grandchildren H_ij (level 1): the 2x2 group below child j of family i

``shifts[s]`` is the subband weight of slot ``s`` (left shift already applied to
the coefficient, section 3.9); bit planes below it are never coded.

Per segment of ``S`` blocks (section 4.2):

1. Segment header part 1A (24 bits): StartImgFlag, EndImgFlag, SegmentCount (8),
   BitDepthDC (5), BitDepthAC (5), reserved bit and the Part 2/3/4 flags (zero:
   the other header parts are carried once per stream by the codec, see below).
2. DC coefficients (4.3): quantised to ``c' = floor(c / 2^q)`` with ``q`` from
   BitDepthDC / BitDepthAC (4.3.1.3); ``N = max(BitDepthDC - q, 1)``; the first
   value raw in ``N`` bits, then the mapped differences (CCSDS 121.0 prediction-
   error mapping) in gaggles of 16 coded with the best split-sample option ``k``
   or uncoded, announced by an option id.
3. AC bit depths per block (4.4): same differential gaggle code with
   ``N = ceil(log2(1 + BitDepthAC))``.
4. Additional DC bit planes ``q-1 .. max(BitDepthAC, shift(LL3))`` (4.3.3).
5. Bit planes ``b = BitDepthAC-1 .. 0`` (4.5): stage 0 (DC bit ``b`` when
   ``b < q``), stages 1-3 block by block (types and signs of the parents;
   tran_B, tran_D, types and signs of the children; tran_G, tran_H, types and signs
   of the grandchildren), then stage 4 (refinement bits of the parents, children
   and grandchildren of all blocks). Signs, tran_B and refinement bits are raw.
   The 2- to 4-bit words of stages 1-3 (types_b, tran_D, tran_G, tran_H) are
   mapped to symbols and entropy coded (4.5.3): for each word length a 2-bit
   option id selects uncoded words or a variable-length code; words that cannot
   be zero (tran_D when B turns significant, tran_H_i when G_i does, types_b[H_ij]
   when H_ij does) drop the zero symbol, and such 1-bit words are not sent.

Rate control (4.2.3): a segment is cut at ``SegByteLimit`` bytes; the decoder
stops where the bytes stop and reconstructs every partly known coefficient at
the middle of its remaining interval.

Simplifications against the Blue Book, so the output is a CCSDS 122-structured,
not a bit-exact CCSDS 122.0-B-2, bitstream:

* word entropy coding: the symbol mapping ranks words by their number of ones
  (then value) and the variable-length codes are truncated Rice codes
  (k = 0, 1, 2), instead of the standard's mapping and code tables; the option
  is chosen once per bit plane and segment (after a counting pass), not per
  gaggle of 16 blocks;
* the DC and bit-depth gaggles count the reference value in the first gaggle of
  16 blocks, and the split-sample option is the exact minimum-length one;
* header parts 2-4 (SegByteLimit, S, DWT type, image geometry) are replaced by
  the codec's stream header; part 1A is written per segment;
* no optional quality limits (DCStop, BitPlaneStop, StageStop): the byte limit
  is the only rate control, and lossless streams code every bit plane.
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: Status codes the decoder returns (negative values of its end position).
ERR_TRUNCATED = -1
ERR_CORRUPT = -2

_BIG = 1 << 62


@njit(cache=True, _nrt=False)
def _bitlen(v: int) -> int:
    n = 0
    while v > 0:
        v >>= 1
        n += 1
    return n


@njit(cache=True, _nrt=False)
def _put(out, st, value, n):
    p = st[0]
    for i in range(n - 1, -1, -1):
        if (value >> i) & 1:
            out[p >> 3] |= np.uint8(0x80 >> (p & 7))
        p += 1
    st[0] = p


@njit(cache=True, _nrt=False)
def _get(data, st, n):
    """Read ``n`` bits MSB first; -1 (and the exhausted flag ``st[2] = 1``) when fewer remain."""
    p = st[0]
    if p + n > st[1]:
        st[2] = 1
        return -1
    v = 0
    for _ in range(n):
        v = (v << 1) | ((data[p >> 3] >> (7 - (p & 7))) & 1)
        p += 1
    st[0] = p
    return v


@njit(cache=True, _nrt=False)
def _dc_q(bd_dc: int, bd_ac: int, dc_shift: int) -> int:
    """DC quantisation level q (CCSDS 122.0-B-2 4.3.1.3, Table 4-8), at least the LL3 weight."""
    if bd_dc <= 3:
        q = 0
    elif bd_dc - (1 + bd_ac // 2) <= 1:
        q = bd_dc - 3
    else:
        q = bd_dc - 1 - bd_ac // 2
    return max(q, dc_shift)


@njit(cache=True, _nrt=False)
def _map(cur, prev, xmin, xmax):
    """CCSDS 121.0 prediction-error mapping of ``cur`` given ``prev`` in ``[xmin, xmax]``."""
    theta = min(prev - xmin, xmax - prev)
    d = cur - prev
    if 0 <= d <= theta:
        return 2 * d
    if -theta <= d < 0:
        return -2 * d - 1
    return theta + abs(d)


@njit(cache=True, _nrt=False)
def _unmap(m, prev, xmin, xmax):
    theta = min(prev - xmin, xmax - prev)
    if m <= 2 * theta:
        if m & 1:
            return prev - (m + 1) // 2
        return prev + m // 2
    if prev - xmin < xmax - prev:
        return prev + (m - theta)
    return prev - (m - theta)


@njit(cache=True, _nrt=False)
def _put_gaggle(out, st, vals, lo, hi, n):
    """Code ``vals[lo:hi]`` (each < 2**n, n >= 2): option id, then FS codes, then k LSBs (4.3.2)."""
    idlen = _bitlen(n - 1)
    best_k = -1
    best = n * (hi - lo)
    for k in range(n - 1):
        c = 0
        for m in range(lo, hi):
            c += (vals[m] >> k) + 1 + k
        if c < best:
            best = c
            best_k = k
    if best_k < 0:
        _put(out, st, (1 << idlen) - 1, idlen)
        for m in range(lo, hi):
            _put(out, st, vals[m], n)
    else:
        _put(out, st, best_k, idlen)
        for m in range(lo, hi):
            st[0] += vals[m] >> best_k
            _put(out, st, 1, 1)
        if best_k > 0:
            for m in range(lo, hi):
                _put(out, st, vals[m] & ((1 << best_k) - 1), best_k)


@njit(cache=True, _nrt=False)
def _get_gaggle(data, st, vals, lo, hi, n):
    """Inverse of :func:`_put_gaggle`; False when the bits ran out (st[2] = 1) or are invalid (st[2] = 2)."""
    idlen = _bitlen(n - 1)
    k = _get(data, st, idlen)
    if k < 0:
        return False
    if k == (1 << idlen) - 1:
        for m in range(lo, hi):
            v = _get(data, st, n)
            if v < 0:
                return False
            vals[m] = v
        return True
    if k > n - 2:
        st[2] = 2
        return False
    cap = ((1 << n) - 1) >> k
    for m in range(lo, hi):
        z = 0
        while True:
            bit = _get(data, st, 1)
            if bit < 0:
                return False
            if bit == 1:
                break
            z += 1
            if z > cap:
                st[2] = 2
                return False
        vals[m] = z << k
    if k > 0:
        for m in range(lo, hi):
            v = _get(data, st, k)
            if v < 0:
                return False
            vals[m] |= v
    return True


@njit(cache=True, _nrt=False)
def _put_differential(out, st, values, s0, s1, n, signed, tmp):
    """Code ``values[s0:s1]`` with ``n`` bits each: raw when n == 1, else reference + mapped gaggles."""
    if n == 1:
        for k in range(s0, s1):
            _put(out, st, values[k] & 1, 1)
        return
    mask = (1 << n) - 1
    xmin = -(1 << (n - 1)) if signed else 0
    xmax = xmin + mask
    _put(out, st, values[s0] & mask, n)
    for k in range(s0 + 1, s1):
        tmp[k - s0] = _map(values[k], values[k - 1], xmin, xmax)
    lo = 1
    while lo < s1 - s0:
        hi = min(s1 - s0, (lo // 16 + 1) * 16)
        _put_gaggle(out, st, tmp, lo, hi, n)
        lo = hi


@njit(cache=True, _nrt=False)
def _get_differential(data, st, values, s0, s1, n, signed, tmp):
    """Inverse of :func:`_put_differential`; returns how many values were decoded."""
    if n == 1:
        for k in range(s0, s1):
            v = _get(data, st, 1)
            if v < 0:
                return k - s0
            values[k] = -v if signed else v
        return s1 - s0
    mask = (1 << n) - 1
    xmin = -(1 << (n - 1)) if signed else 0
    xmax = xmin + mask
    v = _get(data, st, n)
    if v < 0:
        return 0
    if signed and v > xmax:
        v -= 1 << n
    values[s0] = v
    lo = 1
    while lo < s1 - s0:
        hi = min(s1 - s0, (lo // 16 + 1) * 16)
        if not _get_gaggle(data, st, tmp, lo, hi, n):
            return lo
        for m in range(lo, hi):
            values[s0 + m] = _unmap(tmp[m], values[s0 + m - 1], xmin, xmax)
        lo = hi
    return s1 - s0


@njit(cache=True)
def _group_min_shifts(shifts):
    """Smallest weight in B (all descendants), D_i, G_i and H_ij: below it a group is never coded."""
    mw_d = np.empty(3, np.int64)
    mw_g = np.empty(3, np.int64)
    mw_h = np.empty((3, 4), np.int64)
    for i in range(3):
        m_c = 99
        for e in range(4):
            m_c = min(m_c, shifts[4 + 4 * i + e])
        m_g = 99
        for j in range(4):
            m_h = 99
            for e in range(4):
                m_h = min(m_h, shifts[16 + 16 * i + 4 * j + e])
            mw_h[i, j] = m_h
            m_g = min(m_g, m_h)
        mw_g[i] = m_g
        mw_d[i] = min(m_c, m_g)
    return min(mw_d[0], min(mw_d[1], mw_d[2])), mw_d, mw_g, mw_h


def _rank_tables() -> tuple[np.ndarray, np.ndarray]:
    """Symbol mapping of words of 0..4 bits: rank by number of ones, then by value (likeliest first)."""
    rank = np.zeros((5, 16), np.int64)
    word = np.zeros((5, 16), np.int64)
    for length in range(5):
        order = sorted(range(1 << length), key=lambda w: (bin(w).count("1"), w))
        for r, w in enumerate(order):
            rank[length, w] = r
            word[length, r] = w
    return rank, word


_RANK, _WORD = _rank_tables()


@njit(cache=True, _nrt=False)
def _vlc_bits(sym, m, opt):
    """Length of symbol ``sym`` (alphabet of ``m``) under option ``opt``: 0 raw, else Rice k = opt - 1."""
    k = opt - 1
    q = sym >> k
    return q + (1 if q < (m - 1) >> k else 0) + k


@njit(cache=True, _nrt=False)
def _choose_options(hist, opts):
    """Per word length 2..4, the cheapest of: uncoded, truncated Rice codes with k = 0, 1, 2."""
    for length in range(2, 5):
        best = -1
        for opt in range(4):
            cost = 0
            for nz in range(2):
                m = (1 << length) - nz
                for sym in range(m):
                    c = hist[length, nz, sym]
                    if c:
                        cost += c * (length if opt == 0 else _vlc_bits(sym, m, opt))
            if best < 0 or cost < best:
                best = cost
                opts[length] = opt


@njit(cache=True, _nrt=False)
def _put_word(out, st, word, length, nz, hist, opts, counting):
    """Write (or, when counting, tally) a stage 1-3 word of ``length`` bits; ``nz``: known non-zero."""
    if length == 0 or (nz == 1 and length == 1):
        return
    if length == 1:
        if not counting:
            _put(out, st, word, 1)
        return
    sym = _RANK[length, word] - nz
    if counting:
        hist[length, nz, sym] += 1
        return
    opt = opts[length]
    if opt == 0:
        _put(out, st, word, length)
        return
    k = opt - 1
    q = sym >> k
    st[0] += q  # q zeros (the buffer is zeroed)
    if q < ((1 << length) - nz - 1) >> k:
        _put(out, st, 1, 1)
    if k > 0:
        _put(out, st, sym & ((1 << k) - 1), k)


@njit(cache=True, _nrt=False)
def _get_word(data, st, length, nz, opts):
    """Inverse of :func:`_put_word`; -1 when the bits ran out or the code is invalid (st[2] = 2)."""
    if length == 0:
        return 0
    if nz == 1 and length == 1:
        return 1
    if length == 1:
        return _get(data, st, 1)
    opt = opts[length]
    if opt == 0:
        w = _get(data, st, length)
        if w == 0 and nz == 1:
            st[2] = 2
            return -1
        return w
    m = (1 << length) - nz
    k = opt - 1
    qmax = (m - 1) >> k
    q = 0
    while q < qmax:
        t = _get(data, st, 1)
        if t < 0:
            return -1
        if t == 1:
            break
        q += 1
    r = 0
    if k > 0:
        r = _get(data, st, k)
        if r < 0:
            return -1
    sym = (q << k) | r
    if sym >= m:
        st[2] = 2
        return -1
    return _WORD[length, sym + nz]


@njit(cache=True, _nrt=False)
def _types_word(out, st, k, b, blocks, fsp, shifts, lo, hi, nz, hist, opts, counting):
    """types_b of the not-yet-significant coefficients ``lo..hi-1`` of block ``k``, then their signs."""
    w = 0
    n = 0
    for s in range(lo, hi):
        if shifts[s] <= b and fsp[k, s] <= b:
            w = (w << 1) | (1 if fsp[k, s] == b else 0)
            n += 1
    _put_word(out, st, w, n, nz, hist, opts, counting)
    if not counting:
        for s in range(lo, hi):
            if shifts[s] <= b and fsp[k, s] == b:
                _put(out, st, 1 if blocks[k, s] < 0 else 0, 1)


@njit(cache=True, _nrt=False)
def _encode_block_stages(out, st, k, b, blocks, fsp, g_b, g_d, g_g, g_h, shifts, mw_b, mw_d, mw_g, mw_h, hist, opts, counting):
    """Stages 1-3 of block ``k`` at bit plane ``b`` (section 4.5.3), or their word tally when counting."""
    _types_word(out, st, k, b, blocks, fsp, shifts, 1, 4, 0, hist, opts, counting)
    if g_b[k] <= b and mw_b <= b and not counting:
        _put(out, st, 1 if g_b[k] == b else 0, 1)
    if g_b[k] >= b:
        w = 0
        n = 0
        for i in range(3):
            if g_d[k, i] <= b and mw_d[i] <= b:
                w = (w << 1) | (1 if g_d[k, i] == b else 0)
                n += 1
        _put_word(out, st, w, n, 1 if g_b[k] == b else 0, hist, opts, counting)
        for i in range(3):
            if g_d[k, i] >= b:
                _types_word(out, st, k, b, blocks, fsp, shifts, 4 + 4 * i, 8 + 4 * i, 0, hist, opts, counting)
    w = 0
    n = 0
    for i in range(3):
        if g_d[k, i] >= b and g_g[k, i] <= b and mw_g[i] <= b:
            w = (w << 1) | (1 if g_g[k, i] == b else 0)
            n += 1
    _put_word(out, st, w, n, 0, hist, opts, counting)
    for i in range(3):
        if g_g[k, i] >= b:
            w = 0
            n = 0
            for j in range(4):
                if g_h[k, i, j] <= b and mw_h[i, j] <= b:
                    w = (w << 1) | (1 if g_h[k, i, j] == b else 0)
                    n += 1
            _put_word(out, st, w, n, 1 if g_g[k, i] == b else 0, hist, opts, counting)
    for i in range(3):
        if g_g[k, i] >= b:
            for j in range(4):
                if g_h[k, i, j] >= b:
                    s_lo = 16 + 16 * i + 4 * j
                    nz = 1 if g_h[k, i, j] == b else 0
                    _types_word(out, st, k, b, blocks, fsp, shifts, s_lo, s_lo + 4, nz, hist, opts, counting)


@njit(cache=True)
def encode_band(blocks, shifts, dc_shift, seg_blocks, seg_limit, out):
    """Bit-plane encode one band; returns the number of bytes written to the zeroed buffer ``out``.

    ``seg_limit`` is SegByteLimit in bytes (0: no limit, every bit plane is coded).
    Bytes beyond the returned length are left zero.
    """
    nb = blocks.shape[0]
    mag = np.abs(blocks)
    fsp = np.full((nb, 64), -1, np.int64)
    g_b = np.full(nb, -1, np.int64)
    g_d = np.full((nb, 3), -1, np.int64)
    g_g = np.full((nb, 3), -1, np.int64)
    g_h = np.full((nb, 3, 4), -1, np.int64)
    bd_blk = np.zeros(nb, np.int64)
    for k in range(nb):
        for s in range(1, 64):
            fsp[k, s] = _bitlen(mag[k, s]) - 1
        top = max(fsp[k, 1], max(fsp[k, 2], fsp[k, 3]))
        for i in range(3):
            mg = -1
            for j in range(4):
                mh = -1
                for e in range(4):
                    mh = max(mh, fsp[k, 16 + 16 * i + 4 * j + e])
                g_h[k, i, j] = mh
                mg = max(mg, mh)
            g_g[k, i] = mg
            md = mg
            for e in range(4):
                md = max(md, fsp[k, 4 + 4 * i + e])
            g_d[k, i] = md
            g_b[k] = max(g_b[k], md)
        bd_blk[k] = max(top, g_b[k]) + 1
    mw_b, mw_d, mw_g, mw_h = _group_min_shifts(shifts)

    st = np.zeros(3, np.int64)
    tmp = np.empty(seg_blocks, np.int64)
    dcq = np.empty(nb, np.int64)
    hist = np.zeros((5, 2, 16), np.int64)
    opts = np.zeros(5, np.int64)
    nseg = (nb + seg_blocks - 1) // seg_blocks
    for seg in range(nseg):
        s0 = seg * seg_blocks
        s1 = min(nb, s0 + seg_blocks)
        start = st[0]
        limit_bits = start + 8 * seg_limit if seg_limit > 0 else _BIG
        bd_dc = 1
        bd_ac = 0
        for k in range(s0, s1):
            v = blocks[k, 0]
            bd_dc = max(bd_dc, _bitlen(v if v >= 0 else -v - 1) + 1)
            bd_ac = max(bd_ac, bd_blk[k])
        # segment header, part 1A
        _put(out, st, 1 if seg == 0 else 0, 1)
        _put(out, st, 1 if seg == nseg - 1 else 0, 1)
        _put(out, st, seg & 255, 8)
        _put(out, st, bd_dc, 5)
        _put(out, st, bd_ac, 5)
        _put(out, st, 0, 4)
        q = _dc_q(bd_dc, bd_ac, dc_shift)
        # DC coefficients, quantised
        for k in range(s0, s1):
            dcq[k] = blocks[k, 0] >> q
        _put_differential(out, st, dcq, s0, s1, max(bd_dc - q, 1), True, tmp)
        # AC bit depths of the blocks
        n_ac = _bitlen(bd_ac)
        if n_ac > 0:
            _put_differential(out, st, bd_blk, s0, s1, n_ac, False, tmp)
        # additional DC bit planes
        for b in range(q - 1, max(bd_ac, dc_shift) - 1, -1):
            for k in range(s0, s1):
                _put(out, st, (blocks[k, 0] >> b) & 1, 1)
        # bit planes
        for b in range(bd_ac - 1, -1, -1):
            if st[0] >= limit_bits:
                break
            if dc_shift <= b < q:  # stage 0
                for k in range(s0, s1):
                    _put(out, st, (blocks[k, 0] >> b) & 1, 1)
            # stages 1-3: a counting pass picks each word length's code option, then the coding pass
            hist[:, :, :] = 0
            for k in range(s0, s1):
                if b < bd_blk[k]:
                    _encode_block_stages(
                        out, st, k, b, blocks, fsp, g_b, g_d, g_g, g_h, shifts, mw_b, mw_d, mw_g, mw_h, hist, opts, True
                    )
            _choose_options(hist, opts)
            for length in range(2, 5):
                _put(out, st, opts[length], 2)
            for k in range(s0, s1):
                if st[0] >= limit_bits:
                    break
                if b < bd_blk[k]:
                    _encode_block_stages(
                        out, st, k, b, blocks, fsp, g_b, g_d, g_g, g_h, shifts, mw_b, mw_d, mw_g, mw_h, hist, opts, False
                    )
            # stage 4: refinement of parents, then children, then grandchildren of all blocks
            for part in range(3):
                if st[0] >= limit_bits:
                    break
                lo = 1 if part == 0 else (4 if part == 1 else 16)
                hi = 4 if part == 0 else (16 if part == 1 else 64)
                for k in range(s0, s1):
                    if b >= bd_blk[k] - 1:
                        continue
                    for s in range(lo, hi):
                        if shifts[s] <= b and fsp[k, s] > b:
                            _put(out, st, (mag[k, s] >> b) & 1, 1)
        nbytes = (st[0] - start + 7) // 8
        if seg_limit > 0 and nbytes > seg_limit:
            for p in range(start // 8 + seg_limit, start // 8 + nbytes):
                out[p] = 0
            nbytes = seg_limit
        st[0] = start + 8 * nbytes
    return st[0] // 8


@njit(cache=True, _nrt=False)
def _read_word(data, st, sig, lp, neg, mag, shifts, k, lo, hi, b, nz, opts, new):
    """Types then signs of the not-yet-significant coefficients ``lo..hi-1``; commits only a whole word."""
    n = 0
    for s in range(lo, hi):
        if shifts[s] <= b and not sig[k, s]:
            n += 1
    w = _get_word(data, st, n, nz, opts)
    if w < 0:
        return False
    cnt = 0
    pos = n
    for s in range(lo, hi):
        if shifts[s] <= b and not sig[k, s]:
            pos -= 1
            if (w >> pos) & 1:
                new[cnt] = s
                cnt += 1
    for c in range(cnt):
        t = _get(data, st, 1)
        if t < 0:
            return False
        new[4 + c] = t
    for c in range(cnt):
        s = new[c]
        sig[k, s] = True
        neg[k, s] = new[4 + c] == 1
        mag[k, s] = 1 << b
        lp[k, s] = b
    return True


@njit(cache=True, _nrt=False)
def _decode_block_stages(
    data, st, k, b, shifts, sig, lp, neg, mag, s_b, s_d, s_g, s_h, mw_b, mw_d, mw_g, mw_h, opts, new
):
    """Stages 1-3 of one block at bit plane ``b`` (mirror of the encoder); False when bits ran out."""
    if not _read_word(data, st, sig, lp, neg, mag, shifts, k, 1, 4, b, 0, opts, new):
        return False
    new_b = 0
    if not s_b[k] and mw_b <= b:
        t = _get(data, st, 1)
        if t < 0:
            return False
        s_b[k] = t == 1
        new_b = t
    if s_b[k]:
        n = 0
        for i in range(3):
            if not s_d[k, i] and mw_d[i] <= b:
                n += 1
        w = _get_word(data, st, n, new_b, opts)
        if w < 0:
            return False
        for i in range(3):
            if not s_d[k, i] and mw_d[i] <= b:
                n -= 1
                s_d[k, i] = (w >> n) & 1 == 1
        for i in range(3):
            if s_d[k, i]:
                if not _read_word(data, st, sig, lp, neg, mag, shifts, k, 4 + 4 * i, 8 + 4 * i, b, 0, opts, new):
                    return False
    n = 0
    for i in range(3):
        if s_d[k, i] and not s_g[k, i] and mw_g[i] <= b:
            n += 1
    w = _get_word(data, st, n, 0, opts)
    if w < 0:
        return False
    new_g = 0
    for i in range(3):
        if s_d[k, i] and not s_g[k, i] and mw_g[i] <= b:
            n -= 1
            if (w >> n) & 1:
                s_g[k, i] = True
                new_g |= 1 << i
    new_h = 0
    for i in range(3):
        if s_g[k, i]:
            n = 0
            for j in range(4):
                if not s_h[k, i, j] and mw_h[i, j] <= b:
                    n += 1
            w = _get_word(data, st, n, (new_g >> i) & 1, opts)
            if w < 0:
                return False
            for j in range(4):
                if not s_h[k, i, j] and mw_h[i, j] <= b:
                    n -= 1
                    if (w >> n) & 1:
                        s_h[k, i, j] = True
                        new_h |= 1 << (4 * i + j)
    for i in range(3):
        if s_g[k, i]:
            for j in range(4):
                if s_h[k, i, j]:
                    s_lo = 16 + 16 * i + 4 * j
                    nz = (new_h >> (4 * i + j)) & 1
                    if not _read_word(data, st, sig, lp, neg, mag, shifts, k, s_lo, s_lo + 4, b, nz, opts, new):
                        return False
    return True


@njit(cache=True)
def decode_band(data, pos, nb, shifts, dc_shift, seg_blocks, seg_limit, blocks):
    """Decode one band starting at byte ``pos`` into ``blocks`` (nb, 64); returns the end byte or an error code."""
    nbits = 8 * data.shape[0]
    mw_b, mw_d, mw_g, mw_h = _group_min_shifts(shifts)
    sig = np.zeros((nb, 64), np.bool_)
    neg = np.zeros((nb, 64), np.bool_)
    mag = np.zeros((nb, 64), np.int64)
    lp = np.zeros((nb, 64), np.int64)
    s_b = np.zeros(nb, np.bool_)
    s_d = np.zeros((nb, 3), np.bool_)
    s_g = np.zeros((nb, 3), np.bool_)
    s_h = np.zeros((nb, 3, 4), np.bool_)
    dcq = np.zeros(nb, np.int64)
    dbits = np.zeros(nb, np.int64)
    dlow = np.zeros(nb, np.int64)
    bd_blk = np.zeros(nb, np.int64)
    tmp = np.empty(seg_blocks, np.int64)
    new = np.empty(8, np.int64)
    opts = np.zeros(5, np.int64)
    st = np.zeros(3, np.int64)
    st[0] = 8 * pos
    nseg = (nb + seg_blocks - 1) // seg_blocks
    for seg in range(nseg):
        s0 = seg * seg_blocks
        s1 = min(nb, s0 + seg_blocks)
        start = st[0]
        if seg_limit > 0:
            if start + 8 * seg_limit > nbits:
                # the only segment allowed to be shorter than the limit is one that completes
                st[1] = nbits
            else:
                st[1] = start + 8 * seg_limit
        else:
            st[1] = nbits
        st[2] = 0
        h = _get(data, st, 24)
        if h < 0:
            return ERR_TRUNCATED
        if ((h >> 23) & 1) != (1 if seg == 0 else 0) or ((h >> 22) & 1) != (1 if seg == nseg - 1 else 0):
            return ERR_CORRUPT
        if ((h >> 14) & 255) != (seg & 255) or (h & 15) != 0:
            return ERR_CORRUPT
        bd_dc = (h >> 9) & 31
        bd_ac = (h >> 4) & 31
        if bd_dc == 0:
            return ERR_CORRUPT
        q = _dc_q(bd_dc, bd_ac, dc_shift)
        for k in range(s0, s1):
            dlow[k] = q
            dbits[k] = 0
            bd_blk[k] = 0
        done = True
        got = _get_differential(data, st, dcq, s0, s1, max(bd_dc - q, 1), True, tmp)
        if got < s1 - s0:
            done = False
            for k in range(s0 + got, s1):
                dcq[k] = dcq[k - 1] if k > 0 else 0
        n_ac = _bitlen(bd_ac)
        if done and n_ac > 0:
            got = _get_differential(data, st, bd_blk, s0, s1, n_ac, False, tmp)
            if got < s1 - s0:
                done = False
                for k in range(s0, s1):
                    bd_blk[k] = 0
            else:
                for k in range(s0, s1):
                    if bd_blk[k] > bd_ac:
                        return ERR_CORRUPT
        if done:
            for b in range(q - 1, max(bd_ac, dc_shift) - 1, -1):
                for k in range(s0, s1):
                    t = _get(data, st, 1)
                    if t < 0:
                        done = False
                        break
                    dbits[k] |= t << b
                    dlow[k] = b
                if not done:
                    break
        if done:
            for b in range(bd_ac - 1, -1, -1):
                if dc_shift <= b < q:
                    for k in range(s0, s1):
                        t = _get(data, st, 1)
                        if t < 0:
                            done = False
                            break
                        dbits[k] |= t << b
                        dlow[k] = b
                    if not done:
                        break
                for length in range(2, 5):
                    t = _get(data, st, 2)
                    if t < 0:
                        done = False
                        break
                    opts[length] = t
                if not done:
                    break
                for k in range(s0, s1):
                    if b >= bd_blk[k]:
                        continue
                    if not _decode_block_stages(
                        data, st, k, b, shifts, sig, lp, neg, mag, s_b, s_d, s_g, s_h, mw_b, mw_d, mw_g, mw_h, opts, new
                    ):
                        done = False
                        break
                if not done:
                    break
                for part in range(3):
                    lo = 1 if part == 0 else (4 if part == 1 else 16)
                    hi = 4 if part == 0 else (16 if part == 1 else 64)
                    for k in range(s0, s1):
                        if b >= bd_blk[k] - 1:
                            continue
                        for s in range(lo, hi):
                            if shifts[s] <= b and sig[k, s] and lp[k, s] > b:
                                t = _get(data, st, 1)
                                if t < 0:
                                    done = False
                                    break
                                mag[k, s] |= t << b
                                lp[k, s] = b
                        if not done:
                            break
                    if not done:
                        break
                if not done:
                    break
        if st[2] == 2:
            return ERR_CORRUPT
        if done:
            nbytes = (st[0] - start + 7) // 8
        else:
            if seg_limit <= 0 or start + 8 * seg_limit > nbits:
                return ERR_TRUNCATED
            nbytes = seg_limit
        st[0] = start + 8 * nbytes
        # reconstruction (mid-point of what is still unknown)
        for k in range(s0, s1):
            v = (dcq[k] << q) | dbits[k]
            if dlow[k] > dc_shift:
                v += 1 << (dlow[k] - 1)
            blocks[k, 0] = v
            for s in range(1, 64):
                if sig[k, s]:
                    m = mag[k, s]
                    if lp[k, s] > shifts[s]:
                        m += 1 << (lp[k, s] - 1)
                    blocks[k, s] = -m if neg[k, s] else m
                else:
                    blocks[k, s] = 0
    return st[0] // 8
