"""TensorFlow forward pass in the firmware's fixed-point arithmetic (used for training).

:class:`QuantizedForward` runs a Keras model layer by layer with explicit parameter
tensors, inserting straight-through quantizers where hls4ml's firmware converts values
(``shared/reference/hls4ml-notes.md``, "Dense arithmetic"; ``nnet_dense_latency.h``):

* the model input is cast to ``precision.dtype("input", "value")``;
* a Dense layer uses ``weight``/``bias`` types; every product ``x[i] * w[i][j]`` is cast
  to the ``accumulator`` type on its own, the accumulator starts at the bias cast to the
  accumulator type, and products are added in input order with the accumulator's
  rounding and overflow applied to every partial sum; the result is cast to the layer's
  ``activation`` type (hls4ml ``result_t``). A Dense with a fused ReLU keeps the exact
  accumulator, applies ``max(acc, 0)`` and then casts to its ``activation`` type;
* ``Activation('linear')`` casts to its ``activation`` type; ReLU (``Activation('relu')``
  or ``keras.layers.ReLU()`` with default arguments) computes ``max(x, 0)`` and casts;
* other layers (BatchNormalization, other activations; only in ``strict=False`` mode)
  run in float and their output is cast to their ``activation`` type. They are *not*
  firmware-exact.

A missing (None) type means no quantization at that point. With a PrecisionDict every
value is carried in float64 (float32 has a 24-bit significand); without one the pass is
plain float32, numerically the Keras model's own forward.

Exactness: the arithmetic is done in float64 and is exact (equal to the C++ ap_fixed
result) whenever a product of an input and a weight fits 53 significant bits
(``W_x + W_w <= 53``; wider pairs raise ``ValueError`` naming the layer, while the numpy
reference ``kappa.forward`` goes to 62 bits in int64) and the accumulator is at most 51
bits wide (kappa's limit). ``ap_int<2>`` weights multiply as hls4ml's ternary product
does (the weight -2 acts as +1), as in ``kappa.forward``. The sequential loop above is
replaced by a provably identical faster computation when possible (details in
:func:`exact_accumulate`):

1. products need no rounding (``F_acc >= F_x + F_w``): they are summed by an exact
   float64 matmul; otherwise each product is rounded to the accumulator grid in LSB units
   (:func:`kappa.quantization.round_units_tensor`) and the integers are summed exactly;
2. WRAP accumulators: wrapping every product and partial sum equals wrapping the total
   once (modular arithmetic);
3. SAT/SAT_SYM/SAT_ZERO accumulators: if ``|bias_acc| + sum_i |p_i|`` stays inside the
   accumulator range for every output, no partial sum can saturate and one sum is exact;
   otherwise (decided at run time, per batch) the sequential loop over inputs runs
   (``tf.foldl``).

Gradients: every quantizer is a straight-through estimator (identity gradient), so the
gradient of a quantized Dense is that of ``x_q @ w_q + b_q`` evaluated at the quantized
values; ReLU's gradient uses the exact accumulator.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

import numpy as np
import tensorflow as tf

from .fixed_point import FixedPointType
from .precision import FIRMWARE_FIELDS, INPUT_LAYER, PrecisionDict, ensure_precision_dict
from .layers import SUPPORTED_LAYERS_STRICT, PlanStep, build_plan, same_variable  # noqa: F401 (re-exported)
from .quantization import quantize_tensor, round_units_tensor

F64 = tf.float64


def check_forward_types(precision: Optional[PrecisionDict], layer_names: Sequence[str]) -> None:
    """Refuse stochastic rounding in firmware fields (value/weight/bias/accumulator/activation).

    Raises:
        ValueError: naming the layer, field and type.
    """
    if precision is None:
        return
    for name in list(layer_names) + [INPUT_LAYER]:
        for fld in FIRMWARE_FIELDS:
            t = precision.dtype(name, fld)
            if t is not None and t.stochastic:
                raise ValueError(
                    f"{name}.{fld} = {t} uses stochastic rounding S_RND, which is training-only; "
                    f"firmware fields ({', '.join(FIRMWARE_FIELDS)}) need a deterministic ap_fixed mode. "
                    "Use S_RND in the update/gradient/momentum/adam_m/adam_v fields."
                )


# ----------------------------------------------------------------- primitives
def _q(x, t: Optional[FixedPointType], ste: bool = True):
    """Straight-through quantizer in float64 (identity when ``t`` is None)."""
    if t is None:
        return x
    return quantize_tensor(x, t, ste=ste)


def _qv(x, t: FixedPointType):
    """Value-only quantization (no gradient), float64."""
    return quantize_tensor(x, t, ste=False)


def _with_value(differentiable, value):
    """Return ``value`` in the forward pass with the gradient of ``differentiable``.

    Unlike ``d + stop_gradient(value - d)`` this is exact: the forward output is
    ``value`` bit for bit.
    """
    value = tf.stop_gradient(value)

    @tf.custom_gradient
    def f(d):
        def grad(dy):
            return dy

        return tf.identity(value), grad

    return f(differentiable)


def exact_accumulate(x, w, b, acc_t: FixedPointType, x_t: Optional[FixedPointType],
                     w_t: Optional[FixedPointType]):
    """Accumulator values of a Dense layer, bit-exact to ``nnet_dense_latency.h``.

    Args:
        x: float64 tensor (N, d_in): the layer input (already cast to its type).
        w: float64 tensor (d_in, d_out): weights (already cast to the weight type).
        b: float64 tensor (d_out,) or None: bias (already cast to the bias type).
        acc_t: accumulator type (``accum_t``).
        x_t, w_t: the types ``x`` and ``w`` are known to lie on (None: unknown/float);
            only used to choose a provably equivalent fast path.

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
    d_in = int(w.shape[0])
    d_out = int(w.shape[1])
    n = tf.shape(x)[0]
    b_acc = _qv(b, acc_t) if b is not None else tf.zeros([d_out], F64)
    wrap = acc_t.overflow == "WRAP"
    log_d = max(0, math.ceil(math.log2(max(d_in, 1))))
    lo, hi = float(acc_t.min), float(acc_t.max)
    F = acc_t.fractional

    def fits(bound):  # no partial sum can leave the accumulator range
        return tf.reduce_all(bound <= hi) & tf.reduce_all(-bound >= lo)

    def products_q():
        p = x[:, :, None] * w[None, :, :]  # (N, d_in, d_out), IEEE products (exact for typed operands)
        return _qv(p, acc_t)

    def sequential(pq):
        init = tf.broadcast_to(b_acc, tf.stack([n, d_out]))
        return tf.foldl(lambda acc, p: _qv(acc + p, acc_t), tf.transpose(pq, [1, 0, 2]), initializer=init)

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
                scaled = x[:, :, None] * (w * (2.0 ** F))[None, :, :]  # exact: power-of-two scaling
                units = round_units_tensor(scaled, acc_t.rounding, bounded=True)  # on the accumulator grid; |scaled| <= 2**(Ip+F) <= 2**51
                s = tf.reduce_sum(units, axis=1) * (2.0 ** -F)
                # |round(p)| < |p| + 1 LSB, and the float64 |x|@|w| is within d_in/4 LSB of exact
                # (Ip + F + log_d + 2 <= 53): 2 d_in LSB of slack bound every partial sum.
                bound = tf.abs(b_acc) + tf.matmul(tf.abs(x), tf.abs(w)) + 2 * d_in * acc_t.lsb
        if ok:
            if wrap:
                return _qv(_qv(s, acc_t) + b_acc, acc_t)
            return tf.cond(fits(bound), lambda: _qv(s + b_acc, acc_t), lambda: sequential(products_q()))
    pq = products_q()
    if wrap:
        if acc_t.width + math.ceil(math.log2(d_in + 1)) <= 53:
            return _qv(tf.reduce_sum(pq, axis=1) + b_acc, acc_t)
        return sequential(pq)
    bound = tf.abs(b_acc) + tf.reduce_sum(tf.abs(pq), axis=1)
    return tf.cond(fits(bound), lambda: _qv(tf.reduce_sum(pq, axis=1) + b_acc, acc_t), lambda: sequential(pq))


