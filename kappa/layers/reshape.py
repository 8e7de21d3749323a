"""Flatten, Reshape and the zero-padding layers hls4ml inserts: layers that move values
without computing.

They keep their input's type: hls4ml aliases a Flatten/Reshape output to its input under
io_parallel and repacks the stream under io_stream, and gives an inserted
``zp1d_``/``zp2d_`` padding layer the following convolution's input type
(``conv_same_pad.py``). kappa writes that type explicitly for Flatten/Reshape and reads
every one back, so a PrecisionDict has no fields for these layers. Shapes are
channels_last, the order in which hls4ml stores and streams values, so a reshape of the
row-major array is the firmware's reshape.
"""

from __future__ import annotations

import numpy as np

from .base import LayerFamily, Step, shape_of


class ReshapeFamily(LayerFamily):
    """``keras.layers.Flatten`` and ``keras.layers.Reshape``."""

    name = "reshape"
    keras_classes = ("Flatten", "Reshape")
    fields = ()
    passthrough = True

    def parse(self, layer, ctx):
        return [Step(layer.name, self, layer.name, layer, {}, {}, {}, shape_of(layer.input), shape_of(layer.output))]

    def forward(self, step, x, in_t, opts):
        return x.reshape((x.shape[0], *step.out_shape))

    def forward_tf(self, step, x, in_t, fwd):
        import tensorflow as tf

        return tf.reshape(x, [-1, *step.out_shape])

    def hls_precision(self, step):
        return {"result": (step.types.get("result"), f"{step.keras_name} (passes the previous type through)")}


class ZeroPaddingFamily(LayerFamily):
    """The ``ZeroPadding1D/2D`` layer hls4ml inserts before a ``same``-padded convolution
    under io_stream (``attrs['pads']`` = (top, bottom, left, right))."""

    name = "zeropad"
    fields = ()
    passthrough = True
    inserted = True

    def forward(self, step, x, in_t, opts):
        pt, pb, pl, pr = step.attrs["pads"]
        if step.attrs["rank"] == 1:
            return np.pad(x, ((0, 0), (pl, pr), (0, 0)))
        return np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)))

    def forward_tf(self, step, x, in_t, fwd):
        import tensorflow as tf

        pt, pb, pl, pr = step.attrs["pads"]
        if step.attrs["rank"] == 1:
            return tf.pad(x, [[0, 0], [pl, pr], [0, 0]])
        return tf.pad(x, [[0, 0], [pt, pb], [pl, pr], [0, 0]])

    def hls_precision(self, step):
        return {
            "result": (
                step.types.get("result"),
                f"{step.name} (inserted by hls4ml; the input type of {step.keras_name})",
            )
        }


RESHAPE = ReshapeFamily()
ZEROPAD = ZeroPaddingFamily()
