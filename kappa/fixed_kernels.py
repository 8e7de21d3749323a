"""Compiled (numba) kernels of kappa's exact fixed-point arithmetic.

* :func:`kernel`: the firmware dot product on integer codes (below);
* :func:`requantize_kernel`: :func:`kappa.quantization.requantize_codes` element by element;
* :func:`quantize_kernel`: :func:`kappa.quantization.quantize` (deterministic modes) with the
  same float64 operations as the numpy expression, one element at a time;
* :func:`codes_kernel`: :func:`kappa.quantization.to_codes` with its grid check.

Each replaces a chain of whole-array numpy passes (10-30 of them) by one pass; the numpy
expressions stay the definition and the tests compare both (``tests/emulation/test_fast_paths.py``).
The element-wise kernels are compiled once per (rounding, overflow) pair, with both as
constants: with run-time modes the sign-dependent branches are mispredicted and an element
costs ~10x more.

The dot-product kernel computes, for every row ``m`` and output ``j``, the accumulator code of
``nnet_dense_latency.h`` (see :mod:`kappa.layers.dense`)::

    acc = acc0[j]
    for i in 0 .. n_in-1:
        acc = ovf(acc + ovf(round(x[m, i] * w[i, j])))

on int64 integer codes, where ``round`` converts a product code at scale
``2**-(F_x + F_w)`` to the accumulator grid (an arithmetic shift plus the rounding rule of
``ap_fixed_base.h``'s conversion) and ``ovf`` is the accumulator's overflow rule:

* WRAP: nothing per step (two's complement sums are modular, so the order of additions
  and the partial-sum casts do not matter); the caller wraps the final sum;
* SAT / SAT_SYM: clip to ``[lo, hi]`` after every product and every partial sum, in input
  order (the order matters);
* SAT_ZERO: 0 outside ``[lo, hi]``, likewise in input order.

Rounding on integers, for ``p = f * 2**s + r`` (``0 <= r < 2**s``, ``h = 2**(s-1)``;
``>>`` is the arithmetic shift, i.e. floor division by ``2**s``):

* TRN: ``p >> s``; RND (ties up): ``(p + h) >> s``; RND_MIN_INF (ties down):
  ``(p + h - 1) >> s``; RND_CONV (ties to even): ``(p + h - 1 + (f & 1)) >> s``;
* TRN_ZERO, RND_ZERO, RND_INF act on the magnitude ``|p|`` (``|p| >> s``,
  ``(|p| + h - 1) >> s``, ``(|p| + h) >> s``) and restore the sign.

The caller (:func:`kappa.layers.dense.dot_codes`) guarantees that nothing leaves int64:
``|p| < 2**62``, ``1 <= s <= 62`` or a left shift that keeps ``|p| << -s < 2**62``, and for
WRAP a ``mask`` (``2**W_acc - 1``, or -1 when the widths prove the raw sum fits) applied
to every rounded product. The kernels are compared with the numpy general path in
``tests/emulation/test_fast_paths.py``.
"""

from __future__ import annotations

import functools

import numpy as np

ROUND_CODES = {"TRN": 0, "RND": 1, "RND_MIN_INF": 2, "RND_CONV": 3, "TRN_ZERO": 4, "RND_ZERO": 5, "RND_INF": 6}
OVERFLOW_CODES = {"WRAP": 0, "SAT": 1, "SAT_SYM": 1, "SAT_ZERO": 2}


@functools.cache
def _kernels() -> dict:
    return _build()


def kernel():
    """The compiled dot product ``dot(xc, wc, acc0, s, mode, ovf, lo, hi, mask, rows)``
    (numba is imported and the kernels compiled on first use; numba caches the machine
    code on disk)."""
    return _kernels()["dot"]


def requantize_kernel():
    """``requant(codes, shift, mode, ovf, W, signed, lo, hi, out)`` (compiled per mode pair): codes at
    ``2**-(F_t + shift)`` -> codes of a type (as :func:`kappa.quantization.requantize_codes`,
    ``|shift| <= 62``; a left shift must keep ``|code| < 2**62``)."""
    return _kernels()["requant"]


