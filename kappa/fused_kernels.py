"""Compiled (numba) fused kernels of the firmware forward: one pass per layer instead of a
chain of whole-array passes (im2col copy, ``to_codes``, dot product, accumulator wrap,
result cast, ``* lsb``).

* :func:`gather_dot_kernel`: the Dense arithmetic of :func:`kappa.fixed_kernels.kernel` on
  receptive fields gathered through an index map (convolutions without an im2col copy,
  Dense and point-wise Dense with the identity map), with the input's conversion to codes
  (grid checked) and the result cast fused;
* :func:`affine_kernel`: BatchNormalization's exact ``(result_t)(x * scale + bias)``;
* :func:`window_max_kernel`: the maximum over pooling windows (padding as a given value).

The arithmetic is that of :mod:`kappa.fixed_kernels` with every rounding mode written as one
branch-free integer expression (:func:`round_constants`), so one compiled loop serves every
mode and vectorises; each fused kernel computes the numbers of the numpy definition it
replaces (:func:`kappa.layers.dense.matrix_arith`, :func:`kappa.layers.batchnorm.affine_exact`,
the pooling family's window maximum); the tests in
``tests/emulation/test_fused_paths.py`` compare them on random inputs of every mode.

A cast is described by a :func:`cast_spec` tuple: codes at ``2**-(F_t + shift)`` to codes of a
type as :func:`kappa.quantization.requantize_codes` (overflow code 3: none). Callers guarantee
that a left shift keeps every code below ``2**62``.
"""

from __future__ import annotations

import functools

import numpy as np

from .fixed_kernels import OVERFLOW_CODES

NO_CAST = (0, 0, 0, 0, 0, 3, -1, 0, 0, 0, 0)
"""A :func:`cast_spec` that leaves codes unchanged."""


def round_constants(shift: int, mode: str) -> tuple[int, int, int]:
    """``(c0, c1, c2)`` with which ``(p + c0 + (c1 & (p >> 63)) + (c2 & (p >> s))) >> s`` is
    the rounding of the code ``p`` by ``s = shift > 0`` bits in ``mode`` (``p >> 63`` is -1 for a
    negative ``p``, ``(p >> s) & 1`` the parity of the truncated code): the integer rules of
    :mod:`kappa.fixed_kernels` written without branches (for a negative ``p`` the modes on the
    magnitude become ``ceil``-style offsets). ``shift <= 0``: (0, 0, 0)."""
    if shift <= 0:
        return 0, 0, 0
    h, full = 1 << (shift - 1), (1 << shift) - 1
    return {"TRN": (0, 0, 0), "RND": (h, 0, 0), "RND_MIN_INF": (h - 1, 0, 0), "RND_CONV": (h - 1, 0, 1),
            "TRN_ZERO": (0, full, 0), "RND_ZERO": (h - 1, 1, 0), "RND_INF": (h, -1, 0)}[mode]


def cast_spec(shift: int, t) -> tuple:
    """``(s, ls, c0, c1, c2, overflow, wmask, half, signed, lo, hi)``: the conversion of codes at
    ``2**-(t.fractional + shift)`` to ``t`` as :func:`kappa.quantization.requantize_codes`
    (``ap_int`` targets round toward zero): a right shift ``s`` with :func:`round_constants`
    ``c0, c1, c2`` or a left shift ``ls``, then the overflow (0 WRAP to ``W`` bits: ``wmask``
    ``2**W - 1``, ``half`` ``2**(W-1)``; 1 clip to ``[lo, hi]`` = ``[qmin, qmax]``; 2 SAT_ZERO:
    0 outside ``[lo, hi]`` = the full range)."""
    mode = "TRN_ZERO" if t.kind == "int" else t.rounding
    ovf = OVERFLOW_CODES[t.overflow]
    full_min = -(1 << (t.width - 1)) if t.signed else 0
    return (max(int(shift), 0), max(-int(shift), 0), *round_constants(shift, mode), ovf, (1 << t.width) - 1,
            1 << (t.width - 1), int(t.signed), int(t.qmin) if ovf == 1 else full_min, int(t.qmax))


@functools.cache
def _kernels() -> dict:
    return _build()


def gather_dot_kernel():
    """``gd(x, xscale, idx, wc, acc0, s, rc, ovf, lo, hi, mask, acc_spec, res_spec, out_scale,
    out) -> int``.

    Args:
        x: float64 (N, L) input values (one row per sample), on the grid ``1 / xscale``.
        xscale: ``2**F_x``. idx: int64 (P, K) the flat index into a row of ``x`` of each of
            the K inputs of each of the P dot products of a sample, or L for a zero (padding).
        wc: int64 (K, n_out) weight codes. acc0: int64 (n_out,) bias codes on ``accum_t``.
        s: the product shift (>= 0; a left shift is applied to ``wc`` beforehand). rc: int64
            (3,) :func:`round_constants` of the accumulator's rounding. ovf, lo, hi, mask: as
            :func:`kappa.fixed_kernels.kernel` (overflow code, bounds, WRAP product mask).
        acc_spec: int64 :func:`cast_spec` applied to every accumulator first (WRAP: the wrap
            to ``accum_t``; else :data:`NO_CAST`). res_spec: the cast to the result type.
        out_scale: the result's LSB. out: float64 (N, P, n_out), written.

    Returns:
        -1, or the flat index into ``x`` of the first value off the input grid (``out`` is
        then incomplete).
    """
    return _kernels()["gather_dot"]


