"""The CCSDS 123.0-B-2 hybrid entropy coder (section 5.4.3.3), compiled with numba.

Per band an accumulator Sigma_z, one counter Gamma shared by all bands:
Gamma(0) = 2^gamma_0, Sigma_z(0) chosen by the encoder (not in the header; here
4 Gamma(0), the verification model's value); for t >= 1, when Gamma(t-1) = 2^gamma* - 1
the encoder first writes the least significant bit of Sigma_z(t-1) and
Gamma(t) = (Gamma(t-1) + 1) / 2, Sigma_z(t) = floor((Sigma_z(t-1) + 4 delta_z(t) + 1) / 2);
otherwise Gamma(t) = Gamma(t-1) + 1, Sigma_z(t) = Sigma_z(t-1) + 4 delta_z(t). The first
sample of each band is written in D bits. Then, with T_i the thresholds and L_i the input
symbol limits of :mod:`lowentropy`:

* **high entropy**, Sigma 2^14 >= Gamma T_0: k = the largest k with Gamma 2^(k+2) <=
  Sigma + floor(49 Gamma / 2^5), at most max(D - 2, 2); the *reversed* length-limited GPO2
  codeword of delta: the k low bits, a one, u = floor(delta / 2^k) zeros; or, when
  u >= U_max, delta in D bits and U_max zeros;
* **low entropy**: code i = the largest i with Sigma 2^14 < Gamma T_i; the input symbol is
  delta when delta <= L_i, else X, and delta - L_i - 1 is written at once as a reversed
  GPO2 codeword with k = 0. The symbol extends code i's active prefix; when that becomes
  a whole input word, its codeword is written and the prefix restarts empty.

At the end (5.4.3.3.4) the flush codeword of each code's active prefix (i = 0..15), each
Sigma_z in 2 + D + gamma* bits, and a single one bit. A decoder reads the stream from its
end backwards: the final accumulators give every Sigma_z(t) in reverse (the rescaling
bits undo the halving), and the codes are prefix-free read backwards.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from hsbench.codecs.ccsds123.entropy import _clz64, _ctzu64, _put, _window, gamma_table, next_sample


@njit(cache=True, nogil=True)
def hybrid_counters(n: int, gamma_star: int, gamma0: int) -> np.ndarray:  # pragma: no cover - compiled
    """Gamma(t), t = 0 .. n-1, of the hybrid coder: Gamma(0) = 2^gamma_0 (the sample-adaptive Gamma(t+1))."""
    return gamma_table(n + 1, gamma_star, gamma0)[1:]


@njit(cache=True, nogil=True, inline="always")
def _high_k(acc: int, g: int, kmax: int) -> int:  # pragma: no cover - compiled
    """The largest k with Gamma 2^(k+2) <= Sigma + floor(49 Gamma / 2^5), capped at kmax (>= 2 here)."""
    q = (acc + ((49 * g) >> 5)) // g
    k = 63 - _clz64(q) - 2  # floor(log2 q) - 2
    return min(k, kmax)


@njit(cache=True, nogil=True, inline="always")
def _low_code(acc: int, g: int, thresholds: np.ndarray) -> int:  # pragma: no cover - compiled
    """The low-entropy code index, or -1 for a high-entropy sample."""
    a = acc << 14
    if a >= thresholds[0] * g:
        return -1
    for i in range(15, -1, -1):
        if a < g * thresholds[i]:
            return i
    return 0


@njit(cache=True, nogil=True, inline="always")
def _put_rgpo2(out, pos, bits, nbits, d, k, u_max, dyn):  # pragma: no cover - compiled
    """Reversed length-limited GPO2 codeword: k low bits, 1, u zeros; or D bits and U_max zeros."""
    u = d >> k
    if u < u_max:
        pos, bits, nbits = _put(out, pos, bits, nbits, d & ((np.int64(1) << k) - 1), k)
        pos, bits, nbits = _put(out, pos, bits, nbits, np.int64(1) << u, u + 1)
    else:
        pos, bits, nbits = _put(out, pos, bits, nbits, d, dyn)
        pos, bits, nbits = _put(out, pos, bits, nbits, 0, u_max)
    return pos, bits, nbits


@njit(cache=True, nogil=True)
def hybrid_encode(  # pragma: no cover - compiled
    delta: np.ndarray, nx: int, dyn: int, bsq: bool, depth: int, u_max: int, gamma_star: int, gamma0: int,
    child: np.ndarray, is_leaf: np.ndarray, word_value: np.ndarray, word_len: np.ndarray,
    limits: np.ndarray, thresholds: np.ndarray, out: np.ndarray,
) -> int:
    """Write the hybrid-coded body of ``delta`` (B, H*W) uint16 into ``out``, tail included.

    Returns the number of bytes written (the last one zero-padded), or -1 when ``out``
    is too small.
    """
    nz, n = delta.shape
    gam = hybrid_counters(n, gamma_star, gamma0)
    top = (1 << gamma_star) - 1
    kmax = max(dyn - 2, 2)
    accs = np.full(nz, 4 * (np.int64(1) << gamma0), dtype=np.int64)
    state = np.zeros(16, dtype=np.int64)
    cap = out.shape[0] - 64  # room for one more sample (at most 1 + U_max + D + 21 bits) or flush word
    pos = 0
    bits = np.int64(0)
    nbits = 0
    z = z0 = t = 0
    for _ in range(nz * n):
        d = np.int64(delta[z, t])
        if t == 0:
            pos, bits, nbits = _put(out, pos, bits, nbits, d, dyn)
        else:
            if gam[t - 1] == top:
                pos, bits, nbits = _put(out, pos, bits, nbits, accs[z] & 1, 1)
                accs[z] = (accs[z] + 4 * d + 1) >> 1
            else:
                accs[z] += 4 * d
            g = gam[t]
            i = _low_code(accs[z], g, thresholds)
            if i < 0:
                pos, bits, nbits = _put_rgpo2(out, pos, bits, nbits, d, _high_k(accs[z], g, kmax), u_max, dyn)
            else:
                lim = limits[i]
                sym = d
                if d > lim:
                    sym = lim + 1
                    pos, bits, nbits = _put_rgpo2(out, pos, bits, nbits, d - lim - 1, 0, u_max, dyn)
                node = child[i, state[i], sym]
                if is_leaf[i, node]:
                    pos, bits, nbits = _put(out, pos, bits, nbits, word_value[i, node], word_len[i, node])
                    state[i] = 0
                else:
                    state[i] = node
        if pos > cap:
            return -1
        z, z0, t = next_sample(z, z0, t, nz, n, nx, bsq, depth)
    for i in range(16):  # flush codewords of the active prefixes
        pos, bits, nbits = _put(out, pos, bits, nbits, word_value[i, state[i]], word_len[i, state[i]])
        if pos > cap:
            return -1
    for z in range(nz):
        pos, bits, nbits = _put(out, pos, bits, nbits, accs[z], 2 + dyn + gamma_star)
        if pos > cap:
            return -1
    pos, bits, nbits = _put(out, pos, bits, nbits, 1, 1)
    if nbits > 0:
        out[pos] = (bits << (8 - nbits)) & 0xFF
        pos += 1
    return pos


# ----------------------------------------------------------------------------- decoding (backwards)


@njit(cache=True, nogil=True, inline="always")
def _before(words, pos, w):  # pragma: no cover - compiled
    """The value of the w (0..63) stream bits that end at bit ``pos`` (pos >= w)."""
    if w == 0:
        return np.int64(0)
    return np.int64(_window(words, pos - w) >> np.uint64(64 - w))


@njit(cache=True, nogil=True, inline="always")
def _zeros_before(words, pos):  # pragma: no cover - compiled
    """How many zero bits end at bit ``pos`` (up to 64; bits before the stream count as zeros)."""
    if pos >= 64:
        win = _window(words, pos - 64)
    elif pos > 0:
        win = _window(words, 0) >> np.uint64(64 - pos)
    else:
        return 64
    return _ctzu64(win)


@njit(cache=True, nogil=True, inline="always")
def _get_rgpo2(words, pos, start, k, u_max, dyn):  # pragma: no cover - compiled
    """Read a reversed GPO2 codeword ending at ``pos``; returns (value, new pos), new pos < start if truncated."""
    u = min(_zeros_before(words, pos), u_max)
    if u < u_max:
        pos -= u + 1 + k
        if pos < start:
            return np.int64(0), pos
        return (np.int64(u) << k) | _before(words, pos + k, k), pos
    pos -= u_max + dyn
    if pos < start:
        return np.int64(0), pos
    return _before(words, pos + dyn, dyn), pos


@njit(cache=True, nogil=True, inline="always")
def _get_word(words, pos, start, trie, i):  # pragma: no cover - compiled
    """Read a codeword of table i backwards; returns (input-tree node, new pos), node -1 if truncated."""
    t = 0
    while True:
        if pos <= start:
            return -1, pos
        pos -= 1
        nxt = trie[i, t, _before(words, pos + 1, 1)]
        if nxt < 0:
            return -nxt - 1, pos
        t = nxt


@njit(cache=True, nogil=True, inline="always")
def _prev_sample(z, z0, t, nz, n, nx, bsq, depth):  # pragma: no cover - compiled
    """The sample before (z, t) in the encoding order (the inverse of :func:`~.entropy.next_sample`;
    the caller stops before stepping back from the first sample)."""
    if bsq:
        if t == 0:
            return z - 1, z0, n - 1
        return z, z0, t - 1
    if z > z0:
        return z - 1, z0, t
    if t % nx != 0:  # previous column, same group
        return min(z0 + depth, nz) - 1, z0, t - 1
    if z0 > 0:  # last column of the previous group, same row
        return z0 - 1, z0 - depth, t + nx - 1
    last = ((nz - 1) // depth) * depth
    return nz - 1, last, t - 1  # last column of the last group of the previous row


@njit(cache=True, nogil=True)
def hybrid_decode(  # pragma: no cover - compiled
    words: np.ndarray, start: int, end: int, delta: np.ndarray, nx: int, dyn: int, bsq: bool, depth: int,
    u_max: int, gamma_star: int, gamma0: int, symbol: np.ndarray, parent: np.ndarray,
    code_trie: np.ndarray, flush_trie: np.ndarray, limits: np.ndarray, thresholds: np.ndarray,
) -> int:
    """Read the hybrid body that lies in stream bits [start, end) backwards into ``delta`` (B, H*W).

    ``end`` is the position just after the final one bit. Returns 0, -1 when the body
    is too short, -2 when it decodes to values outside the D-bit range or negative
    accumulators, -3 when the samples end before bit ``start`` is reached.
    """
    nz, n = delta.shape
    gam = hybrid_counters(n, gamma_star, gamma0)
    top = (1 << gamma_star) - 1
    kmax = max(dyn - 2, 2)
    over = np.int64(1) << dyn
    accs = np.zeros(nz, dtype=np.int64)
    state = np.zeros(16, dtype=np.int64)
    pos = end - 1  # the final one bit
    width = 2 + dyn + gamma_star
    for z in range(nz - 1, -1, -1):
        pos -= width
        if pos < start:
            return -1
        accs[z] = _before(words, pos + width, width)
    for i in range(15, -1, -1):
        node, pos = _get_word(words, pos, start, flush_trie, i)
        if node < 0:
            return -1
        state[i] = node
    z, z0, t = nz - 1, (0 if bsq else ((nz - 1) // depth) * depth), n - 1
    for _ in range(nz * n):
        if t == 0:
            pos -= dyn
            if pos < start:
                return -1
            delta[z, t] = _before(words, pos + dyn, dyn)
        else:
            g = gam[t]
            a = accs[z]
            i = _low_code(a, g, thresholds)
            if i < 0:
                d, pos = _get_rgpo2(words, pos, start, _high_k(a, g, kmax), u_max, dyn)
                if pos < start:
                    return -1
            else:
                if state[i] == 0:
                    node, pos = _get_word(words, pos, start, code_trie, i)
                    if node < 0:
                        return -1
                    state[i] = node
                sym = symbol[i, state[i]]
                state[i] = parent[i, state[i]]
                lim = limits[i]
                d = sym
                if sym > lim:
                    r, pos = _get_rgpo2(words, pos, start, 0, u_max, dyn)
                    if pos < start:
                        return -1
                    d = r + lim + 1
            if d >= over:
                return -2
            delta[z, t] = d
            if gam[t - 1] == top:
                pos -= 1
                if pos < start:
                    return -1
                a = 2 * a - _before(words, pos + 1, 1) - 4 * d
            else:
                a = a - 4 * d
            if a < 0:
                return -2
            accs[z] = a
        z, z0, t = _prev_sample(z, z0, t, nz, n, nx, bsq, depth)
    for i in range(16):
        if state[i] != 0:  # a code still holds symbols no sample took
            return -2
    if pos != start:
        return -3
    return 0