def quantize_kernel():
    """``quant(x, F, I, W, signed, is_int, mode, ovf, qmin, qmax, out)`` (compiled per mode pair): float64
    values -> float64 values of a type (as :func:`kappa.quantization.quantize`, deterministic
    rounding modes)."""
    return _kernels()["quant"]


def codes_kernel():
    """Compiled ``codes(x, scale, out) -> index``: ``out = x * scale`` as int64 when every
    element is an integer after scaling; returns -1, or the flat index of the first
    element off the grid."""
    return _kernels()["codes"]


def _build():
    from numba import njit

    @njit(inline="always")
    def rnd(p, s, h, mode):
        if s <= 0:
            return p << (-s)
        if mode == 0:
            return p >> s
        if mode == 1:
            return (p + h) >> s
        if mode == 2:
            return (p + h - 1) >> s
        if mode == 3:
            return (p + h - 1 + ((p >> s) & 1)) >> s
        a = -p if p < 0 else p
        if mode == 4:
            m = a >> s
        elif mode == 5:
            m = (a + h - 1) >> s
        else:
            m = (a + h) >> s
        return -m if p < 0 else m

    @njit(inline="always")
    def add_row(acc, xi, wrow, s, h, mode, ovf, lo, hi, mask):
        n = acc.shape[0]
        if ovf == 0:
            for j in range(n):
                acc[j] += rnd(xi * wrow[j], s, h, mode) & mask
        elif ovf == 1:
            for j in range(n):
                q = rnd(xi * wrow[j], s, h, mode)
                q = min(max(q, lo), hi)
                acc[j] = min(max(acc[j] + q, lo), hi)
        else:
            for j in range(n):
                q = rnd(xi * wrow[j], s, h, mode)
                if q < lo or q > hi:
                    q = 0
                t = acc[j] + q
                acc[j] = 0 if (t < lo or t > hi) else t

    @njit(cache=True, nogil=True)
    def dot(xc, wc, acc0, s, mode, ovf, lo, hi, mask, rows):
        """``xc`` (M, n_in), ``wc`` (n_in, n_out), ``acc0`` (n_out,) int64 -> (len(rows), n_out)
        accumulator codes for the rows ``rows`` of ``xc`` (unwrapped for WRAP)."""
        n_in, n_out = wc.shape
        out = np.empty((rows.shape[0], n_out), np.int64)
        h = np.int64(1) << (s - 1) if s > 0 else np.int64(0)
        acc = np.empty(n_out, np.int64)
        for r in range(rows.shape[0]):
            m = rows[r]
            for j in range(n_out):
                acc[j] = acc0[j]
            for i in range(n_in):
                xi = xc[m, i]
                if xi == 0:
                    continue  # a zero product leaves every partial sum (already in range) unchanged
                wrow = wc[i]
                # one specialised loop per (mode, overflow): constants let LLVM vectorise
                if mode == 0:
                    add_row(acc, xi, wrow, s, h, 0, ovf, lo, hi, mask)
                elif mode == 1:
                    add_row(acc, xi, wrow, s, h, 1, ovf, lo, hi, mask)
                elif mode == 2:
                    add_row(acc, xi, wrow, s, h, 2, ovf, lo, hi, mask)
                elif mode == 3:
                    add_row(acc, xi, wrow, s, h, 3, ovf, lo, hi, mask)
                elif mode == 4:
                    add_row(acc, xi, wrow, s, h, 4, ovf, lo, hi, mask)
                elif mode == 5:
                    add_row(acc, xi, wrow, s, h, 5, ovf, lo, hi, mask)
                else:
                    add_row(acc, xi, wrow, s, h, 6, ovf, lo, hi, mask)
            for j in range(n_out):
                out[r, j] = acc[j]
        return out

    def requant_for(mode, ovf):
        @njit(nogil=True)
        def requant(codes, shift, W, signed, lo, hi, out):
            c = codes.ravel()
            o = out.ravel()
            h = np.int64(1) << (shift - 1) if shift > 0 else np.int64(0)
            period = np.int64(1) << W
            half = np.int64(1) << (W - 1)
            mask = period - 1
            for k in range(c.shape[0]):
                q = rnd(c[k], shift, h, mode)
                if ovf == 0:
                    m = q & mask
                    if signed and m >= half:
                        m -= period
                    q = m
                elif ovf == 1:
                    q = min(max(q, lo), hi)
                elif q < lo or q > hi:
                    q = 0
                o[k] = q

        return requant

    requant_cache = {}

    def requant(codes, shift, mode, ovf, W, signed, lo, hi, out):
        f = requant_cache.get((mode, ovf))
        if f is None:
            f = requant_cache[(mode, ovf)] = requant_for(mode, ovf)
        f(codes, shift, W, signed, lo, hi, out)

    @njit
    def quant_one(x0, mode, ovf, signed, is_int, wrap_p, bound, tiny, scale, inv, period, inv_period, half_p,
                  full_min, qmin, qmax):
        # The float64 operations of kappa.quantization._quantize_core / _round_units
        # (general path) for one element: identical results.
        if ovf == 0:
            xr = x0 if abs(x0) < wrap_p else np.fmod(x0, wrap_p)  # fmod(x, p) == x for |x| < p
        else:
            xr = min(max(x0, -bound), bound)
        ax = abs(xr)
        if ax < tiny and ax > 0:
            xr = tiny if xr > 0 else -tiny
        sv = xr * scale
        neg = sv < 0
        a = abs(sv)
        fa = np.floor(a)
        fr = a - fa
        if mode == 0:
            inc = neg and fr > 0
        elif mode == 1:
            inc = (fr > 0.5) if neg else (fr >= 0.5)
        elif mode == 2:
            inc = (fr >= 0.5) if neg else (fr > 0.5)
        elif mode == 3:
            odd = (fa - 2.0 * np.floor(fa * 0.5)) > 0
            inc = fr > 0.5 or (fr == 0.5 and odd)
        elif mode == 4:
            inc = False
        elif mode == 5:
            inc = fr > 0.5
        else:
            inc = fr >= 0.5
        mag = fa + (1.0 if inc else 0.0)
        q = -mag if neg else mag
        if is_int and neg and abs(x0) < 0.5:
            q = 1.0
        if ovf == 0:
            m = q - period * np.floor(q * inv_period)
            if signed and m >= half_p:
                m = m - period
            q = m
        elif ovf == 2:
            if q < full_min or q > qmax:
                q = 0.0
        else:
            q = min(max(q, qmin), qmax)
        return q * inv + 0.0

    def quant_for(mode, ovf):
        # mode and overflow as compile-time constants: the sign-dependent branches become
        # selects (with run-time modes, mispredicted branches cost ~10x)
        @njit(nogil=True)
        def quant(x, F, I, W, signed, is_int, qmin, qmax, out):
            xv = x.ravel()
            o = out.ravel()
            wrap_p = 2.0 ** I
            bound = 2.0 ** (I + 1)
            tiny = 2.0 ** (-(F + 60))
            scale = 2.0 ** F
            inv = 2.0 ** (-F)
            period = 2.0 ** W
            inv_period = 1.0 / period
            half_p = 2.0 ** (W - 1)
            full_min = -(2.0 ** (W - 1)) if signed else 0.0
            for k in range(xv.shape[0]):
                o[k] = quant_one(xv[k], mode, ovf, signed, is_int, wrap_p, bound, tiny, scale, inv, period,
                                 inv_period, half_p, full_min, qmin, qmax)

        return quant

    quant_cache = {}

    def quant(x, F, I, W, signed, is_int, mode, ovf, qmin, qmax, out):
        f = quant_cache.get((mode, ovf))
        if f is None:
            f = quant_cache[(mode, ovf)] = quant_for(mode, ovf)
        f(x, F, I, W, signed, is_int, qmin, qmax, out)

    @njit(cache=True, nogil=True)
    def codes(x, scale, out):
        xv = x.ravel()
        o = out.ravel()
        for k in range(xv.shape[0]):
            c = xv[k] * scale
            r = np.rint(c)
            if r != c:
                return k
            o[k] = np.int64(r)
        return -1

    return {"dot": dot, "requant": requant, "quant": quant, "codes": codes}
