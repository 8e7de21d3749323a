"""The Dense arithmetic of :mod:`kappa.layers.dense` in TensorFlow: the training forward of
Dense, point-wise Dense and every convolution (per output pixel), bit-exact to
``nnet_dense_latency.h`` with straight-through gradients.

* :func:`matrix_arith_tf`: one layer (products, accumulator, result cast);
* :func:`exact_accumulate`: the accumulator values by provably identical fast paths;
* :func:`rounded_product_units`: products rounded one by one onto the accumulator grid
  (by input residues where few bits are dropped, :func:`_residue_units`);
* :func:`data_side_tf`: what of a layer's arithmetic depends on its input alone (the input
  rows and their residues), for a layer that reads the data: the training loop computes it
  once for all of a call's samples (:meth:`kappa.training_forward.TrainingForward.prepare`)
  instead of once per step.
"""

from __future__ import annotations

import math

import numpy as np

from ..fixed_point import FixedPointType
from ..straight_through import q_ste, with_value
from ._common import MAX_PRODUCT_BITS_NUMPY, MAX_PRODUCT_BITS_TF, is_ternary
from .base import Step
from .fastpath import cast_is_identity

#: Rounding modes with ``round(n + y) = n + round(y)`` for every integer n (RND_CONV: for
#: every even n): the ones :func:`rounded_product_units` can split.
SHIFT_INVARIANT_MODES = ("TRN", "RND", "RND_MIN_INF", "RND_CONV")


#: Largest number of dropped product bits (k', see :func:`_residue_units`) for which the
#: residue form is used: it costs 2**k' - 1 weight-sized tensors instead of one
#: (N, n_in, n_out) tensor of rounded products.
RESIDUE_MAX_BITS = 3

#: Convolutions (and point-wise Dense layers) with at most this many outputs take the
#: one-hot residue product in int32: TensorFlow's float64 product of such a narrow matrix
#: is slow on CPU (and its float32 one runs on oneDNN threads that compete with the training
#: step's). int32 ran the Conv1D benchmark's second convolution (832 x 72 by 72 x 8) 1.6x
#: faster in isolation and the Conv1D and digits-CNN training steps 8-14 % faster; a Dense
#: layer's few rows per step gained nothing and paid for the casts.
INT32_TABLE_MAX_OUTPUTS = 16


def _hot_dtype(step: Step):
    """The dtype of ``step``'s one-hot residues and their product (see
    :data:`INT32_TABLE_MAX_OUTPUTS`): int32 for several rows per sample and few outputs."""
    import tensorflow as tf

    rows = int(np.prod(step.out_shape[:-1], dtype=np.int64))
    return tf.int32 if rows > 1 and int(step.out_shape[-1]) <= INT32_TABLE_MAX_OUTPUTS else tf.float64


