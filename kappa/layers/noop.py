"""Layers that compute the identity at inference: Dropout and its kin, GaussianNoise,
ActivityRegularization.

hls4ml 1.3.0's Keras 3 parser turns ``Dropout``, ``SpatialDropout1D/2D/3D``,
``GaussianDropout`` and ``AlphaDropout`` into a linear activation (its ``NoOp`` handler,
``converters/keras_v3/core.py``) that the ``EliminateLinearActivation`` optimizer pass
removes when its result type equals its input type; kappa writes exactly that type, so the
layer disappears from the firmware. The firmware forward is the identity. hls4ml 1.3.0 has
no handler for ``GaussianNoise`` and ``ActivityRegularization``: the emulator computes them
(the identity) but ``hls.convert`` refuses them, naming the layer (``kappa.load_model``
drops all of these layers when it reads a model file).

Training: the dropout and noise layers apply their Keras training behaviour (random), the
result cast to the type that flows through (straight-through); ActivityRegularization is
the identity (its activity loss is not part of kappa's training loss).
"""

from __future__ import annotations

from ..straight_through import q_ste
from .base import LayerFamily, Step, shape_of

HLS4ML_DROPS = ("Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianDropout",
                "AlphaDropout")
"""The no-op classes hls4ml 1.3.0 converts (and removes)."""


class NoOpFamily(LayerFamily):
    """The inference no-ops above: passthrough steps with the previous layer's type."""

    name = "noop"
    keras_classes = HLS4ML_DROPS + ("GaussianNoise", "ActivityRegularization")
    fields = ()
    passthrough = True

    def parse(self, layer, ctx):
        return [Step(layer.name, self, layer.name, layer, {"class": type(layer).__name__}, {}, {},
                     shape_of(layer.input), shape_of(layer.output))]

    def forward(self, step, x, in_t, opts):
        return x

    def forward_tf(self, step, x, in_t, fwd):
        import tensorflow as tf

        if not fwd.training or step.attrs["class"] == "ActivityRegularization":
            return x
        y = tf.cast(step.layer(tf.cast(x, tf.float32), training=True), x.dtype)
        return q_ste(y, step.types.get("result"))

    def hls_precision(self, step):
        return {"result": (step.types.get("result"),
                           f"{step.keras_name} ({step.attrs['class']}: passes the previous type through)")}

    def export_problems(self, step, prev_t):
        if step.attrs["class"] in HLS4ML_DROPS:
            return []
        return [f"layer {step.name!r} ({step.attrs['class']}): hls4ml 1.3.0 has no converter for this layer; it is "
                "the identity at inference, so remove it from the model (kappa.load_model drops it when reading "
                "a model file)"]


NOOP = NoOpFamily()
