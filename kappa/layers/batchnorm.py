"""BatchNormalization in inference form, as hls4ml 1.3.0 keeps it when every type is explicit.

hls4ml folds a BatchNormalization into the preceding Dense/Conv only when that layer's
result type is ``auto`` (``bn_fuse.py``); kappa writes every type, so hls4ml keeps a
separate layer (``nnet_batchnorm.h`` / ``nnet_batchnorm_stream.h``, ``normalize``)::

    res[i] = (result_t)(data[i] * scale[c] + bias[c])      c = channel (last axis)

where the product is exact (``product::mult``) and the sum exact, then one conversion to
``result_t``. The same in io_parallel and io_stream.

The weights: ``scale = gamma / sqrt(moving_variance + epsilon)`` and
``bias = beta - moving_mean * scale``, computed by kappa in float64 from the Keras
variables and cast to the ``scale`` and ``bias`` types; the converter writes exactly those
values into the hls4ml model (hls4ml's own float32 computation is replaced) and reads them
back. Fields: ``scale``, ``bias``, ``activation``.

Training: batch statistics in training mode (moving statistics updated), the exported
inference form (scale and bias on their grids, exact affine map, result cast) otherwise,
with straight-through gradients to gamma and beta.

The firmware forward computes the affine map in one compiled pass (:func:`fused_affine`);
:func:`affine_exact` (numpy, int64 codes) is the definition it is tested against.
"""

from __future__ import annotations

import numpy as np

from ..quantization import quantize, requantize_codes, to_codes
from ..straight_through import numpy_in_tf, q_ste, with_value
from .base import LayerFamily, Step, shape_of
from .fastpath import cast_fits, check_grid

MAX_BITS = 62


def affine_bits(in_t, s_t, b_t) -> int:
    """Bits (sign included) of the exact ``x * scale + bias`` in codes at ``2**-F``,
    ``F = max(F_x + F_s, F_b)``."""
    F = max(in_t.fractional + s_t.fractional, b_t.fractional)
    return max(in_t.width + s_t.width + F - in_t.fractional - s_t.fractional, b_t.width + F - b_t.fractional) + 1


def inference_affine(layer) -> tuple[np.ndarray, np.ndarray]:
    """``(scale, bias)`` float64 (C,) of a Keras BatchNormalization (see the module doc)."""
    C = int(layer.moving_mean.shape[0])
    gamma = np.asarray(layer.gamma.numpy(), np.float64) if layer.scale else np.ones(C)
    beta = np.asarray(layer.beta.numpy(), np.float64) if layer.center else np.zeros(C)
    mean = np.asarray(layer.moving_mean.numpy(), np.float64)
    var = np.asarray(layer.moving_variance.numpy(), np.float64)
    scale = gamma / np.sqrt(var + float(layer.epsilon))
    return scale, beta - mean * scale


def affine_exact(x, in_t, scale, bias, s_t, b_t, res_t):
    """``(result_t)(x * scale + bias)`` with exact product and sum (int64 codes).

    Args:
        x: float64 (N, ..., C) on ``in_t``. scale, bias: (C,) on ``s_t``/``b_t``.

    Returns:
        float64 array like ``x``.
    """
    F = max(in_t.fractional + s_t.fractional, b_t.fractional)
    p = to_codes(x, in_t) * to_codes(scale, s_t)
    p = p << np.int64(F - in_t.fractional - s_t.fractional)
    total = p + (to_codes(bias, b_t) << np.int64(F - b_t.fractional))
    if res_t is None:
        return total * 2.0 ** -F
    return requantize_codes(total, F, res_t) * res_t.lsb