def _residue_units(x, w, x_t: FixedPointType, w_t: FixedPointType, k: int, kk: int, mode: str, xr=None):
    """:func:`rounded_product_units` by residues, for the shift-invariant modes: no
    (N, n_in, n_out) tensor.

    With ``m = 2**k'`` (``k' = k``, or ``k + 1`` for RND_CONV), the input codes
    ``xc = m a + c`` and the weight codes ``wc = m h + l`` (``0 <= c, l < m``, floor
    division), ``xc wc / 2**k = (m / 2**k) (xc h + a l) + c l / 2**k``. The first term is an
    integer (an even one for RND_CONV), so by shift invariance
    ``round(xc wc / 2**k) = (m / 2**k) (xc h + a l) + round(c l / 2**k)``, and summed over
    ``i``::

        sum_i round(xc_i wc_ij / 2**k) = (m / 2**k) (xc @ h + a @ l)_j
                                         + sum_{v=1}^{m-1} ([c == v] @ round(v l / 2**k))_j

    The last sum is one matrix product of the one-hot residues (N, n_in (m-1)) with the
    stacked tables ``round(v l / 2**k)`` (n_in (m-1), n_out). Every term is an integer
    below ``2**(W_x + W_w + log2(n_in) + 1)`` (the caller checks ``<= 2**52``), so the float64
    products and sums are exact and the result equals rounding each product on its own.

    Args:
        x: float64 (N, n_in) on ``x_t``; w: float64 (n_in, n_out) on ``w_t``.
        k: dropped product bits ``F_x + F_w - F_acc`` (>= 1); kk: ``k'`` above.
        xr: :func:`input_residues` of ``x`` when already computed (the rows of ``x``).

    Returns:
        float64 (N, n_out) of integers (accumulator LSB units).
    """
    import tensorflow as tf

    from ..quantization import round_units_tensor

    m = 2**kk
    n_in, n_out = int(w.shape[0]), int(w.shape[1])
    xr = input_residues(x, x_t, kk) if xr is None else xr
    wc = w * 2.0**w_t.fractional
    h = tf.math.floor(wc * (1.0 / m))
    lo = wc - m * h
    head = (tf.matmul(xr["xc"], h) + tf.matmul(xr["a"], lo)) * float(m // 2**k)
    v = np.arange(1, m, dtype=np.float64) * 2.0**-k                                # exact: v / 2**k
    # (n_in, m-1, n_out) directly in the order of the one-hot columns (no transpose)
    table = round_units_tensor(lo[:, None, :] * tf.constant(v.reshape(1, m - 1, 1)), mode, bounded=True)
    table = tf.reshape(table, [n_in * (m - 1), n_out])
    if xr["hot"].dtype == tf.int32:
        # |table| <= (m - 1)**2 / 2**k + 1 <= 2**(kk + 1) <= 16 (k >= kk - 1, kk <= 3), n_in
        # of them per sum: exact in int32 for any n_in below 2**27
        return head + tf.cast(tf.matmul(xr["hot"], tf.cast(table, tf.int32)), tf.float64)
    return head + tf.matmul(xr["hot"], table)


def input_residues(x, x_t: FixedPointType, kk: int, hot_dtype=None) -> dict:
    """The input side of :func:`_residue_units`: ``x`` (M, n_in) float64 on ``x_t`` ->
    ``{"xc": codes, "a": xc // 2**kk, "hot": one-hot residues (M, n_in (2**kk - 1))}``
    (float64, ``hot`` in ``hot_dtype`` (default float64, or int32, see
    :data:`INT32_TABLE_MAX_OUTPUTS`); the residue ``c = xc - 2**kk a``, with ``c = 0`` all
    zeros)."""
    import tensorflow as tf

    m = 2**kk
    xc = x * 2.0**x_t.fractional
    a = tf.math.floor(xc * (1.0 / m))
    c = xc - m * a
    hot = tf.one_hot(tf.cast(c, tf.int32) - 1, m - 1, dtype=hot_dtype or tf.float64)  # c = 0: all zeros
    return {"xc": xc, "a": a, "hot": tf.reshape(hot, [-1, int(x.shape[-1]) * (m - 1)])}


def _residue_form(x_t: FixedPointType, w_t: FixedPointType, acc_t: FixedPointType, d_in: int) -> bool:
    """True when :func:`rounded_product_units` rounds by residues (F_x + F_w > F_acc given)."""
    k = x_t.fractional + w_t.fractional - acc_t.fractional
    kk = k + 1 if acc_t.rounding == "RND_CONV" else k
    log_d = max(0, math.ceil(math.log2(max(d_in, 1))))
    return acc_t.rounding in SHIFT_INVARIANT_MODES and kk <= RESIDUE_MAX_BITS and \
        x_t.width + w_t.width + log_d + 2 <= 53


def residue_bits(x_t: FixedPointType | None, w_t: FixedPointType | None, acc_t: FixedPointType | None,
                 d_in: int) -> int | None:
    """``k'`` when :func:`exact_accumulate` sums this layer's products by residues (the
    operand types known, products finer than the accumulator, every sum exact, and at most
    :data:`RESIDUE_MAX_BITS` dropped bits), else None. ``acc_t``: the layer's accumulator."""
    if x_t is None or w_t is None or acc_t is None:
        return None
    acc_t = acc_t.value_cast_type
    F, Fp = acc_t.fractional, x_t.fractional + w_t.fractional
    log_d = max(0, math.ceil(math.log2(max(d_in, 1))))
    if acc_t.kind != "fixed" or Fp <= F or x_t.width + w_t.width + 1 > 53 or \
            x_t.integer + w_t.integer + F + log_d + 2 > 53 or not _residue_form(x_t, w_t, acc_t, d_in):
        return None
    return Fp - F + (1 if acc_t.rounding == "RND_CONV" else 0)


def data_side_tf(x, step: Step, in_t: FixedPointType | None, fwd) -> dict:
    """What a Dense-arithmetic layer computes from its input rows alone: ``{"x": x}`` and,
    where the products are summed by residues, :func:`input_residues` of ``x``.

    Args:
        x: float64 (M, n_in): the layer's operand rows (a convolution's receptive fields).
        step, in_t: the layer and its input type; fwd: the calling ``TrainingForward``.

    Returns:
        dict of (M, width) tensors, for :func:`matrix_arith_tf`'s ``pre``.
    """
    out = {"x": x}
    t = step.types
    kk = residue_bits(in_t, t.get("weight"), t.get("accumulator"), int(x.shape[-1])) \
        if fwd.precision is not None else None
    if kk is not None:
        out.update(input_residues(x, in_t, kk, _hot_dtype(step)))
    return out


def rounded_product_units(x, w, x_t: FixedPointType, w_t: FixedPointType, acc_t: FixedPointType, xr=None):
    """``sum_i round(x[n, i] * w[i, j] * 2**F)`` (F = ``acc_t.fractional``): every product
    rounded on its own to the accumulator grid with ``acc_t``'s rounding, in LSB units.

    The products form an (N, n_in, n_out) tensor, which dominates a training step; it is
    built in float32 (about 2.5x faster than float64) whenever that is exact:

    * directly, when ``|x w| <= 2**mag`` and ``mag + F_p + 1 <= 24`` (a product and the
      product +- 1/2 LSB are multiples of 2**-F_p below 2**(mag + 1)) and the partial sums
      of rounded products stay below 2**24 (``mag + F + log2(n_in) + 1 <= 24``);
    * split, for the shift-invariant modes: with the weight codes ``wc = 2**k' h + l``
      (``k = F_p - F`` bits are dropped; ``k' = k``, or ``k + 1`` for RND_CONV so that the
      high part adds an even number of LSBs), ``round(xc wc / 2**k) = xc h 2**(k'-k) +
      round(xc l / 2**k)``: the high parts are one exact float64 matrix product and only
      the low parts, below ``2**(W_x + k')``, are rounded, in float32 when
      ``W_x + k' + 1 <= 24`` and ``W_x + log2(n_in) + 2 <= 24``;
    * otherwise in float64 (the caller guarantees every product and sum below 2**52).

    Args:
        x: float64 (N, n_in) on ``x_t``; w: float64 (n_in, n_out) on ``w_t``; products
            have ``F_p = F_x + F_w > F`` fractional bits.
        xr: :func:`input_residues` of ``x``, when the caller has them (residue form only).

    Returns:
        float64 (N, n_out) of integers.
    """
    import tensorflow as tf

    from ..quantization import round_units_tensor

    F64 = tf.float64
    F, Fp, mode = acc_t.fractional, x_t.fractional + w_t.fractional, acc_t.rounding
    d_in = int(w.shape[0])
    log_d = max(0, math.ceil(math.log2(max(d_in, 1))))
    mag = (x_t.integer - int(x_t.signed)) + (w_t.integer - int(w_t.signed))  # |x w| <= 2**mag

    def round_sum(xs, ws, dt):
        scaled = tf.cast(xs, dt)[:, :, None] * tf.cast(ws, dt)[None, :, :]  # exact (see above)
        return tf.cast(tf.reduce_sum(round_units_tensor(scaled, mode, bounded=True), axis=1), F64)

    k = Fp - F
    kk = k + 1 if mode == "RND_CONV" else k
    if _residue_form(x_t, w_t, acc_t, d_in):
        return _residue_units(x, w, x_t, w_t, k, kk, mode, xr)
    if max(mag + Fp, mag + F + log_d) + 1 <= 24:
        return round_sum(x, w * 2.0**F, tf.float32)
    if mode in SHIFT_INVARIANT_MODES and x_t.width + kk + 1 <= 24 and x_t.width + log_d + 2 <= 24 and \
            x_t.width + w_t.width + log_d + 1 <= 53:
        wc = w * 2.0**w_t.fractional
        low = wc - 2.0**kk * tf.math.floor(wc * 2.0**-kk)  # in [0, 2**k'), exact
        high = (wc - low) * 2.0**-w_t.fractional          # a multiple of 2**(k' - F_w)
        # x @ high in LSB units: sum_i xc h 2**(k'-k); every partial sum of the codes
        # xc (wc - l) stays below 2**(W_x + W_w + log2(n_in) + 1) <= 2**53: exact
        return tf.matmul(x, high) * 2.0**F + round_sum(x, low * 2.0**(F - w_t.fractional), tf.float32)
    return round_sum(x, w * 2.0**F, F64)


def _static_bound(x_t, w_t, b_t, has_bias: bool, acc_t: FixedPointType, d_in: int) -> float:
    """A bound on every |partial sum| of a layer from its types alone (inf when a type is
    unknown): ``|(accum_t) b| + sum_i |(accum_t)(x_i w_i)|`` with each cast at most one
    accumulator LSB away from its exact value."""
    def mag(t):
        return math.inf if t is None else max(abs(float(t.min)), abs(float(t.max)))

    bias = mag(b_t) + acc_t.lsb if has_bias else 0.0
    return bias + d_in * (mag(x_t) * mag(w_t) + acc_t.lsb)


def exact_accumulate(x, w, b, acc_t: FixedPointType, x_t: FixedPointType | None, w_t: FixedPointType | None,
                     b_t: FixedPointType | None = None, xr=None):
    """Accumulator values of a Dense layer in TensorFlow, bit-exact to ``nnet_dense_latency.h``.

    Args:
        x: float64 tensor (N, d_in): the layer input (already cast to its type).
        w: float64 tensor (d_in, d_out): weights (already cast to the weight type).
        b: float64 tensor (d_out,) or None: bias (already cast to the bias type).
        acc_t: accumulator type (``accum_t``).
        x_t, w_t, b_t: the types ``x``, ``w`` and ``b`` are known to lie on (None:
            unknown/float); only used to choose a provably equivalent fast path (a bias
            whose type converts to ``acc_t`` unchanged is not cast).
        xr: :func:`input_residues` of ``x`` when already computed.

    Returns:
        float64 tensor (N, d_out), no gradient: ``acc[j] = (accum_t) bias[j]`` followed by
        ``acc[j] = (accum_t)(acc[j] + (accum_t)(x[i] * w[i][j]))`` for i = 0..d_in-1.

    Fast paths (all provably identical to the loop above): with known operand types the
    products are exact; if ``F_x + F_w <= F_acc`` they are summed by a matmul, otherwise
    each is rounded in LSB units (:func:`kappa.quantization.round_units_tensor`) and summed. With WRAP the
    per-product and per-partial-sum wrapping is modular, so one final wrap is identical.
    With a saturating accumulator the sum is used only if
    ``|bias_acc| + sum_i |p_i|`` (a bound on every partial sum) lies inside the range, so
    nothing can saturate; otherwise (decided at run time) the sequential loop runs.
    """
    import tensorflow as tf

    from ..quantization import quantize_tensor

    F64 = tf.float64

    acc_t = acc_t.value_cast_type  # products and sums are ap_fixed values, not doubles

    def qv(v):
        return quantize_tensor(v, acc_t, ste=False)

    d_in = int(w.shape[0])
    d_out = int(w.shape[1])
    b_acc = (b if cast_is_identity(b_t, acc_t) else qv(b)) if b is not None else tf.zeros([d_out], F64)
    wrap = acc_t.overflow == "WRAP"
    log_d = max(0, math.ceil(math.log2(max(d_in, 1))))
    lo, hi = float(acc_t.min), float(acc_t.max)
    F = acc_t.fractional

    def fits(bound):
        # No partial sum can leave the accumulator range: bound >= 0 bounds every |partial
        # sum|, so it must lie within both rails. A NaN entry may be skipped by the maximum:
        # its own output is NaN on either path, and every other entry is within the bound.
        return tf.reduce_max(bound) <= min(hi, -lo)

    def products_q(x, w):
        p = x[:, :, None] * w[None, :, :]  # (N, d_in, d_out), IEEE products (exact for typed operands)
        return qv(p)

    def sequential(pq, b_acc):
        init = tf.broadcast_to(b_acc, tf.stack([tf.shape(pq)[0], d_out]))
        return tf.foldl(lambda acc, p: qv(acc + p), tf.transpose(pq, [1, 0, 2]), initializer=init)

    def behind_call(fn):
        # The sequential loop runs only where the bound fails. Behind a call the graph does not
        # inline, the untaken branch is one op per step instead of the loop's thirty or so
        # (measured: 4 % of a 64-64 MLP training step with two such layers).
        return tf.function(fn, experimental_attributes={"_noinline": True})

    known = x_t is not None and w_t is not None and acc_t.kind == "fixed"
    if known:
        Fp = x_t.fractional + w_t.fractional  # fractional bits of an exact product
        Ip = x_t.integer + w_t.integer        # |product| <= 2**Ip
        exact_products = x_t.width + w_t.width + 1 <= 53
        if Fp <= F:
            # products already on the accumulator grid; matmul sums exactly
            ok = exact_products and Ip + Fp + log_d + 1 <= 53
            if ok:
                s = tf.matmul(x, w)
                bound = tf.abs(b_acc) + tf.matmul(tf.abs(x), tf.abs(w))
        else:
            ok = exact_products and Ip + F + log_d + 2 <= 53
            if ok:
                s = rounded_product_units(x, w, x_t, w_t, acc_t, xr) * (2.0 ** -F)
                # |round(p)| < |p| + 1 LSB, and the float64 |x|@|w| is within d_in/4 LSB of exact
                # (Ip + F + log_d + 2 <= 53): 2 d_in LSB of slack bound every partial sum.
                bound = tf.abs(b_acc) + tf.matmul(tf.abs(x), tf.abs(w)) + 2 * d_in * acc_t.lsb
        if ok:
            if wrap:
                if Fp > F:
                    # s (< 2**51 LSBs, see above) and b_acc (< 2**51 LSBs) are on the accumulator
                    # grid: s + b_acc is exact (below 2**52 LSBs), and one modular wrap equals
                    # wrapping s first.
                    return quantize_tensor(s + b_acc, acc_t, ste=False, small=True)
                return qv(qv(s) + b_acc)
            if _static_bound(x_t, w_t, b_t, b is not None, acc_t, d_in) <= min(hi, -lo):
                return qv(s + b_acc)  # the types alone keep every partial sum in range
            fast = qv(s + b_acc)  # outside the branch: the taken branch passes one tensor on
            return tf.cond(fits(bound), lambda: fast,
                           lambda: behind_call(lambda x, w, b0: sequential(products_q(x, w), b0))(x, w, b_acc))
    pq = products_q(x, w)
    if wrap:
        if acc_t.width + math.ceil(math.log2(d_in + 1)) <= 53:
            return qv(tf.reduce_sum(pq, axis=1) + b_acc)
        return sequential(pq, b_acc)
    bound = tf.abs(b_acc) + tf.reduce_sum(tf.abs(pq), axis=1)
    return tf.cond(fits(bound), lambda: qv(tf.reduce_sum(pq, axis=1) + b_acc),
                   lambda: behind_call(sequential)(pq, b_acc))


def matrix_arith_tf(x, w, b, step: Step, in_t, fwd, pre: dict | None = None):
    """TensorFlow twin of :func:`kappa.layers.dense.matrix_arith`: ``x`` (M, n_in) float64,
    ``w`` (n_in, n_out) and ``b`` (n_out,) or None as parameters (differentiable). Returns
    (M, n_out) with the value of the firmware and the gradient of ``x_q @ w_q + b_q``
    (straight-through). ``pre``: :func:`data_side_tf` of the rows, computed beforehand (then
    ``x`` is ``pre["x"]``)."""
    import tensorflow as tf

    from ..quantization import quantize_tensor

    if fwd.precision is None:
        y = tf.matmul(x, w)
        return y + b if b is not None else y
    t = step.types
    w_t, b_t, acc_t = t["weight"], t["bias"], t["accumulator"]
    if not fwd.params_on_grid:  # weights and biases are read as doubles (weights/*.txt)
        w = quantize_tensor(w, w_t, ste=True) if w_t is not None else w
    if is_ternary(w_t):
        w = with_value(w, tf.where(tf.equal(w, -2.0), tf.ones_like(w), w))
    if b is not None and not fwd.params_on_grid and b_t is not None:
        b = quantize_tensor(b, b_t, ste=True)
    lin = tf.matmul(x, w)
    if b is not None:
        lin = lin + b
    if acc_t is not None:
        if in_t is not None and w_t is not None and in_t.width + w_t.width > MAX_PRODUCT_BITS_TF:
            raise ValueError(
                f"layer {step.name!r}: products of {in_t} inputs and {w_t} weights need "
                f"{in_t.width + w_t.width} bits; kappa's TensorFlow (float64) forward supports at most "
                f"{MAX_PRODUCT_BITS_TF} (predict_quantized handles up to {MAX_PRODUCT_BITS_NUMPY} for inference)"
            )
        if pre is None:  # the residues as a data side would have them (in the layer's dtype)
            pre = data_side_tf(x, step, in_t, fwd)
        xr = pre if "hot" in pre else None
        lin = with_value(lin, exact_accumulate(x, w, b, acc_t, in_t, w_t, b_t, xr=xr))
    return q_ste(lin, t["result"])
