"""The CCSDS 123.0-B-2 adaptive linear predictor, quantizer and mapper (section 4), compiled with numba.

One kernel, :func:`predict`, runs the predictor band by band in both directions:
encoding turns samples into mapped quantizer indices delta; decoding turns the
deltas back into the reconstructed samples (the clipped quantizer bin centres
s'). Sharing the kernel keeps the encoder and decoder bit-exact by construction.
The predictor's arithmetic does not depend on the encoding order (BSQ / BI), so
the band-sequential loop serves every order; only the entropy coder interleaves.

Equations (CCSDS 123.0-B-2, with s'' the sample representative, t = y Nx + x):

* local sum sigma (4.4): wide / narrow, neighbour- / column-oriented;
* central local difference d = 4 s'' - sigma; directional dN, dW, dNW (4.5);
* weights (4.6): default init, W_1 = floor(7 2^Omega / 8), W_i = floor(W_{i-1} / 8);
* predicted central difference d^ = W . U (4.7.1);
* high-resolution prediction s_breve = clip(mod*_R[d^ + 2^Omega (sigma - 4 s_mid)]
  + 2^(Omega+2) s_mid + 2^(Omega+1), 2^(Omega+2) s_min, 2^(Omega+2) s_max + 2^(Omega+1)),
  s_tilde = floor(s_breve / 2^(Omega+1)), s^ = floor(s_tilde / 2) (4.7.2-4.7.3);
  at t = 0: s_tilde = 2 s_{z-1}(0) when P > 0 and z > 0, else 2 s_mid;
* quantizer (4.8): m = a, floor(r |s^| / 2^D) or their minimum;
  q = sgn(Delta) floor((|Delta| + m) / (2m + 1)) (q = Delta at t = 0);
  s' = clip(s^ + q (2m + 1), s_min, s_max);
* sample representative (4.9) with damping phi, offset psi, resolution Theta;
* weight update (4.10): e = 2 s' - s_tilde,
  W += floor((sgn+(e) 2^-rho(t) U + 1) / 2), clipped to [-2^(Omega+2), 2^(Omega+2) - 1],
  rho(t) = clip(nu_min + floor((t - Nx) / t_inc), nu_min, nu_max) + D - Omega;
* mapping (4.11): theta = min(floor((s^ - s_min + m) / (2m+1)), floor((s_max - s^ + m) / (2m+1)));
  delta = |q| + theta if |q| > theta, 2|q| if 0 <= (-1)^s_tilde q <= theta, else 2|q| - 1.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def _mod_star(x: int, r: int) -> int:  # pragma: no cover - compiled
    """mod*_R: the R-bit two's complement wrap of x (identity for R = 64)."""
    if r >= 64:
        return x
    half = np.int64(1) << (r - 1)
    mask = (np.int64(1) << r) - 1
    return ((x + half) & mask) - half


