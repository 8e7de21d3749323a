"""Merge layers: Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate.

hls4ml 1.3.0 (Keras 3 parser ``converters/keras_v3/merge.py``; ``model/layers.py``
``Merge``/``Concatenate``) turns each into one layer of exactly two inputs whose only type
is its result ``result_t`` (the PrecisionDict field ``activation``); its templates
(``nnet_merge.h`` for io_parallel, ``nnet_merge_stream.h`` for io_stream) compute, element
by element, with ``a`` of ``input1_T`` and ``b`` of ``input2_T``:

* Add ``res = a + b``; Subtract ``res = a - b``; Multiply ``res = a * b``: the ap_fixed
  operator gives the exact sum, difference or product (its result type is wide enough),
  which the assignment converts to ``result_t`` (its rounding, then its overflow);
* Average ``res = (a + b) * ap_ufixed<1,0>(0.5)``: the exact half-sum, converted;
* Maximum ``res = a > b ? (result_t) a : (result_t) b``, Minimum with ``<``: the comparison
  of the exact values, then the chosen input converted;
* Concatenate: every element converted to ``result_t`` and placed in channels_last order
  (``concatenate{1,2,3}d`` along the Keras axis; the same order in both I/O modes).

There is no accumulator: the one cast point is ``result_t``, so a narrow WRAP result type is
where a sum wraps. Both I/O modes compute the same bits (io_stream runs the same expressions
per stream word). kappa computes every value exactly in float64 (refused when an exact sum or
product would need more than 53 bits) and converts it with :func:`kappa.quantization.quantize`.

Refused, naming the layer: a merge of other than two inputs (hls4ml's ``Merge`` asserts
two), inputs of different shapes (broadcasting; hls4ml's io_stream merge asserts equal sizes),
``Dot`` (not emulated). Training: the float64 expression with the result cast
straight-through (:func:`kappa.straight_through.q_ste`); Maximum/Minimum pass the gradient to
the chosen input, Concatenate to each part.
"""

from __future__ import annotations

import numpy as np

from ..quantization import quantize
from ..straight_through import q_ste
from .base import LayerFamily, ParseContext, Step, shape_of, unsupported

MERGE_CLASSES = ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate")
EXACT_BITS = 53


def _exact_bits(op: str, ta, tb) -> int:
    """Significant bits of the exact ``op`` of values of types ``ta`` and ``tb``."""
    if op == "multiply":
        return ta.width + tb.width
    frac = max(ta.fractional, tb.fractional)
    whole = max(ta.integer, tb.integer)
    return whole + frac + (2 if op == "average" else 1)


def merge_value(op: str, a, b, xp=np):
    """The exact value before the ``result_t`` cast (numpy or TensorFlow, ``xp``)."""
    if op == "add":
        return a + b
    if op == "subtract":
        return a - b
    if op == "multiply":
        return a * b
    if op == "average":
        return (a + b) * 0.5
    if op == "maximum":
        return xp.where(a > b, a, b)
    if op == "minimum":
        return xp.where(a < b, a, b)
    raise ValueError(f"unknown merge operation {op!r}")  # pragma: no cover - parse only makes the above


class MergeFamily(LayerFamily):
    """The seven merge layers (two inputs each, see the module docstring)."""

    name = "merge"
    keras_classes = MERGE_CLASSES
    fields = ("activation",)
    multi_input = True

    def parse(self, layer, ctx: ParseContext) -> list[Step]:
        cls = type(layer).__name__
        ins = [shape_of(t) for t in (layer.input if isinstance(layer.input, (list, tuple)) else [layer.input])]
        if len(ins) != 2:
            raise unsupported(layer, f"a merge of {len(ins)} inputs: hls4ml 1.3.0 merges exactly two",
                              f"chain {len(ins) - 1} {cls} layers of two inputs each")
        out_shape = shape_of(layer.output)
        attrs = {"op": cls.lower(), "in_shapes": tuple(ins)}
        if cls == "Concatenate":
            rank = len(out_shape)
            axis = int(layer.axis)
            if not (-rank <= axis <= -1 or 1 <= axis <= rank):
                raise unsupported(layer, f"axis {axis} of a rank-{rank} sample", "concatenate along a sample axis")
            attrs["axis"] = axis if axis > 0 else rank + 1 + axis  # numpy axis of the (N, ...) batch
        elif ins[0] != ins[1]:
            raise unsupported(layer, f"inputs of shapes {ins[0]} and {ins[1]} (broadcasting is not emulated; "
                              "hls4ml's io_stream merge needs equal sizes)", "give both inputs the same shape")
        types = {"result": ctx.dtype(layer.name, "activation")}
        return [Step(layer.name, self, layer.name, layer, attrs, types, {}, ins[0], out_shape)]

    def check(self, step, opts, in_t):
        op = step.attrs["op"]
        if op == "concatenate" or in_t is None or any(t is None for t in in_t):
            return
        need = _exact_bits(op, *in_t)
        if need > EXACT_BITS:
            raise ValueError(f"layer {step.name!r}: the exact {op} of {in_t[0]} and {in_t[1]} needs {need} bits; "
                             f"kappa emulates merges exactly up to {EXACT_BITS} bits: use narrower input types")

    def forward(self, step, x, in_t, opts):
        res_t = step.types.get("result")
        op = step.attrs["op"]
        if op == "concatenate":
            parts = [p if res_t is None else quantize(p, res_t.value_cast_type) for p in x]
            return np.concatenate(parts, axis=step.attrs["axis"])
        y = merge_value(op, x[0], x[1])
        return y if res_t is None else quantize(y, res_t.value_cast_type)

    def forward_tf(self, step, x, in_t, fwd):
        import tensorflow as tf

        res_t = step.types.get("result")
        op = step.attrs["op"]
        if op == "concatenate":
            return tf.concat([q_ste(p, res_t) for p in x], axis=step.attrs["axis"])
        return q_ste(merge_value(op, x[0], x[1], tf), res_t)

    def hls_precision(self, step):
        return {"result": (step.types.get("result"), f"{step.keras_name}.activation")}


MERGE = MergeFamily()
