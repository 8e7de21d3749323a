"""The ReLU variants hls4ml 1.3.0 converts from Keras 3: thresholded ReLU, PReLU and ReLU6.

* ``ReLU(threshold=t)`` (Keras 3 has no ThresholdedReLU layer; its ReLU computes
  ``x > t ? x : 0``, and a Keras 2 ``ThresholdedReLU(theta=t)`` is loaded as that):
  hls4ml's Keras 3 ``ReLUHandler`` makes it a ``ThresholdedReLU`` whose ``theta`` is written
  as a decimal literal and converted to ``param_t`` (``nnet_activation.h``
  ``thresholded_relu``: ``res = data > theta ? data : 0``, a comparison of exact values,
  then the implicit conversion to the result type). Fields ``activation``, ``param``
  (default: hls4ml's ``ap_fixed<16,6>``).
* ``PReLU`` (one slope per element, ``shared_axes=None``): ``res = data > 0 ? data :
  alpha[i] * data`` with ``alpha`` stored as ``param_t`` weights, the product exact
  (``nnet_activation.h`` / ``_stream.h`` ``prelu``). Fields ``activation``, ``param``.
  ``shared_axes`` is refused: hls4ml writes the Keras ``alpha`` array (fewer elements than
  the input) and the C++ reads ``alpha[i]`` for every input element.
* ``Activation('relu6')``: ``nnet_activation.h`` ``relu_max<..., 6>``: ``data < 0 ? 0 :
  data > 6 ? (res_T) 6 : (res_T) data``. io_parallel only: ``nnet_activation_stream.h`` has
  no ``relu6`` (refused under io_stream). Field ``activation``.
* ``ReLU(max_value=m)`` is refused: hls4ml 1.3.0's Keras 3 ReLU handler asserts
  ``max_value in (None, inf)``; ``Activation('relu6')`` is the supported clipped ReLU.

Training: the forward values are the firmware's (bit for bit), the gradients those of the
float functions (straight-through).
"""

from __future__ import annotations

import numpy as np

from ..fixed_point import FixedPointType
from ..quantization import quantize, requantize_codes, to_codes
from ..straight_through import numpy_in_tf, q_ste, with_value
from ._common import MAX_PRODUCT_BITS_NUMPY
from .base import LayerFamily, Step, shape_of, unsupported

DEFAULT_PARAM_T = FixedPointType.from_string("ap_fixed<16,6>")
"""hls4ml's ``param`` type when none is configured (the model default)."""


def _param_types(layer, ctx) -> dict:
    types = {"result": ctx.dtype(layer.name, "activation"), "param": ctx.dtype(layer.name, "param")}
    if ctx.precision is not None and types["param"] is None:
        types["param"] = DEFAULT_PARAM_T
    return types


class ThresholdedReLUFamily(LayerFamily):
    """``ReLU(threshold=t)`` (``negative_slope=0``, ``max_value=None``), hls4ml ``thresholded_relu``."""

    name = "thresholded_relu"
    fields = ("activation", "param")

    def parse(self, layer, ctx):
        shape = shape_of(layer.output)
        return [Step(layer.name, self, layer.name, layer, {"kind": "thresholded_relu",
                                                           "theta": float(layer.threshold)},
                     _param_types(layer, ctx), {}, shape, shape)]

    def theta(self, step) -> float:
        """The threshold as the firmware holds it: the literal converted to ``param_t``."""
        p_t = step.types.get("param")
        th = step.attrs["theta"]
        return th if p_t is None else float(quantize(np.array(th), p_t))

    def forward(self, step, x, in_t, opts):
        t = step.types.get("result")
        y = np.where(x > self.theta(step), x, 0.0)
        return y if t is None else quantize(y, t.value_cast_type)

    def forward_tf(self, step, x, in_t, fwd):
        import tensorflow as tf

        return q_ste(tf.where(x > self.theta(step), x, tf.zeros_like(x)), step.types.get("result"))

    def hls_precision(self, step):
        return {"result": (step.types.get("result"), f"{step.keras_name}.activation"),
                "param": (step.types.get("param"), f"{step.keras_name}.param")}


