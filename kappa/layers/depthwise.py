"""DepthwiseConv1D / DepthwiseConv2D (channels_last, ``depth_multiplier=1``); SeparableConv
refused.

Firmware (hls4ml 1.3.0): the Keras 3 ``ConvHandler`` makes a ``DepthwiseConv1D/2D`` layer,
a subclass of its ``Conv1D/2D`` (so under io_stream a ``same`` padding becomes the
``zp1d_``/``zp2d_`` layer, as for convolutions). Each output pixel and channel ``c`` is
``nnet_depthwise_product.h`` ``depthwise_product_latency`` (io_stream) or
``nnet_sepconv2d_latency.h`` ``depthwise_conv_2d_latency_cl`` (io_parallel; the 1-D one
alike): every product ``x[k, c] * w[k, c]`` converted to ``accum_t``, the accumulator
starting at ``(accum_t) bias[c]``, the products added in window order (row, column), every
partial sum an ``accum_t``, then ``(result_t)``: the Dense arithmetic of
:mod:`kappa.layers.dense` on the window of one channel. Fields: those of a convolution
(``weight`` is the depthwise kernel).

Refused (naming the layer): ``depth_multiplier`` other than 1 (the latency kernels assert
``n_filt == n_chan``), the Resource strategy (``depthwise_conv_2d_cl`` asserts "Resource
strategy for DepthwiseConv2D is not supported"; kappa refuses it in both io types),
dilation, ``padding='causal'``, ``channels_first``.

``SeparableConv1D/2D``: hls4ml 1.3.0's Keras 3 ``ConvHandler`` reads ``layer.kernel``, which
Keras 3 separable convolutions do not have (they hold ``depthwise_kernel`` and
``pointwise_kernel``), so hls4ml cannot convert them; kappa refuses them and names the
equivalent it emulates: a ``DepthwiseConv`` followed by a 1x1 ``Conv`` (hls4ml's own split
into a depthwise and a pointwise step, with the intermediate type as the depthwise layer's
``activation``).
"""

from __future__ import annotations

import numpy as np

from .base import LayerFamily, ParseContext, Step, unsupported
from .conv import as_2d, field_index, im2col, patches_tf, window_steps
from .dense import (
    WEIGHT_FIELDS,
    check_weighted,
    fused_matrix_arith,
    matrix_arith,
    weighted_precision,
)
from .dense_tf import matrix_arith_tf