def affine_kernel():
    """``af(x, xscale, sc, bc, sh_p, sh_b, res_spec, out_scale, out) -> int``: for x float64
    (M, C) on the grid ``1 / xscale``, sc/bc int64 (C,) scale and bias codes, writes
    ``out[m, c] = cast((xc * sc[c]) << sh_p + (bc[c] << sh_b)) * out_scale``; returns -1 or
    the flat index of the first value off the grid."""
    return _kernels()["affine"]


def window_max_kernel():
    """``wm(x, idx, pad, out)``: x float64 (N, L, C), idx int64 (P, K) flat positions (or -1:
    the value ``pad``) -> ``out[n, p, c] = max_k x[n, idx[p, k], c]`` (float64 (N, P, C))."""
    return _kernels()["window_max"]


def _build():
    from numba import njit

    @njit(inline="always")
    def rq(p, s, c0, c1, c2):
        return (p + c0 + (c1 & (p >> 63)) + (c2 & (p >> s))) >> s

    @njit(inline="always")
    def cast1(q, sp):
        q = rq(q, sp[0], sp[2], sp[3], sp[4]) << sp[1]
        ovf = sp[5]
        if ovf == 0:
            m = q & sp[6]
            return (m ^ sp[7]) - sp[7] if sp[8] else m
        if ovf == 1:
            return min(max(q, sp[9]), sp[10])
        if ovf == 2:
            return 0 if (q < sp[9] or q > sp[10]) else q
        return q

    @njit(inline="always")
    def spec(a):
        """A cast's int64 spec array as the tuple ``cast1`` takes (entry 8 as a bool)."""
        return (a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8] != 0, a[9], a[10])

    @njit(inline="always")
    def first_off_grid(row, scale):
        """Index of the first value of ``row`` whose ``value * scale`` is not an integer."""
        for k in range(row.shape[0]):
            if np.rint(row[k] * scale) != row[k] * scale:
                return k
        return -1

    @njit(cache=True, nogil=True)
    def gather_dot(x, xscale, idx, wc, acc0, s, rc, ovf, lo, hi, mask, acc_spec, res_spec, out_scale, out):
        N, L = x.shape
        P, K = idx.shape
        n_out = wc.shape[1]
        c0, c1, c2 = rc[0], rc[1], rc[2]
        a_sp, r_sp = spec(acc_spec), spec(res_spec)
        xs = np.zeros(L + 1, np.int64)
        acc = np.empty(n_out, np.int64)
        for n in range(N):
            off = False
            for k in range(L):  # branch-free: the grid check is collected and acted on per sample
                c = x[n, k] * xscale
                r = np.rint(c)
                off |= r != c
                xs[k] = np.int64(r)
            if off:
                return n * L + first_off_grid(x[n], xscale)
            for p in range(P):
                for j in range(n_out):
                    acc[j] = acc0[j]
                for i in range(K):
                    xi = xs[idx[p, i]]
                    if xi == 0:
                        continue  # a zero product leaves every partial sum (already in range) unchanged
                    w = wc[i]
                    if ovf == 0:
                        for j in range(n_out):
                            acc[j] += rq(xi * w[j], s, c0, c1, c2) & mask
                    elif ovf == 1:
                        for j in range(n_out):
                            q = min(max(rq(xi * w[j], s, c0, c1, c2), lo), hi)
                            acc[j] = min(max(acc[j] + q, lo), hi)
                    else:
                        for j in range(n_out):
                            q = rq(xi * w[j], s, c0, c1, c2)
                            q = 0 if (q < lo or q > hi) else q
                            t = acc[j] + q
                            acc[j] = 0 if (t < lo or t > hi) else t
                for j in range(n_out):
                    out[n, p, j] = cast1(cast1(acc[j], a_sp), r_sp) * out_scale
        return -1

    @njit(cache=True, nogil=True)
    def affine(x, xscale, sc, bc, sh_p, sh_b, res_spec, out_scale, out):
        M, C = x.shape
        r_sp = spec(res_spec)
        for m in range(M):
            off = False
            for c in range(C):  # branch-free: the grid check is collected and acted on per row
                v = x[m, c] * xscale
                r = np.rint(v)
                off |= r != v
                t = ((np.int64(r) * sc[c]) << sh_p) + (bc[c] << sh_b)
                out[m, c] = cast1(t, r_sp) * out_scale
            if off:
                return m * C + first_off_grid(x[m], xscale)
        return -1

    @njit(cache=True, nogil=True)
    def window_max(x, idx, pad, out):
        N, L, C = x.shape
        P, K = idx.shape
        for n in range(N):
            for p in range(P):
                o = out[n, p]
                for c in range(C):
                    o[c] = -np.inf
                for i in range(K):
                    k = idx[p, i]
                    if k < 0:
                        for c in range(C):
                            o[c] = max(o[c], pad)
                    else:
                        row = x[n, k]
                        for c in range(C):
                            o[c] = max(o[c], row[c])

    return {"gather_dot": gather_dot, "affine": affine, "window_max": window_max}