# ------------------------------------------------------------------ forward
class QuantizedForward:
    """Callable forward pass of a Keras model with firmware quantization (see module doc).

    Args:
        keras_model: a built Keras 3 model, a chain of layers (see :func:`build_plan`).
        precision: PrecisionDict / dict / path / None (None: float32, no quantization).
        strict: only accept firmware-exact layers (see :func:`build_plan`).
        params_on_grid: the caller guarantees every kernel/bias already lies on its
            weight/bias type (the training loop stores them so); their quantizers are then
            skipped (they would be the identity).

    Call ``fwd(x, params=None, training=False, update_stats=True)``:

    * ``x``: tensor (N, d_in); cast to float64 (quantized) or float32 (float).
    * ``params``: list of tensors aligned with ``keras_model.trainable_variables``
      (default: the variables themselves). Lets the training loop evaluate the model
      at other parameters (the same-batch curvature secant) and differentiate with
      respect to float64 copies.
    * ``training``: BatchNormalization uses batch statistics (and, when
      ``update_stats``, updates its moving statistics).

    Returns a tensor (N, d_out), float64 with a precision, else float32.

    Raises:
        ValueError: unsupported layers, unknown layer names in ``precision``, or
            stochastic rounding in a firmware field.
    """

    def __init__(self, keras_model, precision=None, *, strict: bool = False, params_on_grid: bool = False):
        self.params_on_grid = bool(params_on_grid)
        self.model = keras_model
        self.precision = ensure_precision_dict(precision)
        self.plan = build_plan(keras_model, strict=strict)
        self.variables = list(keras_model.trainable_variables)
        names = [s.name for s in self.plan]
        if self.precision is not None:
            self.precision.validate([l.name for l in keras_model.layers])
            check_forward_types(self.precision, names)
        self.dtype = F64 if self.precision is not None else tf.float32

    def t(self, layer: str, fld: str) -> Optional[FixedPointType]:
        """``precision.dtype(layer, fld)`` or None without a precision."""
        return None if self.precision is None else self.precision.dtype(layer, fld)

    def __call__(self, x, params=None, *, training: bool = False, update_stats: bool = True):
        dt = self.dtype
        if params is None:
            params = self.variables
        params = [tf.cast(p, dt) for p in params]
        x = tf.cast(x, dt)
        cur_t = self.t(INPUT_LAYER, "value")
        x = _q(x, cur_t)
        for step in self.plan:
            x, cur_t = self._layer(step, x, cur_t, params, training, update_stats)
        return x

    # ---------------------------------------------------------------- layers
    def _layer(self, step: PlanStep, x, cur_t, params, training, update_stats):
        act_t = self.t(step.name, "activation")
        if step.kind == "dense":
            return self._dense(step, x, cur_t, params, act_t)
        if step.kind == "linear":
            return _q(x, act_t), (act_t or cur_t)
        if step.kind == "relu":
            return _q(tf.nn.relu(x), act_t), (act_t or cur_t)
        if step.kind == "batchnorm":
            y = self._batchnorm(step, x, params, training, update_stats)
            return _q(y, act_t), act_t
        # generic parameter-free layer: float, then cast
        y = tf.cast(step.layer(tf.cast(x, tf.float32), training=training), self.dtype)
        return _q(y, act_t), act_t

    def _dense(self, step: PlanStep, x, cur_t, params, act_t):
        w = params[step.var_index["kernel"]]
        b = params[step.var_index["bias"]] if "bias" in step.var_index else None
        if self.precision is None:
            y = tf.matmul(x, w)
            if b is not None:
                y = y + b
            return step.layer.activation(y), None
        w_t, b_t, acc_t = (self.t(step.name, f) for f in ("weight", "bias", "accumulator"))
        if not self.params_on_grid:
            w = _q(w, w_t)
        if w_t is not None and w_t.kind == "int" and w_t.signed and w_t.width == 2:
            # hls4ml's weight_ternary product (nnet_mult.h) for ap_int<2> weights multiplies
            # the weight -2 as +1 (same as kappa.forward); the gradient stays that of w.
            w = _with_value(w, tf.where(tf.equal(w, -2.0), tf.ones_like(w), w))
        if b is not None and not self.params_on_grid:
            b = _q(b, b_t)
        lin = tf.matmul(x, w)
        if b is not None:
            lin = lin + b
        if acc_t is not None:
            if cur_t is not None and w_t is not None and cur_t.width + w_t.width > 53:
                raise ValueError(
                    f"layer {step.name!r}: products of {cur_t} inputs and {w_t} weights need "
                    f"{cur_t.width + w_t.width} bits; kappa's TensorFlow (float64) forward supports at most 53 "
                    "(kappa.forward.predict_quantized handles up to 62 for inference)"
                )
            acc = _with_value(lin, exact_accumulate(x, w, b, acc_t, cur_t, w_t))
            out_t = acc_t
        else:
            acc, out_t = lin, None
        if step.fused == "relu":
            acc = tf.nn.relu(acc)
        elif step.fused == "other":
            acc = tf.cast(step.layer.activation(tf.cast(acc, tf.float32)), F64)
            out_t = None
        return _q(acc, act_t), (act_t or out_t)

    def _batchnorm(self, step: PlanStep, x, params, training, update_stats):
        L = step.layer
        gamma = params[step.var_index["gamma"]] if "gamma" in step.var_index else None
        beta = params[step.var_index["beta"]] if "beta" in step.var_index else None
        if training:
            mean, var = tf.nn.moments(x, axes=[0])
            if update_stats:
                m = float(L.momentum)
                L.moving_mean.assign(tf.cast(L.moving_mean * m + tf.cast(mean, L.moving_mean.dtype) * (1 - m),
                                             L.moving_mean.dtype))
                L.moving_variance.assign(tf.cast(L.moving_variance * m + tf.cast(var, L.moving_variance.dtype)
                                                 * (1 - m), L.moving_variance.dtype))
        else:
            mean = tf.cast(L.moving_mean, self.dtype)
            var = tf.cast(L.moving_variance, self.dtype)
        return tf.nn.batch_normalization(x, mean, var, beta, gamma, float(L.epsilon))


def predict_tf(keras_model, precision, X, *, strict: bool = True) -> np.ndarray:
    """Inference with :class:`QuantizedForward` (TF). Same numbers as
    ``kappa.forward.predict_quantized`` (the numpy reference) for firmware-exact models.

    Args:
        keras_model: Keras model (chain of supported layers).
        precision: PrecisionDict / dict / path / None.
        X: array (N, d_in).

    Returns:
        float64 ndarray (N, d_out) (float32 values widened when ``precision`` is None).
    """
    fwd = QuantizedForward(keras_model, precision, strict=strict)
    y = fwd(tf.convert_to_tensor(np.asarray(X)), training=False)
    return np.asarray(y.numpy(), dtype=np.float64)