class DepthwiseFamily(LayerFamily):
    """``keras.layers.DepthwiseConv1D`` and ``DepthwiseConv2D``."""

    name = "depthwise"
    keras_classes = ("DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D")
    fields = WEIGHT_FIELDS

    def parse(self, layer, ctx: ParseContext) -> list[Step]:

        cls = type(layer).__name__
        if cls.startswith("Separable"):
            raise unsupported(layer, "hls4ml 1.3.0's Keras 3 converter reads layer.kernel, which Keras 3 separable "
                              "convolutions do not have, so it cannot convert them",
                              f"use DepthwiseConv{cls[-2:]} followed by a Conv{cls[-2:]} with kernel size 1 (hls4ml's "
                              "own depthwise + pointwise split; the depthwise layer's activation type is the "
                              "intermediate type)")
        rank = 1 if cls.endswith("1D") else 2
        if getattr(layer, "data_format", "channels_last") != "channels_last":
            raise unsupported(layer, f"data_format {layer.data_format!r}", "use channels_last")
        if int(layer.depth_multiplier) != 1:
            raise unsupported(layer, f"depth_multiplier={layer.depth_multiplier}: hls4ml 1.3.0's depthwise kernels "
                              "support a depth multiplier of 1 only", "use depth_multiplier=1")
        if any(int(d) != 1 for d in np.atleast_1d(layer.dilation_rate)):
            raise unsupported(layer, f"dilation_rate {layer.dilation_rate} is not emulated", "use dilation_rate=1")
        if layer.padding not in ("valid", "same"):
            raise unsupported(layer, f"padding {layer.padding!r} is not emulated", "use 'valid' or 'same'")
        if ctx.opts.strategy != "Latency":
            raise unsupported(layer, "the Resource strategy: hls4ml 1.3.0's io_parallel depthwise convolution "
                              "asserts Latency, and kappa emulates the Latency order", "use strategy='Latency'")
        return window_steps(self, layer, ctx, rank)

    def check(self, step, opts, in_t):
        check_weighted(step, opts, in_t)

    def _columns(self, step, x):
        a = step.attrs
        cols = im2col(x.reshape((x.shape[0], *as_2d(step.in_shape))), a["kernel"], a["strides"], a["pads"])
        n, oh, ow, k = cols.shape
        c = step.in_shape[-1]
        return cols.reshape(n * oh * ow, k // c, c)  # (pixels, window positions, channels)

    def forward(self, step, x, in_t, opts):
        arrays = {k: v for k, _, v, _ in self.weights(step)}
        w = arrays["weight"].reshape(-1, step.in_shape[-1])  # (window positions, channels)
        b = arrays.get("bias")
        if opts.strategy != "distributed_arithmetic":  # one compiled pass per channel, no im2col copy
            y = self._fused(step, x, w, b, in_t)
            if y is not None:
                return y
        cols = self._columns(step, x)
        out = np.empty((cols.shape[0], cols.shape[2]))
        for c in range(cols.shape[2]):  # one Dense of n_out = 1 per channel
            out[:, c] = matrix_arith(cols[:, :, c], w[:, c:c + 1], None if b is None else b[c:c + 1], step.types,
                                     in_t, step.name)[:, 0]
        return out.reshape((x.shape[0], *step.out_shape))

    @staticmethod
    def _fused(step, x, w, b, in_t):
        """:meth:`forward` through :func:`kappa.layers.dense.fused_matrix_arith`: channel ``c``
        reads the window positions of the flat input ``(row * W + column) * C + c``; None where
        the fused path does not apply."""
        a = step.attrs
        h, wd, c = as_2d(step.in_shape)
        spatial = field_index((h, wd, 1), a["kernel"], a["strides"], a["pads"])
        flat = x.reshape(x.shape[0], -1)
        out = np.empty((x.shape[0], spatial.shape[0], c))
        for ch in range(c):
            idx = np.where(spatial < 0, -1, spatial * c + ch)
            y = fused_matrix_arith(flat, idx, w[:, ch:ch + 1], None if b is None else b[ch:ch + 1], step.types, in_t)
            if y is None:
                return None
            out[:, :, ch] = y[:, :, 0]
        return out.reshape((x.shape[0], *step.out_shape))

    def forward_tf(self, step, x, in_t, fwd):
        import tensorflow as tf

        a = step.attrs
        kh, kw = a["kernel"]
        cols = patches_tf(step, x)
        c = int(step.in_shape[-1])
        cols = tf.reshape(cols, [-1, kh * kw, c])
        w = tf.reshape(fwd.param(step, "kernel"), [kh * kw, c])
        b = fwd.param(step, "bias") if a["use_bias"] else None
        outs = [matrix_arith_tf(cols[:, :, i], w[:, i:i + 1], None if b is None else b[i:i + 1], step, in_t, fwd)
                for i in range(c)]
        return tf.reshape(tf.concat(outs, axis=1), [-1, *step.out_shape])

    def hls_precision(self, step):
        return weighted_precision(step)

    def weights(self, step):
        layer = step.layer
        out = [("weight", "kernel", np.asarray(layer.kernel.numpy(), np.float64), step.types.get("weight"))]
        if step.attrs.get("use_bias", True):
            out.append(("bias", "bias", np.asarray(layer.bias.numpy(), np.float64), step.types.get("bias")))
        return out


DEPTHWISE = DepthwiseFamily()
