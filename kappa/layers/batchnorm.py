"""BatchNormalization: training only for now (float statistics, output cast to the
layer's ``activation`` type). It is not firmware-exact yet, so ``predict_quantized`` and
``hls.convert`` refuse it (``strict``); hls4ml keeps a separate ``nnet_batchnorm.h``
layer when every type is explicit (``../shared/reference/hls4ml-notes.md``).
"""

from __future__ import annotations

from .base import LayerFamily, Step, shape_of, unsupported


class BatchNormFamily(LayerFamily):
    """``keras.layers.BatchNormalization`` (training in float)."""

    name = "batchnorm"
    keras_classes = ("BatchNormalization",)
    fields = ("activation", "value", "gradient", "update", "momentum", "adam_m", "adam_v")
    firmware_exact = False

    def parse(self, layer, ctx):
        if ctx.strict:
            raise unsupported(layer, "BatchNormalization is not emulated bit for bit yet",
                              "remove it, or fold it into the preceding layer's weights before conversion")
        shape = shape_of(layer.output)
        return [Step(layer.name, self, layer.name, layer, {}, {"result": ctx.dtype(layer.name, "activation")},
                     ctx.var_index(layer), shape, shape)]

    def forward_tf(self, step, x, in_t, fwd):
        import tensorflow as tf

        from ..training_forward import q_ste

        L = step.layer
        gamma = fwd.param(step, "gamma") if "gamma" in step.var_index else None
        beta = fwd.param(step, "beta") if "beta" in step.var_index else None
        axes = list(range(len(x.shape) - 1))
        if fwd.training:
            mean, var = tf.nn.moments(x, axes=axes)
            if fwd.update_stats:
                m = float(L.momentum)
                L.moving_mean.assign(tf.cast(L.moving_mean * m + tf.cast(mean, L.moving_mean.dtype) * (1 - m),
                                             L.moving_mean.dtype))
                L.moving_variance.assign(tf.cast(L.moving_variance * m + tf.cast(var, L.moving_variance.dtype)
                                                 * (1 - m), L.moving_variance.dtype))
        else:
            mean = tf.cast(L.moving_mean, fwd.dtype)
            var = tf.cast(L.moving_variance, fwd.dtype)
        y = tf.nn.batch_normalization(x, mean, var, beta, gamma, float(L.epsilon))
        return q_ste(y, step.types.get("result"))


BATCHNORM = BatchNormFamily()
