"""The CCSDS 123.0-B-2 sample-adaptive entropy coder (section 5.4.3.2), compiled with numba.

Also the bit-level helpers the other coders share and :func:`encode_body` /
:func:`decode_body`, which run the coder a header names (sample-adaptive here, hybrid in
:mod:`.hybrid`, block-adaptive in :mod:`.block`).

Each band keeps an accumulator Sigma_z; the counter Gamma(t) is the same for every
band. For t = 0 the mapped index is written in D bits. For t >= 1:

* Gamma(1) = 2^gamma_0, Sigma_z(1) = floor((3 * 2^(k'+6) - 49) Gamma(1) / 2^7), with
  k' = K when K <= 30 - D, else 2K + D - 30;
* afterwards, if Gamma(t-1) = 2^gamma* - 1: Gamma(t) = floor((Gamma(t-1) + 1) / 2) and
  Sigma_z(t) = floor((Sigma_z(t-1) + delta_z(t-1) + 1) / 2); else Gamma(t) = Gamma(t-1) + 1
  and Sigma_z(t) = Sigma_z(t-1) + delta_z(t-1);
* k = 0 if 2 Gamma > Sigma + floor(49 Gamma / 2^7), else the largest k <= D - 2 with
  Gamma 2^k <= Sigma + floor(49 Gamma / 2^7);
* codeword (length-limited Golomb power-of-2): u = floor(delta / 2^k); if u < U_max,
  u zeros, a one and the k low bits of delta; else U_max zeros and delta in D bits.

Samples are coded in BSQ order or in BI order with sub-frame interleaving depth M
(for each row y, for each group of M bands, for each column x, for each band of
the group). Bits are packed most significant first.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from hsbench.errors import CorruptStreamError


@intrinsic
def _clz64(typingctx, x):  # pragma: no cover - compiled
    """Count leading zeros of a 64-bit integer (LLVM ctlz; 64 for 0)."""
    sig = types.int64(types.int64)

    def codegen(context, builder, signature, args):
        return builder.ctlz(args[0], ir.Constant(ir.IntType(1), 0))

    return sig, codegen


@intrinsic
def _clzu64(typingctx, x):  # pragma: no cover - compiled
    """Count leading zeros of an unsigned 64-bit integer (64 for 0)."""
    sig = types.int64(types.uint64)

    def codegen(context, builder, signature, args):
        return builder.ctlz(args[0], ir.Constant(ir.IntType(1), 0))

    return sig, codegen


@intrinsic
def _ctzu64(typingctx, x):  # pragma: no cover - compiled
    """Count trailing zeros of an unsigned 64-bit integer (64 for 0)."""
    sig = types.int64(types.uint64)

    def codegen(context, builder, signature, args):
        return builder.cttz(args[0], ir.Constant(ir.IntType(1), 0))

    return sig, codegen


@njit(cache=True, nogil=True)
def gamma_table(n: int, gamma_star: int, gamma0: int) -> np.ndarray:  # pragma: no cover - compiled
    """Gamma(t) for t = 0 .. n-1 (Gamma(0) unused, set to 0)."""
    g = np.zeros(max(n, 1), dtype=np.int64)
    top = (1 << gamma_star) - 1
    for t in range(1, n):
        if t == 1:
            g[t] = 1 << gamma0
        elif g[t - 1] == top:
            g[t] = (g[t - 1] + 1) >> 1
        else:
            g[t] = g[t - 1] + 1
    return g


@njit(cache=True, nogil=True, inline="always")
def _code_param(g: int, acc: int, dyn: int) -> int:  # pragma: no cover - compiled
    """k: the largest k <= D - 2 with Gamma 2^k <= Sigma + floor(49 Gamma / 2^7), or 0."""
    lim = acc + ((49 * g) >> 7)
    if 2 * g > lim:
        return 0
    k = _clz64(g) - _clz64(lim)  # bit_length(lim) - bit_length(g): g 2^k has lim's bit length
    if (g << k) > lim:
        k -= 1
    return min(k, dyn - 2)


@njit(cache=True, nogil=True, inline="always")
def _update(acc: int, g_prev: int, d_prev: int, t: int, top: int, init: int) -> int:  # pragma: no cover
    if t == 1:
        return init
    if g_prev == top:
        return (acc + d_prev + 1) >> 1
    return acc + d_prev


@njit(cache=True, nogil=True)
def encode_residuals(  # pragma: no cover - compiled
    delta: np.ndarray,
    nx: int,
    dyn: int,
    bsq: bool,
    depth: int,
    u_max: int,
    gamma_star: int,
    gamma0: int,
    kprime: int,
    out: np.ndarray,
) -> int:
    """Write the codewords of ``delta`` (B, H*W) uint16 into ``out``.

    Returns the number of bytes written (the last one zero-padded), or -1 when
    ``out`` is too small.
    """
    nz, n = delta.shape
    ny = n // nx
    gam = gamma_table(n, gamma_star, gamma0)
    top = (1 << gamma_star) - 1
    init = (((3 << (kprime + 6)) - 49) * (1 << gamma0)) >> 7
    accs = np.zeros(nz, dtype=np.int64)
    cap = out.shape[0] - 16
    pos = 0
    bits = np.int64(0)
    nbits = 0
    if bsq:
        for z in range(nz):
            for t in range(n):
                pos, bits, nbits = _encode_one(delta, z, t, dyn, u_max, gam, top, init, accs, out, pos, bits, nbits)
                if pos > cap:
                    return -1
    else:
        for y in range(ny):
            for z0 in range(0, nz, depth):
                z1 = min(z0 + depth, nz)
                for x in range(nx):
                    t = y * nx + x
                    for z in range(z0, z1):
                        pos, bits, nbits = _encode_one(
                            delta, z, t, dyn, u_max, gam, top, init, accs, out, pos, bits, nbits
                        )
                        if pos > cap:  # per sample: the 16 spare bytes hold one codeword, not M
                            return -1
    if nbits > 0:
        out[pos] = (bits << (8 - nbits)) & 0xFF
        pos += 1
    return pos


@njit(cache=True, nogil=True, inline="always")
def _window(words, pos):  # pragma: no cover - compiled
    """The 64 bits of the stream starting at bit ``pos`` (words: big-endian 64-bit words, zero-padded)."""
    wi = pos >> 6
    r = np.uint64(pos & 63)
    return (words[wi] << r) | ((words[wi + 1] >> np.uint64(1)) >> (np.uint64(63) - r))


@njit(cache=True, nogil=True, inline="always")
def _decode_one(words, pos, delta, z, t, dyn, u_max, gam, top, init, accs):  # pragma: no cover - compiled
    win = _window(words, pos)
    one = np.uint64(1)
    if t == 0:
        d = np.int64((win >> one) >> np.uint64(63 - dyn))
        pos += dyn
    else:
        accs[z] = _update(accs[z], gam[t - 1], np.int64(delta[z, t - 1]), t, top, init)
        k = _code_param(gam[t], accs[z], dyn)
        u = min(_clzu64(win), u_max)
        if u < u_max:  # u zeros, a one, k low bits
            rest = win << np.uint64(u + 1)
            d = (np.int64(u) << k) | np.int64((rest >> one) >> np.uint64(63 - k))
            pos += u + 1 + k
        else:  # U_max zeros, then delta in D bits
            d = np.int64(((win << np.uint64(u_max)) >> one) >> np.uint64(63 - dyn))
            pos += u_max + dyn
    ok = d < (np.int64(1) << dyn)
    if ok:
        delta[z, t] = d
    return pos, ok


@njit(cache=True, nogil=True)
def decode_residuals(  # pragma: no cover - compiled
    words: np.ndarray,
    nbytes: int,
    delta: np.ndarray,
    nx: int,
    dyn: int,
    bsq: bool,
    depth: int,
    u_max: int,
    gamma_star: int,
    gamma0: int,
    kprime: int,
) -> int:
    """Read the codewords of ``delta`` (B, H*W) uint16, inverse of :func:`encode_residuals`.

    ``words`` holds the ``nbytes`` body bytes as big-endian 64-bit words followed by
    at least two zero words (:func:`stream_words`). Returns the number of bits
    consumed, -1 when the data runs out, -2 when a codeword decodes to a value
    outside [0, 2^D - 1].
    """
    nz, n = delta.shape
    ny = n // nx
    limit = 8 * nbytes
    gam = gamma_table(n, gamma_star, gamma0)
    top = (1 << gamma_star) - 1
    init = (((3 << (kprime + 6)) - 49) * (1 << gamma0)) >> 7
    accs = np.zeros(nz, dtype=np.int64)
    pos = 0
    if bsq:
        for z in range(nz):
            for t in range(n):
                if pos > limit:
                    return -1
                pos, ok = _decode_one(words, pos, delta, z, t, dyn, u_max, gam, top, init, accs)
                if not ok:
                    return -2
    else:
        for y in range(ny):
            for z0 in range(0, nz, depth):
                z1 = min(z0 + depth, nz)
                for x in range(nx):
                    t = y * nx + x
                    for z in range(z0, z1):
                        if pos > limit:
                            return -1
                        pos, ok = _decode_one(words, pos, delta, z, t, dyn, u_max, gam, top, init, accs)
                        if not ok:
                            return -2
    if pos > limit:
        return -1
    return pos


@njit(cache=True, nogil=True, inline="always")
def _put(out, pos, bits, nbits, value, width):  # pragma: no cover - compiled
    """Append the ``width`` (0..32) low bits of ``value`` to a writer: ``out`` bytes, ``pos`` the
    next byte, ``bits`` / ``nbits`` the pending (< 8) bits. Returns the new (pos, bits, nbits)."""
    bits = (bits << width) | value
    nbits += width
    while nbits >= 8:
        nbits -= 8
        out[pos] = (bits >> nbits) & 0xFF
        pos += 1
    bits &= (np.int64(1) << nbits) - 1
    return pos, bits, nbits


def stream_words(body: np.ndarray) -> np.ndarray:
    """The bytes of ``body`` as native uint64 holding big-endian words, plus two zero words."""
    n = body.shape[0]
    padded = np.zeros(((n + 7) // 8 + 2) * 8, dtype=np.uint8)
    padded[:n] = body
    return padded.view(">u8").astype(np.uint64)


@njit(cache=True, nogil=True, inline="always")
def _encode_one(delta, z, t, dyn, u_max, gam, top, init, accs, out, pos, bits, nbits):  # pragma: no cover
    d = np.int64(delta[z, t])
    if t == 0:
        width, value = dyn, d
    else:
        accs[z] = _update(accs[z], gam[t - 1], np.int64(delta[z, t - 1]), t, top, init)
        k = _code_param(gam[t], accs[z], dyn)
        uq = d >> k
        if uq < u_max:  # u zeros and a one, then the k low bits
            pos, bits, nbits = _put(out, pos, bits, nbits, 1, uq + 1)
            width, value = k, d & ((np.int64(1) << k) - 1)
        else:  # U_max zeros, then delta in D bits
            pos, bits, nbits = _put(out, pos, bits, nbits, 0, u_max)
            width, value = dyn, d
    return _put(out, pos, bits, nbits, value, width)


@njit(cache=True, nogil=True, inline="always")
def next_sample(z, z0, t, nz, n, nx, bsq, depth):  # pragma: no cover - compiled
    """The sample after (z, t) in the encoding order; z0 is the first band of z's BI group.

    BSQ: t runs fastest, then z. BI with depth M: z runs fastest within its group of M
    bands, then x, then the next group of the same row, then the next row. Start at
    (0, 0, 0); after the last sample the result is past the image.
    """
    if bsq:
        t += 1
        if t == n:
            t = 0
            z += 1
        return z, z0, t
    z += 1
    if z < min(z0 + depth, nz):
        return z, z0, t
    t += 1
    if t % nx != 0:
        return z0, z0, t
    if z0 + depth < nz:  # next group, same row
        return z0 + depth, z0 + depth, t - nx
    return 0, 0, t  # next row, first group


def _kprime(k: int, dyn: int) -> int:
    """k' of the accumulator initialisation (CCSDS 123.0-B-2, 5.4.3.2.3.1)."""
    return k if k <= 30 - dyn else 2 * k + dyn - 30