def fused_affine(x, in_t, scale, bias, s_t, b_t, res_t):
    """:func:`affine_exact` in one compiled pass (:func:`kappa.fused_kernels.affine_kernel`),
    or None where it does not apply (no result type, an empty ``x``, a result cast whose left
    shift could leave int64, a sum wider than 62 bits). Same arguments and result."""
    if res_t is None or x.size == 0 or x.ndim < 1:
        return None
    F = max(in_t.fractional + s_t.fractional, b_t.fractional)
    bits = affine_bits(in_t, s_t, b_t)
    if bits > MAX_BITS or not cast_fits(bits, F - res_t.fractional):
        return None
    from ..fused_kernels import affine_kernel, cast_spec

    C = x.shape[-1]
    xx = np.ascontiguousarray(x, np.float64).reshape(-1, C)
    sc = np.broadcast_to(to_codes(scale, s_t), (C,)).astype(np.int64)
    bc = np.broadcast_to(to_codes(bias, b_t), (C,)).astype(np.int64)
    out = np.empty(xx.shape, np.float64)
    bad = affine_kernel()(xx, 2.0**in_t.fractional, sc, bc, F - in_t.fractional - s_t.fractional,
                          F - b_t.fractional, np.array(cast_spec(F - res_t.fractional, res_t), np.int64), res_t.lsb,
                          out)
    check_grid(bad, xx, in_t)
    return out.reshape(x.shape)