@njit(cache=True, nogil=True)
def predict(  # pragma: no cover - compiled
    s: np.ndarray,
    delta: np.ndarray,
    decode: bool,
    dyn: int,
    s_min: int,
    s_max: int,
    p: int,
    full: bool,
    local_sum: int,
    reg: int,
    omega: int,
    t_inc_log2: int,
    nu_min: int,
    nu_max: int,
    fidelity: int,
    a_lim: int,
    r_lim: int,
    theta_res: int,
    phi: int,
    psi: int,
) -> None:
    """Run the CCSDS 123.0-B-2 predictor over ``s`` (B, H, W), uint16 or int16.

    Encoding (``decode=False``): reads ``s``, writes the mapped quantizer indices
    into ``delta`` (B, H, W) uint16. Decoding: reads ``delta`` and writes the
    reconstructed samples into ``s``. See the module docstring for the equations.
    """
    nz, ny, nx = s.shape
    s_mid = 0 if s_min < 0 else (np.int64(1) << (dyn - 1))
    ring = max(p, 1)
    cdiff = np.zeros((ring, ny, nx), dtype=np.int32)  # central local differences of the previous bands
    rep = np.zeros((2, ny, nx), dtype=np.int32)  # sample representatives of bands z and z - 1
    ncomp = p + 3
    w = np.zeros(ncomp, dtype=np.int64)
    u = np.zeros(ncomp, dtype=np.int64)
    slots = np.zeros(max(p, 1), dtype=np.int64)
    w_min = -(np.int64(1) << (omega + 2))
    w_max = (np.int64(1) << (omega + 2)) - 1
    hr_lo = (np.int64(1) << (omega + 2)) * s_min
    hr_hi = (np.int64(1) << (omega + 2)) * s_max + (np.int64(1) << (omega + 1))
    off = 3 if full else 0
    for z in range(nz):
        pz = min(z, p)
        nc = off + pz
        cur = z & 1
        prv = 1 - cur
        slot = z % ring
        for i in range(pz):
            slots[i] = (z - 1 - i) % ring
        # default weight initialisation (4.6.3)
        wn = np.int64(0)  # directional weights (full mode)
        ww = np.int64(0)
        wnw = np.int64(0)
        if pz > 0:
            w[0] = (7 * (np.int64(1) << omega)) >> 3
            for i in range(1, pz):
                w[i] = w[i - 1] >> 3
        for y in range(ny):
            for x in range(nx):
                t = y * nx + x
                if t == 0:
                    if p > 0 and z > 0:
                        s_tilde = 2 * np.int64(s[z - 1, 0, 0])
                    else:
                        s_tilde = 2 * s_mid
                    s_hat = s_tilde >> 1
                    theta = min(s_hat - s_min, s_max - s_hat)
                    if decode:
                        dl = np.int64(delta[z, 0, 0])
                        if dl > 2 * theta:
                            q = dl - theta if theta == s_hat - s_min else theta - dl
                        elif dl & 1:
                            q = (dl + 1) >> 1
                            q = q if s_tilde & 1 else -q
                        else:
                            q = dl >> 1
                            q = -q if s_tilde & 1 else q
                        val = s_hat + q
                        if val < s_min or val > s_max:
                            val = min(max(val, s_min), s_max)
                        s[z, 0, 0] = val
                    else:
                        q = np.int64(s[z, 0, 0]) - s_hat
                        aq = abs(q)
                        if aq > theta:
                            delta[z, 0, 0] = aq + theta
                        else:
                            sq = -q if s_tilde & 1 else q
                            delta[z, 0, 0] = 2 * aq if sq >= 0 else 2 * aq - 1
                    rep[cur, 0, 0] = s[z, 0, 0]
                    continue
                # local sum (4.4)
                if local_sum == 0:  # wide neighbour-oriented
                    if y > 0:
                        if x > 0 and x < nx - 1:
                            sigma = (np.int64(rep[cur, y, x - 1]) + rep[cur, y - 1, x - 1]
                                     + rep[cur, y - 1, x] + rep[cur, y - 1, x + 1])
                        elif x == 0:
                            sigma = 2 * (np.int64(rep[cur, y - 1, x]) + rep[cur, y - 1, x + 1])
                        else:
                            sigma = np.int64(rep[cur, y, x - 1]) + rep[cur, y - 1, x - 1] + 2 * np.int64(rep[cur, y - 1, x])
                    else:
                        sigma = 4 * np.int64(rep[cur, y, x - 1])
                elif local_sum == 1:  # narrow neighbour-oriented
                    if y > 0:
                        if x > 0 and x < nx - 1:
                            sigma = (np.int64(rep[cur, y - 1, x - 1]) + 2 * np.int64(rep[cur, y - 1, x])
                                     + rep[cur, y - 1, x + 1])
                        elif x == 0:
                            sigma = 2 * (np.int64(rep[cur, y - 1, x]) + rep[cur, y - 1, x + 1])
                        else:
                            sigma = 2 * (np.int64(rep[cur, y - 1, x - 1]) + rep[cur, y - 1, x])
                    elif z > 0:
                        sigma = 4 * np.int64(rep[prv, y, x - 1])
                    else:
                        sigma = 4 * s_mid
                elif local_sum == 2:  # wide column-oriented
                    if y > 0:
                        sigma = 4 * np.int64(rep[cur, y - 1, x])
                    else:
                        sigma = 4 * np.int64(rep[cur, y, x - 1])
                else:  # narrow column-oriented
                    if y > 0:
                        sigma = 4 * np.int64(rep[cur, y - 1, x])
                    elif z > 0:
                        sigma = 4 * np.int64(rep[prv, y, x - 1])
                    else:
                        sigma = 4 * s_mid
                # local difference vector (4.5)
                if full:
                    if y > 0:
                        nn = 4 * np.int64(rep[cur, y - 1, x]) - sigma
                        if x > 0:
                            un = nn
                            uw = 4 * np.int64(rep[cur, y, x - 1]) - sigma
                            unw = 4 * np.int64(rep[cur, y - 1, x - 1]) - sigma
                        else:
                            un = nn
                            uw = nn
                            unw = nn
                    else:
                        un = np.int64(0)
                        uw = np.int64(0)
                        unw = np.int64(0)
                else:
                    un = np.int64(0)
                    uw = np.int64(0)
                    unw = np.int64(0)
                for i in range(pz):
                    u[i] = cdiff[slots[i], y, x]
                # prediction (4.7)
                dhat = wn * un + ww * uw + wnw * unw
                for i in range(pz):
                    dhat += w[i] * u[i]
                hr = _mod_star(dhat + (sigma - 4 * s_mid) * (np.int64(1) << omega), reg)
                hr += (s_mid << (omega + 2)) + (np.int64(1) << (omega + 1))
                if hr < hr_lo:
                    hr = hr_lo
                elif hr > hr_hi:
                    hr = hr_hi
                s_tilde = hr >> (omega + 1)
                s_hat = s_tilde >> 1
                # quantizer (4.8)
                if fidelity == 0:
                    m = np.int64(0)
                elif fidelity == 1:
                    m = np.int64(a_lim)
                else:
                    m = (r_lim * abs(s_hat)) >> dyn
                    if fidelity == 3 and a_lim < m:
                        m = np.int64(a_lim)
                step = 2 * m + 1
                if m == 0:  # lossless: no divisions
                    room_lo = s_hat - s_min
                    room_hi = s_max - s_hat
                else:
                    room_lo = (s_hat - s_min + m) // step
                    room_hi = (s_max - s_hat + m) // step
                theta = min(room_lo, room_hi)
                if decode:
                    dl = np.int64(delta[z, y, x])
                    if dl > 2 * theta:
                        q = dl - theta if theta == room_lo else theta - dl
                    elif dl & 1:
                        q = (dl + 1) >> 1
                        q = q if s_tilde & 1 else -q
                    else:
                        q = dl >> 1
                        q = -q if s_tilde & 1 else q
                else:
                    dd = np.int64(s[z, y, x]) - s_hat
                    if m == 0:
                        q = dd
                    elif dd >= 0:
                        q = (dd + m) // step
                    else:
                        q = -((m - dd) // step)
                    aq = abs(q)
                    if aq > theta:
                        delta[z, y, x] = aq + theta
                    else:
                        sq = -q if s_tilde & 1 else q
                        delta[z, y, x] = 2 * aq if sq >= 0 else 2 * aq - 1
                sp = s_hat + q * step
                if sp < s_min:
                    sp = np.int64(s_min)
                elif sp > s_max:
                    sp = np.int64(s_max)
                if decode:
                    s[z, y, x] = sp
                # sample representative (4.9)
                if phi == 0 and psi == 0:
                    srep = sp
                else:
                    sgnq = (q > 0) - (q < 0)
                    num = (4 * ((np.int64(1) << theta_res) - phi)
                           * ((sp << omega) - sgnq * m * psi * (np.int64(1) << (omega - theta_res)))
                           + phi * hr - (np.int64(phi) << (omega + 1)))
                    srep = ((num >> (omega + theta_res + 1)) + 1) >> 1
                rep[cur, y, x] = srep
                cdiff[slot, y, x] = 4 * srep - sigma
                # weight update (4.10)
                if nc > 0:
                    e = 2 * sp - s_tilde
                    rho = nu_min + ((t - nx) >> t_inc_log2) if t >= nx else nu_min
                    if rho > nu_max:
                        rho = nu_max
                    if rho < nu_min:
                        rho = nu_min
                    rho += dyn - omega
                    sgn = np.int64(1) if e >= 0 else np.int64(-1)
                    if rho >= 0:
                        half = np.int64(1) << rho
                        for i in range(pz):
                            wi = w[i] + ((sgn * u[i] + half) >> (rho + 1))
                            w[i] = min(max(wi, w_min), w_max)
                        if full:
                            wn = min(max(wn + ((sgn * un + half) >> (rho + 1)), w_min), w_max)
                            ww = min(max(ww + ((sgn * uw + half) >> (rho + 1)), w_min), w_max)
                            wnw = min(max(wnw + ((sgn * unw + half) >> (rho + 1)), w_min), w_max)
                    else:
                        for i in range(pz):
                            wi = w[i] + (((sgn * u[i]) << (-rho)) + 1 >> 1)
                            w[i] = min(max(wi, w_min), w_max)
                        if full:
                            wn = min(max(wn + (((sgn * un) << (-rho)) + 1 >> 1), w_min), w_max)
                            ww = min(max(ww + (((sgn * uw) << (-rho)) + 1 >> 1), w_min), w_max)
                            wnw = min(max(wnw + (((sgn * unw) << (-rho)) + 1 >> 1), w_min), w_max)