def encode_body(delta: np.ndarray, h: Any) -> bytes:
    """The entropy-coded body of the mapped indices ``delta`` (B, H*W) with the coder ``h`` names.

    ``h`` is a :class:`~hsbench.codecs.ccsds123.header.Ccsds123Header`; the body is
    byte-aligned (zero bits after its last bit), without the word-size fill.
    """
    nz, n = delta.shape
    dyn, nx = h.dynamic_range, h.x_size
    bsq = h.order == "bsq"
    depth = h.interleave_depth or nz
    if h.entropy_coder == "hybrid":
        from hsbench.codecs.ccsds123.hybrid import hybrid_encode
        from hsbench.codecs.ccsds123.lowentropy import INPUT_SYMBOL_LIMITS, THRESHOLDS, low_entropy_tables

        tab = low_entropy_tables()
        worst = delta.size * (h.u_max + dyn + 22) // 8 + nz * 8 + 4096

        def run(out: np.ndarray) -> int:
            return hybrid_encode(delta, nx, dyn, bsq, depth, h.u_max, h.gamma_star, h.gamma0, tab.child,
                                 tab.is_leaf, tab.word_value, tab.word_len, INPUT_SYMBOL_LIMITS, THRESHOLDS, out)
    elif h.entropy_coder == "block":
        from hsbench.codecs.ccsds123.block import block_encode, id_bits, max_split

        nid, kmax = id_bits(dyn, h.restricted_codes), max_split(dyn, h.restricted_codes)
        worst = (delta.size + h.block_size) * (dyn + nid) // 8 + 4096

        def run(out: np.ndarray) -> int:
            return block_encode(delta, nx, dyn, bsq, depth, h.block_size, h.reference_interval, nid, kmax, out)
    else:
        worst = delta.size * (h.u_max + dyn) // 8 + 4096
        kp = _kprime(h.k_init, dyn)

        def run(out: np.ndarray) -> int:
            return encode_residuals(delta, nx, dyn, bsq, depth, h.u_max, h.gamma_star, h.gamma0, kp, out)
    # compressed images are almost always smaller than D bits per sample; else retry at the worst case
    for capacity in (delta.size * dyn // 8 + 4096, worst):
        out = np.empty(capacity, dtype=np.uint8)
        used = run(out)
        if used >= 0:
            return out[:used].tobytes()
    raise RuntimeError("CCSDS 123 body exceeds its worst-case size")  # pragma: no cover - cannot happen


def _min_body_bits(h: Any) -> int:
    """A lower bound on the body bits of any stream with header ``h`` (bounds allocations by payload)."""
    nz, n, dyn = h.z_size, h.y_size * h.x_size, h.dynamic_range
    if h.entropy_coder == "hybrid":
        # a codeword of at least one bit covers at most 256 samples (the longest input word), the
        # 16 active prefixes at most 255 each; the tail holds 16 flush codewords (>= 1 bit), the
        # accumulators and a one bit; the first sample of each band takes D bits
        return max(nz * (n - 1) - 16 * 255, 0) // 256 + nz * (2 * dyn + 2 + h.gamma_star) + 17
    if h.entropy_coder == "block":
        from hsbench.codecs.ccsds123.block import SEGMENT, id_bits

        blocks = (nz * n + h.block_size - 1) // h.block_size
        nid = id_bits(dyn, h.restricted_codes)
        return (blocks // SEGMENT) * (nid + 6)  # a zero-block run code covers at most one segment
    return nz * (dyn + n - 1)  # D bits for each band's first sample, at least one for the others


def decode_body(raw: bytes, hlen: int, h: Any) -> np.ndarray:
    """Decode the body of the stream ``raw`` (header of ``hlen`` bytes, described by ``h``).

    Returns the mapped indices (B, H*W) uint16. Raises :class:`CorruptStreamError` for a
    truncated, damaged or wrongly padded body.
    """
    nz, ny, nx = h.z_size, h.y_size, h.x_size
    dyn = h.dynamic_range
    bsq = h.order == "bsq"
    depth = h.interleave_depth or nz
    nbody = len(raw) - hlen
    least = _min_body_bits(h)
    if 8 * nbody < least:
        raise CorruptStreamError(
            f"CCSDS 123 stream truncated: its header announces {nz} x {ny} x {nx} samples, which need at "
            f"least {(least + 7) // 8} body bytes with the {h.entropy_coder} coder; it has {nbody}"
        )
    delta = np.empty((nz, ny * nx), dtype=np.uint16)
    if h.entropy_coder == "hybrid":
        from hsbench.codecs.ccsds123.hybrid import hybrid_decode
        from hsbench.codecs.ccsds123.lowentropy import INPUT_SYMBOL_LIMITS, THRESHOLDS, low_entropy_tables

        whole = np.frombuffer(raw, dtype=np.uint8)
        nonzero = np.flatnonzero(whole[hlen:])
        if nonzero.size == 0:
            raise CorruptStreamError("CCSDS 123 hybrid stream is damaged: its body has no final one bit")
        last = hlen + int(nonzero[-1])
        end = 8 * last + 8 - (int(whole[last]) & -int(whole[last])).bit_length() + 1  # just after the last one
        total = last + 1
        total += (-total) % h.output_word_size
        if total != len(raw):
            raise CorruptStreamError(
                f"CCSDS 123 hybrid stream has {len(raw)} bytes but ends (its final one bit) in byte {last}; "
                "it is truncated, damaged or has trailing data"
            )
        tab = low_entropy_tables()
        status = hybrid_decode(stream_words(whole), 8 * hlen, end, delta, nx, dyn, bsq, depth, h.u_max,
                               h.gamma_star, h.gamma0, tab.symbol, tab.parent, tab.code_trie, tab.flush_trie,
                               INPUT_SYMBOL_LIMITS, THRESHOLDS)
        if status == -1:
            raise CorruptStreamError(
                f"CCSDS 123 hybrid stream truncated: its body ends before the first of {nz * ny * nx} samples"
            )
        if status == -2:
            raise CorruptStreamError("CCSDS 123 hybrid stream is damaged: it decodes to values outside the D-bit "
                                     "range or a negative accumulator")
        if status == -3:
            raise CorruptStreamError("CCSDS 123 hybrid stream is damaged: its samples end before its body starts")
        return delta
    body = np.frombuffer(raw, dtype=np.uint8, offset=hlen)
    if h.entropy_coder == "block":
        from hsbench.codecs.ccsds123.block import block_decode, id_bits, max_split

        used = block_decode(stream_words(body), nbody, delta, nx, dyn, bsq, depth, h.block_size,
                            h.reference_interval, id_bits(dyn, h.restricted_codes),
                            max_split(dyn, h.restricted_codes))
    else:
        used = decode_residuals(stream_words(body), nbody, delta, nx, dyn, bsq, depth, h.u_max, h.gamma_star,
                                h.gamma0, _kprime(h.k_init, dyn))
    if used == -1:
        raise CorruptStreamError(
            f"CCSDS 123 stream truncated: {len(raw)} bytes end before the last of {nz * ny * nx} samples"
        )
    if used == -2:
        raise CorruptStreamError("CCSDS 123 stream is damaged: a codeword decodes outside the D-bit range, "
                                 "to an undefined option or past its segment")
    total = hlen + (used + 7) // 8
    total += (-total) % h.output_word_size
    if len(raw) != total:
        raise CorruptStreamError(
            f"CCSDS 123 stream has {len(raw)} bytes but its header and body take {total}; "
            "it is truncated, damaged or has trailing data"
        )
    if (used & 7) and raw[hlen + (used >> 3)] & (0xFF >> (used & 7)):
        raise CorruptStreamError("CCSDS 123 stream is damaged: its fill bits are not zero")
    return delta
