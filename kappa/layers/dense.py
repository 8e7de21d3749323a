"""Dense: parse rule, numpy firmware forward, TensorFlow training forward, hls4ml keys.

Firmware arithmetic (hls4ml 1.3.0 ``nnet_dense_latency.h``; ``../shared/reference/
hls4ml-notes.md``, "Dense arithmetic"), also used by every convolution (per output pixel):

1. each product ``x[i] * w[i][j]`` is formed at full width and converted to ``accum_t``
   on its own;
2. the accumulator starts at ``(accum_t) bias[j]``;
3. products are added for i = 0 .. n_in-1, every partial sum again an ``accum_t`` (only
   overflow can act: a sum of two values on the accumulator grid is on the grid);
4. ``res[j] = (result_t) acc[j]``.

With WRAP the sum is modular and the order of additions is free. With SAT it is not:
the Latency order is the input order; the Resource strategy (``nnet_dense_resource.h``)
adds in an interleaved order (with intermediate ``accum_t`` partial sums when RF > n_in)
that kappa does not emulate, so a saturating accumulator under Resource is refused.
``ap_int<2>`` weights select hls4ml's ternary product (``nnet_mult.h``
``weight_ternary``): the weight -2 multiplies as +1.

The numpy forward takes one compiled pass (:func:`fused_matrix_arith`: codes, dot products
and result cast fused) where the integer kernel holds the values and the exact float64 matrix
product does not apply; :func:`matrix_arith` is the definition.

A Dense with ``activation='relu'`` is split into the Dense (result type = its
accumulator type, a lossless cast) and ``<name>_relu`` (result type = the layer's
``activation`` field), as hls4ml splits it.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..fixed_point import FixedPointType
from ..quantization import quantize, requantize_codes, to_codes
from ._common import MAX_PRODUCT_BITS_NUMPY, is_ternary
from .base import FirmwareOptions, LayerFamily, ParseContext, Step, shape_of, unsupported
from .dense_tf import data_side_tf, matrix_arith_tf
from .fastpath import dot_plan, fused_dot
from .fused import fused_activation_steps

WEIGHT_FIELDS = ("weight", "bias", "accumulator", "activation", "gradient", "update", "momentum", "adam_m", "adam_v")


def _q(x, t):
    return x if t is None else quantize(x, t)


def weighted_types(ctx: ParseContext, name: str, fused: str) -> dict:
    """Resolved types of a Dense/Conv step: weight, bias, accumulator and result (the
    ``activation`` field, or the accumulator type when an activation is split off)."""
    acc_t = ctx.dtype(name, "accumulator")
    return {
        "weight": ctx.dtype(name, "weight"),
        "bias": ctx.dtype(name, "bias"),
        "accumulator": acc_t,
        "result": ctx.dtype(name, "activation") if fused == "linear" else acc_t,
    }


def check_weighted(step: Step, opts: FirmwareOptions, in_t: FixedPointType | None) -> None:
    """Refusals shared by Dense and the convolutions (ValueError naming the layer)."""
    acc = step.types.get("accumulator")
    if opts.strategy == "Resource" and acc is not None and acc.overflow != "WRAP":
        raise ValueError(
            f"layer {step.name!r}: accumulator {acc} saturates, and the Resource strategy adds products in an "
            f"interleaved order (with intermediate partial sums) kappa does not emulate; use a WRAP "
            f"accumulator or strategy='Latency'"
        )
    w_t = step.types.get("weight")
    if in_t is not None and w_t is not None and in_t.width + w_t.width > MAX_PRODUCT_BITS_NUMPY:
        raise ValueError(f"layer {step.name!r}: {in_t} x {w_t} products need {in_t.width + w_t.width} bits; "
                         f"kappa's int64 emulation supports at most {MAX_PRODUCT_BITS_NUMPY}")


def weighted_precision(step: Step) -> dict:
    t = step.types
    out = {"weight": (t["weight"], f"{step.keras_name}.weight")}
    if step.attrs.get("use_bias", True):
        # Without a bias hls4ml emits zeros typed ap_uint<1> whatever is configured: 0 in any
        # type, so the bias type is only required (and checked) with use_bias.
        out["bias"] = (t["bias"], f"{step.keras_name}.bias")
    out["accum"] = (t["accumulator"], f"{step.keras_name}.accumulator")
    split = step.attrs.get("fused", "linear") != "linear"
    out["result"] = (t["result"], f"{step.keras_name}.accumulator" if split else f"{step.keras_name}.activation")
    return out


def weighted_arrays(step: Step) -> list:
    """``[(hls key, Keras attribute, float64 array, type)]`` of a Dense/Conv step."""
    layer = step.layer
    kernel = np.asarray(layer.kernel.numpy(), dtype=np.float64)
    out = [("weight", "kernel", kernel, step.types.get("weight"))]
    if step.attrs.get("use_bias", True):
        out.append(("bias", "bias", np.asarray(layer.bias.numpy(), dtype=np.float64), step.types.get("bias")))
    return out


def matrix_arith(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, types: dict,
                 in_t: FixedPointType | None, name: str) -> np.ndarray:
    """The firmware dot products of one Dense (or one convolution pixel), numpy.

    Args:
        x: float64 (M, n_in), values on ``in_t``.
        w: float64 (n_in, n_out) Keras-order weights (not yet quantized).
        b: float64 (n_out,) or None (no bias).
        types: ``weight``, ``bias``, ``accumulator``, ``result`` (None = float).
        in_t: the type of ``x`` (None: float operands, no exactness claim).
        name: the layer name, for messages.

    Returns:
        float64 (M, n_out): ``(result_t)`` of the accumulator, bit-exact with
        ``nnet_dense_latency.h`` (see the module docstring).

    Raises:
        ValueError: products wider than 62 bits (int64).
    """
    w_t, b_t, acc_t, res_t = types["weight"], types["bias"], types["accumulator"], types["result"]
    w = _q(w, w_t)
    if is_ternary(w_t):
        w = np.where(w == -2.0, 1.0, w)
    n_in, n_out = w.shape
    bq = _q(b, b_t) if b is not None else np.zeros(n_out)
    if acc_t is None:
        return _q(x @ w + bq, res_t and res_t.value_cast_type)
    if in_t is None or w_t is None or (b is not None and b_t is None):
        # Floating-point operands (a partial PrecisionDict): cast products and partial sums.
        acc_c = acc_t.value_cast_type
        prods = quantize(x[:, :, None] * w[None, :, :], acc_c)
        acc = quantize(np.broadcast_to(bq, (x.shape[0], n_out)), acc_c)
        for i in range(n_in):
            acc = quantize(acc + prods[:, i, :], acc_c)
        return _q(acc, res_t and res_t.value_cast_type)
    if in_t.width + w_t.width > MAX_PRODUCT_BITS_NUMPY:
        raise ValueError(f"layer {name!r}: {in_t} x {w_t} products need {in_t.width + w_t.width} bits; "
                         f"kappa's int64 emulation supports at most {MAX_PRODUCT_BITS_NUMPY}")
    xc, (wc, acc0) = to_codes(x, in_t), _operand_codes(w, bq if b is not None else None, w_t, b_t, acc_t)
    acc = dot_codes(xc, wc, acc0, in_t.fractional + w_t.fractional, acc_t,
                    x_bound=max(-in_t.qmin, in_t.qmax))
    if res_t is None:
        return acc * acc_t.lsb
    return requantize_codes(acc, acc_t.fractional, res_t) * res_t.lsb


def _operand_codes(wq, bq, w_t, b_t, acc_t):
    """``(wc, acc0)``: the codes of weights ``wq`` (already on ``w_t``, the ternary -2 already
    made +1) and the bias ``bq`` on ``b_t`` converted to ``accum_t`` (None: zeros)."""
    wc = to_codes(wq, w_t)
    acc0 = requantize_codes(to_codes(bq, b_t), b_t.fractional, acc_t) if bq is not None else \
        np.zeros(wq.shape[1], np.int64)
    return wc, acc0


def fused_matrix_arith(x: np.ndarray, idx: np.ndarray, w: np.ndarray, b: np.ndarray | None, types: dict,
                       in_t: FixedPointType | None, *, prefer_blas: bool = False) -> np.ndarray | None:
    """:func:`matrix_arith` of the receptive fields ``x[:, idx]`` in one compiled pass
    (:func:`kappa.layers.fastpath.fused_dot`), or None where it does not apply (a type left
    floating point, products beyond int64, or ``prefer_blas`` and the exact float64 matrix
    product is possible: the caller then runs :func:`matrix_arith`).

    Args:
        x: float64 (N, L) on ``in_t``. idx: int64 (P, K) flat indices into a row of ``x``
            (-1: a zero). w: float64 (K, n_out) Keras-order weights. b: (n_out,) or None.
        types: as :func:`matrix_arith`.

    Returns:
        float64 (N, P, n_out): ``matrix_arith(x[:, idx].reshape(N * P, K), ...)`` reshaped.
    """
    w_t, b_t, acc_t, res_t = types["weight"], types["bias"], types["accumulator"], types["result"]
    if acc_t is None or in_t is None or w_t is None or (b is not None and b_t is None) or \
            in_t.width + w_t.width > MAX_PRODUCT_BITS_NUMPY:
        return None
    wq = _q(w, w_t)
    if is_ternary(w_t):
        wq = np.where(wq == -2.0, 1.0, wq)
    wc, acc0 = _operand_codes(wq, None if b is None else _q(b, b_t), w_t, b_t, acc_t)
    if prefer_blas and dot_plan(max(-int(in_t.qmin), int(in_t.qmax)), wc, acc0, in_t.fractional + w_t.fractional,
                                acc_t).exact_ok:
        return None
    return fused_dot(x, idx, wc, acc0, in_t, w_t, acc_t, res_t)


@lru_cache(maxsize=64)
def _identity_index(n: int) -> np.ndarray:
    """(1, n) int64: one dot product over all ``n`` inputs of a row, in order (read-only)."""
    idx = np.arange(n, dtype=np.int64)[None, :]
    idx.flags.writeable = False
    return idx


def matrix_fn(opts: FirmwareOptions):
    """:func:`matrix_arith`, or under the ``distributed_arithmetic`` strategy the exact product
    cast once (:func:`kappa.layers.exact_matrix.exact_matrix_arith`); same signature. With a
    field untyped (None: float, as in the float forward and the firmware report's per-layer
    points) the product is taken in float64, the typed fields quantized, no exactness claimed."""
    if opts.strategy != "distributed_arithmetic":
        return matrix_arith
    from .exact_matrix import exact_matrix_arith

    def da(x, w, b, types, in_t, name):
        if in_t is not None and types.get("weight") is not None and types.get("result") is not None \
                and (b is None or types.get("bias") is not None):
            return exact_matrix_arith(x, w, b, types, in_t, name)
        y = x @ _q(w, types.get("weight"))
        if b is not None:
            y = y + _q(b, types.get("bias"))
        return _q(y, types.get("result"))

    return da


DOT_PATHS = ("auto", "general", "exact", "kernel")


def _dot_general(xc, wc, acc0, frac_bits, acc_t):
    """The firmware loop on numpy int64 arrays, literally: every product cast to
    ``accum_t`` (:func:`requantize_codes`), WRAP sums in one reduction, saturating sums one
    input at a time. Memory (M, n_in, n_out) int64: the reference the fast paths are tested
    against."""
    prods = requantize_codes(xc[:, :, None] * wc[None, :, :], frac_bits, acc_t)
    acc = np.broadcast_to(acc0, (xc.shape[0], wc.shape[1])).copy()
    if acc_t.overflow == "WRAP":
        # Modular arithmetic (int64 overflow included): the order of additions does not matter.
        return requantize_codes(acc + prods.sum(axis=1), acc_t.fractional, acc_t)
    for i in range(xc.shape[1]):  # saturating: every partial sum saturates, in input order
        acc = requantize_codes(acc + prods[:, i, :], acc_t.fractional, acc_t)
    return acc


def dot_codes(xc: np.ndarray, wc: np.ndarray, acc0: np.ndarray, frac_bits: int, acc_t: FixedPointType, *,
              x_bound: int | None = None, path: str = "auto") -> np.ndarray:
    """Accumulator codes of the firmware dot products (steps 1-3 of the module docstring).

    Args:
        xc: int64 (M, n_in) input codes; the value is ``xc * 2**-F_x``.
        wc: int64 (n_in, n_out) weight codes (``2**-F_w``); ``|xc * wc| < 2**62``.
        acc0: int64 (n_out,) the bias already converted to ``accum_t`` codes.
        frac_bits: ``F_x + F_w``, the fractional bits of an exact product.
        acc_t: the accumulator type (``ap_fixed``/``ap_ufixed``/``ap_int``).
        x_bound: a bound on ``|xc|`` (from the input type's width); None: ``max |xc|``.
        path: ``"auto"`` (the fastest exact path), or one path forced (tests):
            ``"general"`` (:func:`_dot_general`), ``"exact"`` (one float64 matrix product;
            rows that could saturate go to the kernel), ``"kernel"`` (numba loop,
            :mod:`kappa.fixed_kernels`).

    Returns:
        int64 (M, n_out) accumulator codes (value ``codes * acc_t.lsb``), bit-exact with
        ``nnet_dense_latency.h``: identical on every path.

    Raises:
        ValueError: an unknown ``path``, or a forced path whose preconditions do not hold
            (``exact``: products on the accumulator grid and every partial sum < 2**53).

    The paths (conditions decided from the widths and the weights before any sample is
    touched, except the per-row saturation check):

    * exact: when ``F_x + F_w <= F_acc`` every product is on the accumulator grid, so the
      cast of a product can only overflow. With WRAP every cast is modular and the dot
      product is ``wrap(acc0 + (x @ w) << (F_acc - F_x - F_w))``; float64 BLAS computes
      ``x @ w`` exactly in any summation order while ``max|x| * max_j sum_i |w_ij| < 2**53``
      (every partial sum is an integer below 2**53). With SAT/SAT_ZERO the same sum is
      exact when no partial sum can leave the range: ``|acc0_j| + sum_i |x_i w_ij|`` bounds
      every partial sum (every prefix, in any order), checked once from the widths or per
      row; only the rows that could saturate run the sequential kernel.
    * kernel: everything else that fits int64 (rounded products, wide sums): one compiled
      pass with the product rounding as integer shifts (WRAP: modular sums; SAT: the
      sequential clip in input order).
    * general: products that need a shift of 63 bits or more, or sums that could leave
      int64 before wrapping.
    """
    if path not in DOT_PATHS:
        raise ValueError(f"unknown dot-product path {path!r}; valid: {', '.join(DOT_PATHS)}")
    M, n_in = xc.shape
    if path == "general" or M == 0 or n_in == 0:
        return _dot_general(xc, wc, acc0, frac_bits, acc_t)
    wrap = acc_t.overflow == "WRAP"
    xb = int(np.abs(xc).max()) if x_bound is None else int(x_bound)
    plan = dot_plan(xb, wc, acc0, frac_bits, acc_t)
    shift, lo, hi, mask, p_max = plan.shift, plan.lo, plan.hi, plan.mask, plan.p_max
    col_sum, sum_max, a0_max, exact_ok, kernel_ok = plan.col_sum, plan.sum_max, plan.a0_max, plan.exact_ok, \
        plan.kernel_ok
    if path == "exact" and not exact_ok:
        raise ValueError(f"the exact float64 path needs products on the accumulator grid (shift {shift} <= 0) and "
                         f"partial sums below 2**53 (bound {sum_max})")
    if path == "kernel" and not kernel_ok:
        raise ValueError(f"the integer kernel cannot hold these products in int64 (shift {shift}, "
                         f"|product| <= {p_max}, accumulator {acc_t})")
    if path == "auto":
        path = "exact" if exact_ok else "kernel" if kernel_ok else "general"
    if path == "general":
        return _dot_general(xc, wc, acc0, frac_bits, acc_t)

    def run_kernel(rows):
        from ..fixed_kernels import OVERFLOW_CODES, ROUND_CODES, kernel

        mode = "TRN_ZERO" if acc_t.kind == "int" else acc_t.rounding
        out = kernel()(np.ascontiguousarray(xc, np.int64), np.ascontiguousarray(wc, np.int64),
                       np.ascontiguousarray(acc0, np.int64), shift, ROUND_CODES[mode],
                       OVERFLOW_CODES[acc_t.overflow], lo, hi, mask, rows)
        return requantize_codes(out, acc_t.fractional, acc_t) if wrap else out

    if path == "kernel":
        return run_kernel(np.arange(M, dtype=np.int64))

    # exact: one float64 matrix product of codes, exact by the bound above
    k = -shift
    s = (xc.astype(np.float64) @ wc.astype(np.float64)).astype(np.int64)
    acc = acc0 + (s << k) if k else acc0 + s
    if wrap:
        return requantize_codes(acc, acc_t.fractional, acc_t)
    a0 = np.abs(acc0)
    static = all(a + (c * xb << k) <= hi and -(a + (c * xb << k)) >= lo for a, c in zip(a0.tolist(), col_sum))
    if static:
        return acc
    # per row: |acc0| + |x| @ |w| (exact, < 2**53 in product units) bounds every partial sum
    if hi < 2**52 and (sum_max << k) + a0_max < 2**52:
        rb = (np.abs(xc).astype(np.float64) @ np.abs(wc).astype(np.float64)) * float(2**k) + a0.astype(np.float64)
        risky = np.flatnonzero(((rb > hi) | (-rb < lo)).any(axis=1))
    else:
        risky = np.arange(M)
    if risky.size:
        acc[risky] = run_kernel(risky.astype(np.int64)) if kernel_ok else \
            _dot_general(xc[risky], wc, acc0, frac_bits, acc_t)
    return acc


# --------------------------------------------------------------------- the family
class DenseFamily(LayerFamily):
    """``keras.layers.Dense`` on a 1-D input, or point-wise on a rank-2/3 input.

    Point-wise (``(n, features)`` or ``(h, w, features)`` inputs, as Deep Sets and
    interaction networks use it): hls4ml 1.3.0's ``ReplaceMultidimensionalDenseWithConv``
    pass (``model/optimizer/passes/multi_dense.py``) replaces the layer by a Conv1D/Conv2D of
    kernel 1 under the same name, which its ``optimize_pointwise_conv`` pass makes a
    ``PointwiseConv1D/2D`` (io_parallel: ``pointwise_conv_1d_latency_cl`` in
    ``nnet_conv1d_latency.h``; io_stream: ``pointwise_mult_buffer`` in
    ``nnet_sepconv1d_stream.h``). Both run, per position, the Dense arithmetic of the module
    docstring on that position's features (products cast to ``accum_t``, the accumulator
    starting at the cast bias, channels in order, the result cast): so kappa computes the
    Dense on every position. Refused: inputs of rank above 3 (and, by the softmax family, a
    fused softmax on such an input).
    """

    name = "dense"
    keras_classes = ("Dense",)
    fields = WEIGHT_FIELDS

    def parse(self, layer, ctx: ParseContext) -> list[Step]:
        in_shape, out_shape = shape_of(layer.input), shape_of(layer.output)
        if len(in_shape) > 3:
            raise unsupported(layer, f"Dense on a {len(in_shape)}-D input of shape {in_shape} (hls4ml replaces a "
                              "Dense on a 2-D or 3-D input by a pointwise convolution, and refuses higher ranks)",
                              "reshape the input to (positions, features) or put a Flatten layer before it")
        act_steps, fused = fused_activation_steps(layer, ctx, out_shape)
        attrs = {"use_bias": bool(layer.use_bias), "fused": fused, "pointwise": len(in_shape) > 1}
        step = Step(layer.name, self, layer.name, layer, attrs,
                    weighted_types(ctx, layer.name, fused), ctx.var_index(layer), in_shape, out_shape)
        return [step, *act_steps]

    def check(self, step, opts, in_t):
        check_weighted(step, opts, in_t)

    def forward(self, step, x, in_t, opts):
        arrays = {k: a for k, _, a, _ in weighted_arrays(step)}
        w = arrays["weight"]
        matrix = matrix_fn(opts)
        if opts.strategy != "distributed_arithmetic":  # one compiled pass (every position a row)
            y = fused_matrix_arith(x.reshape(-1, w.shape[0]), _identity_index(w.shape[0]), w, arrays.get("bias"),
                                   step.types, in_t, prefer_blas=True)
            if y is not None:
                return y.reshape((x.shape[0], *step.out_shape))
        if step.attrs.get("pointwise"):  # every position is one Dense on its features
            y = matrix(x.reshape(-1, w.shape[0]), w, arrays.get("bias"), step.types, in_t, step.name)
            return y.reshape((x.shape[0], *step.out_shape))
        return matrix(x, w, arrays.get("bias"), step.types, in_t, step.name)

    def data_side_tf(self, step, x, in_t, fwd):
        import tensorflow as tf

        return data_side_tf(tf.reshape(x, [-1, int(step.in_shape[-1])]), step, in_t, fwd)

    def forward_tf(self, step, x, in_t, fwd):
        import tensorflow as tf

        w = fwd.param(step, "kernel")
        b = fwd.param(step, "bias") if step.attrs["use_bias"] else None
        pre = fwd.prepared(step)
        pointwise = step.attrs.get("pointwise")
        if pre is not None:
            rows = pre["x"]
        else:
            rows = tf.reshape(x, [-1, int(w.shape[0])]) if pointwise else x
        y = matrix_arith_tf(rows, w, b, step, in_t, fwd, pre)
        return tf.reshape(y, [-1, *step.out_shape]) if pointwise else y

    def hls_precision(self, step):
        return weighted_precision(step)

    def weights(self, step):
        return weighted_arrays(step)


DENSE = DenseFamily()
