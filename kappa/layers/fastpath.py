"""The fused (compiled, one-pass) firmware paths the layer families take when they provably
compute the numbers of their numpy definitions; imports nothing from the families.

* :func:`dot_plan` — which exact dot-product path the widths allow (shared by
  :func:`kappa.layers.dense.dot_codes` and the fused path, so both decide alike);
* :func:`fused_dot` — the Dense arithmetic on receptive fields gathered through an index map
  (:func:`kappa.fused_kernels.gather_dot_kernel`): convolutions without an im2col copy,
  Dense and point-wise Dense, with the input's conversion to codes and the result cast in
  the same pass;
* :func:`cast_is_identity` — a cast that provably changes no value (skipped);
* :func:`check_grid` — the error :func:`kappa.quantization.to_codes` raises for a value off
  its type's grid, for the fused kernels that check it on the way.

Every fused path is compared with the numpy definition it replaces in
``tests/emulation/test_fused_paths.py`` (random inputs, values past the rails, every rounding
and overflow mode).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..fixed_point import FixedPointType

EXACT_FLOAT_BITS = 53


def overflow_bounds(acc_t: FixedPointType) -> tuple[int, int]:
    """``(lo, hi)`` integer codes a partial sum must stay within: the clip range of SAT /
    SAT_SYM, the full range outside which SAT_ZERO gives 0 (and WRAP wraps)."""
    full_min = -(1 << (acc_t.width - 1)) if acc_t.signed else 0
    if acc_t.overflow in ("SAT", "SAT_SYM"):
        return int(acc_t.qmin), int(acc_t.qmax)
    return full_min, int(acc_t.qmax)


@dataclass(frozen=True)
class DotPlan:
    """The bounds of one dot product (all in product units, Python ints) and the paths they
    allow (see :func:`kappa.layers.dense.dot_codes`).

    Attributes:
        shift: ``F_x + F_w - F_acc`` (> 0: products are rounded). lo, hi: :func:`overflow_bounds`.
        mask: the WRAP product mask of the integer kernel (-1: none). xb: bound on ``|x|`` codes.
        p_max: bound on ``|product|``. col_sum: per output, ``sum_i |w_ij|``. sum_max: bound
            on ``|sum of products|``. a0_max: ``max |acc0|``.
        exact_ok: the float64 matrix product is exact. kernel_ok: the int64 kernel holds every
            value.
    """

    shift: int
    lo: int
    hi: int
    mask: int
    xb: int
    p_max: int
    col_sum: list
    sum_max: int
    a0_max: int
    exact_ok: bool
    kernel_ok: bool


def dot_plan(xb: int, wc: np.ndarray, acc0: np.ndarray, frac_bits: int, acc_t: FixedPointType) -> DotPlan:
    """The :class:`DotPlan` of int64 weight codes ``wc`` (n_in, n_out), accumulator start
    codes ``acc0`` (n_out,), inputs with ``|code| <= xb`` and exact products with
    ``frac_bits`` fractional bits, accumulated in ``acc_t``."""
    n_in, n_out = wc.shape
    shift = frac_bits - acc_t.fractional
    wrap = acc_t.overflow == "WRAP"
    w_abs = np.abs(wc)
    w_max = int(w_abs.max()) if w_abs.size else 0
    lo, hi = overflow_bounds(acc_t)
    # Python-int bounds (no overflow): |product| and |sum of products| in product units.
    p_max = xb * w_max
    if w_max * n_in < 2**62:
        col_sum = [int(v) for v in w_abs.sum(axis=0)]
    else:
        col_sum = [w_max * n_in] * n_out
    sum_max = xb * max(col_sum)
    a0_max = int(np.abs(acc0).max()) if acc0.size else 0
    exact_ok = shift <= 0 and sum_max < 2**EXACT_FLOAT_BITS
    kernel_ok = 0 < shift <= 62 or (shift <= 0 and (p_max << -shift) < 2**62 and (sum_max << -shift) < 2**62)
    mask = -1
    if kernel_ok and wrap:
        q_max = (p_max >> shift) + 1 if shift > 0 else p_max << -shift
        if a0_max + n_in * q_max >= 2**62:  # mask every rounded product to W_acc bits
            kernel_ok = (n_in + 1) << acc_t.width < 2**62
            mask = (1 << acc_t.width) - 1
    return DotPlan(shift, lo, hi, mask, xb, p_max, col_sum, sum_max, a0_max, exact_ok, kernel_ok)


def cast_is_identity(src_t: FixedPointType | None, dst_t: FixedPointType | None, *, nonnegative: bool = False) -> bool:
    """True when converting any value of ``src_t`` (only the values >= 0 with ``nonnegative``)
    to ``dst_t`` returns it unchanged: every ``src_t`` grid point lies on ``dst_t``'s grid (no
    rounding mode moves a value on the grid) and ``src_t``'s range lies inside ``dst_t``'s
    representable range (no overflow mode acts). ``ap_int`` targets and untyped (float)
    sides are never treated as identities."""
    if src_t is None or dst_t is None or dst_t.kind == "int" or src_t.kind == "int":
        return False
    if dst_t.fractional < src_t.fractional:
        return False
    shift = dst_t.fractional - src_t.fractional
    lo = 0 if nonnegative or not src_t.signed else -(1 << (src_t.width - 1)) << shift  # every code, SAT_SYM's too
    hi = int(src_t.qmax) << shift
    return int(dst_t.qmin) <= lo and hi <= int(dst_t.qmax)


def check_grid(bad: int, x: np.ndarray, t: FixedPointType) -> None:
    """Raise :func:`kappa.quantization.to_codes`'s ValueError for the flat index ``bad`` of
    ``x`` (a fused kernel's grid check; ``bad < 0``: every value was on the grid)."""
    if bad >= 0:
        raise ValueError(f"value {np.asarray(x).ravel()[bad]!r} is not on the grid of {t}")


def cast_fits(bits: int, shift: int) -> bool:
    """A conversion of codes below ``2**bits`` by ``shift`` (< 0: a left shift) keeps every
    intermediate below ``2**62``."""
    return shift >= 0 or bits - shift <= 62


def fused_dot(x: np.ndarray, idx: np.ndarray, wc: np.ndarray, acc0: np.ndarray, in_t: FixedPointType,
              w_t: FixedPointType, acc_t: FixedPointType, res_t: FixedPointType | None):
    """The firmware dot products (:func:`kappa.layers.dense.matrix_arith`) of the receptive
    fields ``x[:, idx]``, fused, or None when the integer kernel cannot hold the values.

    Args:
        x: float64 (N, L) on ``in_t`` (one sample per row). idx: int64 (P, K) flat indices into
            a row (-1: a zero, e.g. padding). wc: int64 (K, n_out) weight codes. acc0: int64
            (n_out,) the bias on ``accum_t``. in_t, w_t, acc_t, res_t: the types (res_t None:
            the accumulator's value).

    Returns:
        float64 (N, P, n_out), or None (the caller takes the numpy path).

    Raises:
        ValueError: a value of ``x`` off ``in_t``'s grid (as ``to_codes``).
    """
    N, L = x.shape
    P, K = idx.shape
    if N == 0 or K == 0 or wc.shape[1] == 0:
        return None
    plan = dot_plan(max(-int(in_t.qmin), int(in_t.qmax)), wc, acc0, in_t.fractional + w_t.fractional, acc_t)
    if not plan.kernel_ok:
        return None
    from ..fixed_kernels import OVERFLOW_CODES
    from ..fused_kernels import NO_CAST, cast_spec, gather_dot_kernel, round_constants

    wrap = acc_t.overflow == "WRAP"
    acc_spec = cast_spec(0, acc_t) if wrap else NO_CAST
    if res_t is None:
        res_spec, scale = NO_CAST, acc_t.lsb
    else:
        shift = acc_t.fractional - res_t.fractional
        if not cast_fits(acc_t.width, shift):
            return None
        res_spec, scale = cast_spec(shift, res_t), res_t.lsb
    s = plan.shift
    if s < 0:  # products on the accumulator grid: shift the weights (|p| << -s < 2**62, plan.kernel_ok)
        wc, s = np.asarray(wc, np.int64) << np.int64(-s), 0
    mode = "TRN_ZERO" if acc_t.kind == "int" else acc_t.rounding
    out = np.empty((N, P, wc.shape[1]), np.float64)
    xx = np.ascontiguousarray(x, np.float64)
    ii = np.ascontiguousarray(np.where(idx < 0, L, idx), np.int64)
    bad = gather_dot_kernel()(xx, 2.0**in_t.fractional, ii, np.ascontiguousarray(wc, np.int64),
                              np.ascontiguousarray(acc0, np.int64), s, np.array(round_constants(s, mode), np.int64),
                              OVERFLOW_CODES[acc_t.overflow], plan.lo, plan.hi, plan.mask,
                              np.array(acc_spec, np.int64), np.array(res_spec, np.int64), scale, out)
    check_grid(bad, xx, in_t)
    return out
