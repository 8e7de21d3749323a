"""Embedding: a table lookup (hls4ml 1.3.0 ``nnet_embed.h`` / ``nnet_embed_stream.h``).

``res[j * n_out + i] = embeddings[data[j] * n_out + i]``: the input element is the row
index, the row's ``embeddings_t`` values are converted to the result type. hls4ml's Keras
converter (Keras 2 handler, reached by the v2 fallback) takes a 1-D input of ``n_in``
indices. The index is the input value itself, so kappa requires an input type whose every
value is a valid row: an integer type (no fractional bits), non-negative, at most
``input_dim - 1`` (an ``ap_uint<b>`` with ``2**b <= input_dim``, saturating or not): any other
type could index outside the table, which the C++ does not check.

Fields: ``weight`` (the table, hls4ml's ``embeddings`` key) and ``activation``. Training: the
table is a parameter (straight-through to its type), the lookup a gather.
"""

from __future__ import annotations

import numpy as np

from ..quantization import quantize, quantize_tensor
from ..straight_through import q_ste
from .base import LayerFamily, Step, shape_of, unsupported


class EmbeddingFamily(LayerFamily):
    """``keras.layers.Embedding`` on a 1-D input of indices."""

    name = "embedding"
    keras_classes = ("Embedding",)
    fields = ("weight", "activation", "gradient", "update", "momentum", "adam_m", "adam_v")

    def parse(self, layer, ctx):
        in_shape, out_shape = shape_of(layer.input), shape_of(layer.output)
        if len(in_shape) != 1:
            raise unsupported(layer, f"an input of shape {in_shape} (hls4ml's Embedding takes a 1-D sequence of "
                              "indices)", "give it a 1-D input")
        if getattr(layer, "mask_zero", False):
            raise unsupported(layer, "mask_zero=True (hls4ml has no masks)", "use mask_zero=False")
        types = {"weight": ctx.dtype(layer.name, "weight"), "result": ctx.dtype(layer.name, "activation")}
        return [Step(layer.name, self, layer.name, layer, {"vocab": int(layer.input_dim)}, types,
                     ctx.var_index(layer), in_shape, out_shape)]

    def check(self, step, opts, in_t):
        if in_t is None:
            return
        vocab = step.attrs["vocab"]
        if in_t.fractional > 0 or in_t.min < 0 or in_t.max > vocab - 1:
            raise ValueError(
                f"layer {step.name!r}: its input type {in_t} can hold values that are not rows of the "
                f"{vocab}-row table (the firmware reads data[j] * n_out without a check); use an integer, "
                f"non-negative input type of at most {vocab - 1}, e.g. ap_uint<{max(1, (vocab - 1).bit_length())}> "
                + ("" if vocab & (vocab - 1) == 0 else "with AP_SAT (saturating at 2**b - 1 needs 2**b <= input_dim: "
                   f"use ap_uint<{max(1, vocab.bit_length() - 1)}>)")
            )

    def table(self, step) -> np.ndarray:
        e = np.asarray(step.layer.embeddings.numpy(), np.float64)
        w_t = step.types.get("weight")
        return e if w_t is None else quantize(e, w_t)

    def forward(self, step, x, in_t, opts):
        idx = np.clip(np.trunc(x), 0, step.attrs["vocab"] - 1).astype(np.int64)  # float input: Keras truncates
        y = self.table(step)[idx]
        t = step.types.get("result")
        return y if t is None else quantize(y, t.value_cast_type)

    def forward_tf(self, step, x, in_t, fwd):
        import tensorflow as tf

        e = fwd.param(step, "embeddings")
        w_t = step.types.get("weight")
        if w_t is not None:  # the table is read as doubles (weights/*.txt) and converted
            e = quantize_tensor(e, w_t, ste=True)
        idx = tf.cast(tf.clip_by_value(tf.math.floor(x), 0.0, step.attrs["vocab"] - 1.0), tf.int32)
        return q_ste(tf.gather(tf.cast(e, x.dtype), idx), step.types.get("result"))

    def hls_precision(self, step):
        return {"embeddings": (step.types.get("weight"), f"{step.keras_name}.weight"),
                "result": (step.types.get("result"), f"{step.keras_name}.activation")}

    def weights(self, step):
        return [("embeddings", "embeddings", np.asarray(step.layer.embeddings.numpy(), np.float64),
                 step.types.get("weight"))]


EMBEDDING = EmbeddingFamily()