def batch_normalize_tf(x, gamma, beta, epsilon: float):
    """Training-mode batch normalization over every axis but the last:
    ``tf.nn.moments`` + ``tf.nn.batch_normalization``, values and gradients bit for bit, with
    a hand-written gradient that needs about half the full-size passes of TensorFlow's.

    TensorFlow's gradient of that pair broadcasts two per-channel terms to the full shape
    and divides them there by the count ``n``; here they are divided per channel and added
    with the implicit broadcast, which gives every element the same float operations in the
    same order: ``dx = (dy * inv + (-sum(dy) * inv) / n) + 2 * (dvar / n) * (x - mean)``
    (the three terms of TensorFlow's ``AddN``, left to right), ``dgamma = rsqrt(var + eps) *
    (sum(x * dy) + mean * -sum(dy))``, ``dbeta = sum(dy)``, ``dvar`` from ``RsqrtGrad``
    (``tests/training/test_batchnorm_train.py`` compares all of them with TensorFlow's).

    Args:
        x: (..., C) float tensor; statistics over all leading axes.
        gamma, beta: (C,) tensors (or scalars), of x's dtype.
        epsilon: the layer's epsilon.

    Returns:
        ``(y, mean, var)``: y of x's shape; the (C,) batch mean and (biased) variance, which
        carry no gradient (they feed the moving statistics).
    """
    import tensorflow as tf

    axes = list(range(len(x.shape) - 1))

    @tf.custom_gradient
    def normalize(x, gamma, beta):
        mean_k = tf.reduce_mean(x, axes, keepdims=True)
        d = x - mean_k                                    # SquaredDifference's difference
        var_k = tf.reduce_mean(d * d, axes, keepdims=True)
        mean, var = tf.squeeze(mean_k, axes), tf.squeeze(var_k, axes)
        r = tf.math.rsqrt(var + epsilon)
        inv = r * gamma
        y = x * inv + (beta - mean * inv)

        def grad(dy, *_unused):  # mean and var leave through stop_gradient below
            dbeta = tf.reduce_sum(dy, axes)
            neg = -dbeta
            dinv = tf.reduce_sum(x * dy, axes) + mean * neg
            dvar = tf.raw_ops.RsqrtGrad(y=r, dy=dinv * gamma)
            n = tf.cast(tf.size(x) // tf.size(mean), x.dtype)
            dx = (dy * inv + (neg * inv) / n) + (2.0 * (dvar / n)) * d
            dgamma = r * dinv
            # a scalar gamma/beta (the layer has no scale/center) broadcast to every channel
            return dx, (tf.reduce_sum(dgamma) if gamma.shape.rank == 0 else dgamma), \
                (tf.reduce_sum(dbeta) if beta.shape.rank == 0 else dbeta)

        return (y, mean, var), grad

    y, mean, var = normalize(x, gamma, beta)
    return y, tf.stop_gradient(mean), tf.stop_gradient(var)


class BatchNormFamily(LayerFamily):
    """``keras.layers.BatchNormalization`` (last axis), a separate hls4ml layer."""

    name = "batchnorm"
    keras_classes = ("BatchNormalization",)
    fields = ("activation", "scale", "bias", "value", "gradient", "update", "momentum", "adam_m", "adam_v")

    def parse(self, layer, ctx):
        shape = shape_of(layer.output)
        axis = layer.axis if isinstance(layer.axis, int) else (list(layer.axis) + [None])[0]
        if axis not in (-1, len(shape)):
            from .base import unsupported

            raise unsupported(layer, f"BatchNormalization(axis={layer.axis}) normalizes another axis than the "
                              "channels (last)", "use axis=-1")
        types = {"scale": ctx.dtype(layer.name, "scale"), "bias": ctx.dtype(layer.name, "bias"),
                 "result": ctx.dtype(layer.name, "activation")}
        return [Step(layer.name, self, layer.name, layer, {}, types, ctx.var_index(layer), shape, shape)]

    def check(self, step, opts, in_t):
        s_t, b_t = step.types.get("scale"), step.types.get("bias")
        if s_t is not None and s_t.kind == "int" and s_t.signed and s_t.width == 2:
            raise ValueError(f"layer {step.name!r}: scale type {s_t} selects hls4ml's ternary product, which kappa "
                             "does not emulate for BatchNormalization; use ap_fixed<2,2> or a wider type")
        if in_t is not None and s_t is not None and b_t is not None:
            bits = affine_bits(in_t, s_t, b_t)
            if bits > MAX_BITS:
                raise ValueError(f"layer {step.name!r}: x*scale+bias with input {in_t}, scale {s_t}, bias {b_t} "
                                 f"needs {bits} bits; kappa's int64 emulation supports at most {MAX_BITS}")

    def arrays(self, step):
        scale, bias = inference_affine(step.layer)
        s_t, b_t = step.types.get("scale"), step.types.get("bias")
        return (scale if s_t is None else quantize(scale, s_t)), (bias if b_t is None else quantize(bias, b_t))

    def forward(self, step, x, in_t, opts):
        scale, bias = self.arrays(step)
        s_t, b_t, res_t = step.types.get("scale"), step.types.get("bias"), step.types.get("result")
        if in_t is None or s_t is None or b_t is None:
            y = x * scale + bias
            return y if res_t is None else quantize(y, res_t)
        y = fused_affine(x, in_t, scale, bias, s_t, b_t, res_t)
        return affine_exact(x, in_t, scale, bias, s_t, b_t, res_t) if y is None else y

    def forward_tf(self, step, x, in_t, fwd):
        import tensorflow as tf


        L = step.layer
        gamma = fwd.param(step, "gamma") if "gamma" in step.var_index else tf.constant(1.0, fwd.dtype)
        beta = fwd.param(step, "beta") if "beta" in step.var_index else tf.constant(0.0, fwd.dtype)
        if fwd.training:
            y, mean, var = batch_normalize_tf(x, gamma, beta, float(L.epsilon))
            if fwd.update_stats:
                m = float(L.momentum)
                L.moving_mean.assign(tf.cast(L.moving_mean * m + tf.cast(mean, L.moving_mean.dtype) * (1 - m),
                                             L.moving_mean.dtype))
                L.moving_variance.assign(tf.cast(L.moving_variance * m + tf.cast(var, L.moving_variance.dtype)
                                                 * (1 - m), L.moving_variance.dtype))
            return q_ste(y, step.types.get("result"))
        mean = tf.cast(L.moving_mean, fwd.dtype)
        var = tf.cast(L.moving_variance, fwd.dtype)
        smooth = tf.nn.batch_normalization(x, mean, var, beta, gamma, float(L.epsilon))
        if fwd.precision is None:
            return q_ste(smooth, step.types.get("result"))
        # Inference: the firmware's affine map on the exported scale/bias (gamma/beta as
        # held in the variables now), gradients of the float map.
        return with_value(smooth, numpy_in_tf(lambda a: self.forward(step, a, in_t, fwd.opts), x, x.dtype))

    def hls_precision(self, step):
        k = step.keras_name
        return {"scale": (step.types.get("scale"), f"{k}.scale"), "bias": (step.types.get("bias"), f"{k}.bias"),
                "result": (step.types.get("result"), f"{k}.activation")}

    def weights(self, step):
        scale, bias = inference_affine(step.layer)
        return [("scale", None, scale, step.types.get("scale")), ("bias", None, bias, step.types.get("bias"))]


BATCHNORM = BatchNormFamily()
