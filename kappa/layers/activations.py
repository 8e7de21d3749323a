"""Activations: ReLU and linear (firmware-exact), other functions (training only, in float).

Firmware (hls4ml 1.3.0 ``nnet_activation.h``, ``nnet_activation_stream.h``):

* ReLU: ``res[i] = x > 0 ? x : 0``, an implicit conversion to the ReLU's result type
  with that type's own rounding and overflow (a WRAP result type can turn a large positive
  input negative). The same in io_parallel and io_stream.
* ``Activation('linear')``: hls4ml's optimizer removes the layer, so its output is its
  input; kappa refuses a linear activation type that differs from the previous layer's
  result type at conversion (it would be ignored in firmware).

Fused activations (``Dense(..., activation='relu')``, ``Conv2D(..., activation='relu')``)
are split off as ``<layer>_relu``, as hls4ml does. Other functions (sigmoid, tanh,
softmax, ...) are table-based in hls4ml; they are refused for firmware and, in training
without ``strict``, computed in float and cast to the layer's ``activation`` type.
"""

from __future__ import annotations

import numpy as np

from ..quantization import quantize
from .base import LayerFamily, ParseContext, Step, shape_of, unsupported

EXACT_ACTIVATIONS = ("linear", "relu")


def activation_name(fn) -> str:
    """The name of a Keras activation function (``"relu"``, ``"linear"``, ...)."""
    return getattr(fn, "__name__", type(fn).__name__)


def fused_activation_steps(layer, ctx: ParseContext, shape: tuple) -> tuple[list[Step], str]:
    """The steps a fused activation of ``layer`` becomes, and its name.

    Returns:
        ``(steps, fused)``: ``fused`` is ``"linear"`` (no step), ``"relu"``
        (``<name>_relu`` with the layer's ``activation`` type) or the function's name
        (a float step, training only).

    Raises:
        ValueError: a function other than linear/relu with ``ctx.strict``.
    """
    act = activation_name(layer.activation)
    if act == "linear":
        return [], "linear"
    result = {"result": ctx.dtype(layer.name, "activation")}
    if act == "relu":
        return [Step(f"{layer.name}_relu", RELU, layer.name, layer, {"kind": "relu"}, result, {}, shape, shape)], act
    if ctx.strict:
        raise unsupported(layer, f"fused activation {act!r} is table-based in hls4ml and not yet emulated bit for bit",
                          "use activation 'linear' or 'relu'")
    return [Step(f"{layer.name}_{act}", FLOAT_ACTIVATION, layer.name, layer, {"kind": "generic", "fn": layer.activation},
                 result, {}, shape, shape)], act


class ReLUFamily(LayerFamily):
    """``Activation('relu')`` and ``ReLU()`` with default arguments; also split-off ReLUs."""

    name = "relu"
    fields = ("activation",)

    def parse(self, layer, ctx):
        shape = shape_of(layer.output)
        return [Step(layer.name, self, layer.name, layer, {"kind": "relu"},
                     {"result": ctx.dtype(layer.name, "activation")}, {}, shape, shape)]

    def forward(self, step, x, in_t, opts):
        t = step.types.get("result")
        y = np.maximum(x, 0.0)
        return y if t is None else quantize(y, t)

    def forward_tf(self, step, x, in_t, fwd):
        import tensorflow as tf

        from ..training_forward import q_ste

        return q_ste(tf.nn.relu(x), step.types.get("result"))


class LinearFamily(LayerFamily):
    """``Activation('linear')``: removed by hls4ml; a type cast in kappa's forward."""

    name = "linear"
    fields = ("activation",)

    def parse(self, layer, ctx):
        shape = shape_of(layer.output)
        return [Step(layer.name, self, layer.name, layer, {"kind": "linear"},
                     {"result": ctx.dtype(layer.name, "activation")}, {}, shape, shape)]

    def forward(self, step, x, in_t, opts):
        t = step.types.get("result")
        return x if t is None else quantize(x, t)

    def forward_tf(self, step, x, in_t, fwd):
        from ..training_forward import q_ste

        return q_ste(x, step.types.get("result"))

    def hls_precision(self, step):
        return {}  # hls4ml's optimizer removes the layer: nothing to configure

    def export_problems(self, step, prev_t):
        t = step.types.get("result")
        if t is not None and t != prev_t:
            return [f"{step.name}.activation: hls4ml removes linear Activation layers, so its type {t} would be "
                    f"ignored in firmware; give it the preceding layer's type ({prev_t}) or remove the layer"]
        return []


class FloatActivationFamily(LayerFamily):
    """Any other parameter-free layer or activation, in training only (``strict=False``):
    computed in float32 by Keras, then cast to the layer's ``activation`` type. Not
    firmware-exact; ``predict_quantized`` and ``hls.convert`` refuse it."""

    name = "generic"
    fields = ("activation",)
    firmware_exact = False

    def parse(self, layer, ctx):
        return [Step(layer.name, self, layer.name, layer, {"kind": "generic"},
                     {"result": ctx.dtype(layer.name, "activation")}, {}, shape_of(layer.input), shape_of(layer.output))]

    def forward_tf(self, step, x, in_t, fwd):
        import tensorflow as tf

        from ..training_forward import q_ste

        fn = step.attrs.get("fn")
        x32 = tf.cast(x, tf.float32)
        y = fn(x32) if fn is not None else step.layer(x32, training=fwd.training)
        return q_ste(tf.cast(y, fwd.dtype), step.types.get("result"))


RELU = ReLUFamily()
LINEAR = LinearFamily()
FLOAT_ACTIVATION = FloatActivationFamily()


class ActivationLayers(LayerFamily):
    """Dispatch of ``Activation`` and ``ReLU`` layers to the families above."""

    name = "activation"
    keras_classes = ("Activation", "ReLU")
    fields = ("activation",)

    def parse(self, layer, ctx):
        if type(layer).__name__ == "ReLU":
            default = (layer.max_value is None and float(layer.negative_slope) == 0.0
                       and float(layer.threshold) == 0.0)
            if default:
                return RELU.parse(layer, ctx)
            if ctx.strict:
                raise unsupported(layer, "ReLU with max_value/negative_slope/threshold is not emulated",
                                  "use ReLU() with default arguments")
            return FLOAT_ACTIVATION.parse(layer, ctx)
        act = activation_name(layer.activation)
        if act == "relu":
            return RELU.parse(layer, ctx)
        if act == "linear":
            return LINEAR.parse(layer, ctx)
        if ctx.strict:
            raise unsupported(layer, f"activation {act!r} is table-based in hls4ml and cannot be emulated bit for bit "
                              "yet", "use 'relu' or 'linear'")
        return FLOAT_ACTIVATION.parse(layer, ctx)


ACTIVATION_LAYERS = ActivationLayers()