class ReLU6Family(LayerFamily):
    """``Activation('relu6')``, hls4ml ``relu6`` (io_parallel)."""

    name = "relu6"
    fields = ("activation",)

    def parse(self, layer, ctx):
        if ctx.opts.io_type == "io_stream":
            raise unsupported(layer, "relu6 under io_stream: hls4ml 1.3.0's nnet_activation_stream.h has no relu6",
                              "use io_type='io_parallel', or a ReLU followed by a saturating result type")
        shape = shape_of(layer.output)
        return [Step(layer.name, self, layer.name, layer, {"kind": "relu6"},
                     {"result": ctx.dtype(layer.name, "activation")}, {}, shape, shape)]

    def forward(self, step, x, in_t, opts):
        t = step.types.get("result")
        y = np.clip(x, 0.0, 6.0)  # 6 is an integer: (res_T) 6 converts it as any value
        return y if t is None else quantize(y, t.value_cast_type)

    def forward_tf(self, step, x, in_t, fwd):
        import tensorflow as tf

        return q_ste(tf.clip_by_value(x, 0.0, 6.0), step.types.get("result"))


class PReLUFamily(LayerFamily):
    """``keras.layers.PReLU`` with ``shared_axes=None``, hls4ml ``prelu``."""

    name = "prelu"
    keras_classes = ("PReLU",)
    fields = ("activation", "param", "value", "gradient", "update", "momentum", "adam_m", "adam_v")

    def parse(self, layer, ctx):
        if layer.shared_axes:
            raise unsupported(layer, f"shared_axes={list(layer.shared_axes)}: hls4ml writes the shared alpha array "
                              "and its C++ reads one slope per input element (out of bounds)",
                              "use shared_axes=None (one slope per element)")
        shape = shape_of(layer.output)
        return [Step(layer.name, self, layer.name, layer, {"kind": "prelu"}, _param_types(layer, ctx),
                     ctx.var_index(layer), shape, shape)]

    def alpha(self, step) -> np.ndarray:
        a = np.asarray(step.layer.alpha.numpy(), np.float64)
        p_t = step.types.get("param")
        return a if p_t is None else quantize(a, p_t)

    def check(self, step, opts, in_t):
        p_t = step.types.get("param")
        if in_t is not None and p_t is not None and in_t.width + p_t.width > MAX_PRODUCT_BITS_NUMPY:
            raise ValueError(f"layer {step.name!r}: {in_t} x {p_t} products need {in_t.width + p_t.width} bits; "
                             f"kappa's int64 emulation supports at most {MAX_PRODUCT_BITS_NUMPY}")

    def values(self, step, x, in_t, alpha):
        p_t, res_t = step.types.get("param"), step.types.get("result")
        if in_t is None or p_t is None:
            y = np.where(x > 0, x, alpha * x)
            return y if res_t is None else quantize(y, res_t)
        F = in_t.fractional + p_t.fractional
        neg = to_codes(x, in_t) * to_codes(np.broadcast_to(alpha, x.shape[1:]), p_t)[None]
        if res_t is None:
            return np.where(x > 0, x, neg * 2.0 ** -F)
        pos = requantize_codes(to_codes(x, in_t), in_t.fractional, res_t)
        return np.where(x > 0, pos, requantize_codes(neg, F, res_t)) * res_t.lsb

    def forward(self, step, x, in_t, opts):
        return self.values(step, x, in_t, self.alpha(step))

    def forward_tf(self, step, x, in_t, fwd):
        import tensorflow as tf

        a = fwd.param(step, "alpha")
        smooth = tf.where(x > 0, x, tf.cast(a, x.dtype) * x)
        if fwd.precision is None:
            return q_ste(smooth, step.types.get("result"))
        p_t, res_t = step.types.get("param"), step.types.get("result")
        if in_t is None or p_t is None or in_t.width + p_t.width > 53:
            value = numpy_in_tf(lambda v: self.values(step, v, in_t, self.alpha(step)), x, x.dtype)
            return with_value(smooth, value)
        from ..quantization import quantize_tensor

        # the product of two grid values with at most 53 significant bits is exact in float64
        neg = x * quantize_tensor(tf.cast(a, x.dtype), p_t, ste=False)
        if res_t is not None:
            x_r = quantize_tensor(x, res_t.value_cast_type, ste=False)
            neg = quantize_tensor(neg, res_t.value_cast_type, ste=False)
        else:
            x_r = x
        return with_value(smooth, tf.where(x > 0, x_r, neg))

    def hls_precision(self, step):
        return {"result": (step.types.get("result"), f"{step.keras_name}.activation"),
                "param": (step.types.get("param"), f"{step.keras_name}.param")}

    def weights(self, step):
        return [("param", "alpha", np.asarray(step.layer.alpha.numpy(), np.float64), step.types.get("param"))]


THRESHOLDED_RELU = ThresholdedReLUFamily()
RELU6 = ReLU6Family()
PRELU = PReLUFamily()
