"""Activations: ReLU, LeakyReLU, linear, sigmoid and tanh (firmware-exact; softmax in
:mod:`kappa.layers.softmax`), other functions (training only, in float).

Firmware (hls4ml 1.3.0 ``nnet_activation.h``, ``nnet_activation_stream.h``):

* ReLU: ``res[i] = x > 0 ? x : 0``, an implicit conversion to the ReLU's result type
  with that type's own rounding and overflow (a WRAP result type can turn a large positive
  input negative). The same in io_parallel and io_stream. kappa skips the conversion when
  it provably changes no value >= 0 of the input type
  (:func:`kappa.layers.fastpath.cast_is_identity`).
* ``Activation('linear')``: hls4ml's optimizer removes the layer, so its output is its
  input; kappa refuses a linear activation type that differs from the previous layer's
  result type at conversion (it would be ignored in firmware).

* sigmoid/tanh: a lookup table filled by hls4ml's own C++ (:mod:`kappa.layers.tables`),
  indexed as :func:`table_index` computes (:class:`TableActivationFamily`).
* LeakyReLU: ``x > 0 ? x : (param_t) alpha * x`` (:class:`LeakyReLUFamily`).
* ``ReLU(threshold=t)``, ``Activation('relu6')`` and PReLU: :mod:`kappa.layers.relu_variants`.

Fused activations (``Dense(..., activation='relu')``, ``Conv2D(..., activation='tanh')``)
are split off as ``<layer>_<fn>``, as hls4ml does. Other functions (softplus, elu, ...)
are refused for firmware and, in training without ``strict``, computed in float and cast
to the layer's ``activation`` type.
"""

from __future__ import annotations

import numpy as np

from ..fixed_point import FixedPointType
from ..quantization import quantize, to_codes
from ..straight_through import numpy_in_tf, q_ste, with_value
from ._common import MAX_PRODUCT_BITS_NUMPY, activation_name
from .base import LayerFamily, Step, shape_of, unsupported
from .fastpath import cast_is_identity
from .relu_variants import RELU6, THRESHOLDED_RELU
from .softmax import SOFTMAX

EXACT_ACTIVATIONS = ("linear", "relu", "sigmoid", "tanh", "softmax")
TABLE_FUNCTIONS = ("sigmoid", "tanh")
TABLE_OPTIONS = ("table_size",)
DEFAULT_TABLE_SIZE = 1024
DEFAULT_TABLE_T = FixedPointType.from_string("ap_fixed<18,8>")
"""hls4ml 1.3.0's defaults for an activation's ``table_size`` and ``table`` type (``fpga_backend.py``)."""


def option(ctx_or_opts, layer_name: str, key: str, default):
    """``layer_options[layer_name][key]`` or ``default``."""
    opts = getattr(ctx_or_opts, "opts", ctx_or_opts)
    return (opts.layer_options.get(layer_name) or {}).get(key, default)


def table_index(x: np.ndarray, in_t: FixedPointType, function: str, n: int) -> np.ndarray:
    """hls4ml's index into a sigmoid/tanh table of ``n`` entries (``nnet_activation.h``).

    C++: ``int data_round = data * table_size / R; int index = data_round + (R/2) * table_size / R;``
    clipped to ``[0, n-1]``, with R = 16 (sigmoid) or 8 (tanh). ``data * table_size`` is an
    exact ap_fixed product, ``/ R`` divides the raw integers truncating toward zero (keeping
    the input's fractional bits), and the conversion to ``int`` truncates toward zero
    (``to_int``, C semantics) and keeps the low 32 bits. Two truncations toward zero
    compose, so ``data_round = trunc(code * n / (R * 2**F))`` in exact integers.

    Args:
        x: float64 array of values on ``in_t``. in_t: their type. function: sigmoid/tanh.
        n: table size.

    Returns:
        int64 array of indices, the shape of ``x``.
    """
    r_bits = 4 if function == "sigmoid" else 3
    c = to_codes(x, in_t) * np.int64(n)
    shift = in_t.fractional + r_bits
    if shift >= 0:
        q = np.sign(c) * (np.abs(c) >> np.int64(min(shift, 63)))
    else:
        q = c << np.int64(-shift)
    q = ((q + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)  # int: the low 32 bits
    offset = ((1 << (r_bits - 1)) * n) // (1 << r_bits)  # unsigned arithmetic, as in C++
    idx = ((q + offset + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)
    return np.clip(idx, 0, n - 1)


def table_index_tf(x, in_t: FixedPointType, function: str, n: int):
    """TensorFlow :func:`table_index` (the same integers, as int32) for float64 ``x`` on
    ``in_t``, when ``in_t.width + log2(n) <= 53``: every intermediate is then an integer
    below 2**53, so the float64 products, power-of-two divisions, truncations and
    modular reductions are exact."""
    import tensorflow as tf

    r_bits = 4 if function == "sigmoid" else 3
    c = x * (2.0**in_t.fractional * n)
    shift = in_t.fractional + r_bits
    q = tf.math.sign(c) * tf.math.floor(tf.math.abs(c) * 2.0**-shift)  # exact for either sign of shift

    def low32(v):  # the low 32 bits as a signed int (floormod is exact for any float64)
        m = tf.math.floormod(v, 2.0**32)
        return tf.where(m >= 2.0**31, m - 2.0**32, m)

    offset = ((1 << (r_bits - 1)) * n) // (1 << r_bits)
    idx = low32(low32(q) + offset)
    return tf.cast(tf.clip_by_value(idx, 0.0, n - 1.0), tf.int32)


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
        if t is None or cast_is_identity(in_t, t.value_cast_type, nonnegative=True):
            return y  # (the cast cannot change a value of the input type that is >= 0)
        return quantize(y, t.value_cast_type)

    def forward_tf(self, step, x, in_t, fwd):
        import tensorflow as tf

        res_t = step.types.get("result")
        if cast_is_identity(in_t, res_t, nonnegative=True):  # relu keeps x on in_t's grid, >= 0
            return tf.nn.relu(x)
        return q_ste(tf.nn.relu(x), res_t)


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
        return x if t is None else quantize(x, t.value_cast_type)

    def forward_tf(self, step, x, in_t, fwd):

        return q_ste(x, step.types.get("result"))

    def hls_precision(self, step):
        return {}  # hls4ml's optimizer removes the layer: nothing to configure

    def export_problems(self, step, prev_t):
        t = step.types.get("result")
        if t is not None and t != prev_t:
            return [f"{step.name}.activation: hls4ml removes linear Activation layers, so its type {t} would be "
                    f"ignored in firmware; give it the preceding layer's type ({prev_t}) or remove the layer"]
        return []


def _float_fn(kind: str):
    fns = {"sigmoid": lambda v: 1.0 / (1.0 + np.exp(-v)), "tanh": np.tanh}
    return fns[kind]


class TableActivationFamily(LayerFamily):
    """Sigmoid and tanh as hls4ml computes them: a lookup table (``nnet_activation.h``).

    ``res = (result_t) table[index(x)]`` with the table filled by hls4ml's own C++
    (:func:`kappa.layers.tables.activation_table`) and the index of :func:`table_index`.
    The same in io_parallel and io_stream (``nnet_activation_stream.h`` indexes the same way).
    Fields: ``activation`` (result) and ``table`` (default: the PrecisionDict's
    ``default``, else hls4ml's ``ap_fixed<18,8>``). Option: ``table_size`` (default 1024).

    Training: the forward value is the table's (bit for bit the firmware's), the gradient
    is the float function's derivative (straight-through).
    """

    name = "table"
    fields = ("activation", "table")
    options = TABLE_OPTIONS

    def make_step(self, name, layer, ctx, kind, shape):
        n = option(ctx, layer.name, "table_size", DEFAULT_TABLE_SIZE)
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
            raise ValueError(f"layer_options[{layer.name!r}]['table_size'] must be an integer >= 2, got {n!r}")
        types = {"result": ctx.dtype(layer.name, "activation"), "table": ctx.dtype(layer.name, "table")}
        if ctx.precision is not None and types["table"] is None:
            types["table"] = DEFAULT_TABLE_T
        return Step(name, self, layer.name, layer, {"kind": kind, "table_size": int(n)}, types, {}, shape, shape)

    def parse(self, layer, ctx):
        kind = activation_name(layer.activation)
        return [self.make_step(layer.name, layer, ctx, kind, shape_of(layer.output))]

    def check(self, step, opts, in_t):
        n = step.attrs["table_size"]
        if in_t is not None and in_t.width + int(n).bit_length() > 62:
            raise ValueError(f"layer {step.name!r}: input {in_t} times table_size {n} needs more than 62 bits; "
                             "kappa's int64 index emulation supports at most 62")
        t = step.types.get("table")
        if t is not None and t.width > 53:
            raise ValueError(f"layer {step.name!r}: table type {t} is wider than 53 bits (float64 significand)")

    def values(self, step, x, in_t):
        kind, n, table_t = step.attrs["kind"], step.attrs["table_size"], step.types.get("table")
        if in_t is None or table_t is None:
            y = _float_fn(kind)(x)  # floating point (no PrecisionDict): no exactness claim
        else:
            from .tables import activation_table

            y = activation_table(kind, n, table_t)[table_index(x, in_t, kind, n)]
        t = step.types.get("result")
        return y if t is None else quantize(y, t)

    def forward(self, step, x, in_t, opts):
        return self.values(step, x, in_t)

    def forward_tf(self, step, x, in_t, fwd):
        import tensorflow as tf


        smooth = tf.sigmoid(x) if step.attrs["kind"] == "sigmoid" else tf.tanh(x)
        if fwd.precision is None:
            return q_ste(smooth, step.types.get("result"))
        value = self.values_tf(step, tf.cast(x, tf.float64), in_t)
        if value is None:
            value = numpy_in_tf(lambda a: self.values(step, a, in_t), x, x.dtype)
        return with_value(smooth, tf.cast(value, x.dtype))

    def values_tf(self, step, x, in_t):
        """:meth:`values` as TensorFlow float64 ops (the same bits), or None where float64
        cannot hold the index arithmetic exactly (``in_t.width + log2(table_size) > 53``)
        or there is no table (float forward)."""
        import tensorflow as tf

        from .tables import activation_table

        kind, n, table_t = step.attrs["kind"], step.attrs["table_size"], step.types.get("table")
        if in_t is None or table_t is None or in_t.width + int(n).bit_length() > 53:
            return None
        t = step.types.get("result")
        table = activation_table(kind, n, table_t)
        table = table if t is None else quantize(table, t)  # (result_t) of every entry, cast once here
        return tf.gather(tf.constant(table, tf.float64), table_index_tf(x, in_t, kind, n))

    def hls_precision(self, step):
        return {"result": (step.types.get("result"), f"{step.keras_name}.activation"),
                "table": (step.types.get("table"), f"{step.keras_name}.table")}

    def hls_config(self, step):
        return {"TableSize": step.attrs["table_size"]}


DEFAULT_PARAM_T = FixedPointType.from_string("ap_fixed<16,6>")
"""hls4ml's type for a LeakyReLU slope when none is configured (the model default of
``config_from_keras_model``)."""


class LeakyReLUFamily(LayerFamily):
    """``LeakyReLU(negative_slope=a)`` and ``ReLU(negative_slope=a)`` (hls4ml ``leaky_relu``).

    ``res = x > 0 ? x : alpha * x`` with ``alpha = (param_t) a`` (hls4ml writes ``a`` as a
    decimal literal, converted to ``param_t``), the product exact, then the implicit
    conversion to the result type. Fields: ``activation``, ``param`` (default: the
    PrecisionDict's ``default``, else hls4ml's ``ap_fixed<16,6>``).
    """

    name = "leaky_relu"
    fields = ("activation", "param")

    def parse(self, layer, ctx):
        shape = shape_of(layer.output)
        types = {"result": ctx.dtype(layer.name, "activation"), "param": ctx.dtype(layer.name, "param")}
        if ctx.precision is not None and types["param"] is None:
            types["param"] = DEFAULT_PARAM_T
        return [Step(layer.name, self, layer.name, layer, {"kind": "leaky_relu", "alpha": float(layer.negative_slope)},
                     types, {}, shape, shape)]

    def values(self, step, x, in_t):
        a, p_t, res_t = step.attrs["alpha"], step.types.get("param"), step.types.get("result")
        if in_t is None or p_t is None:
            y = np.where(x > 0, x, a * x)
            return y if res_t is None else quantize(y, res_t)
        if in_t.width + p_t.width > MAX_PRODUCT_BITS_NUMPY:
            raise ValueError(f"layer {step.name!r}: {in_t} x {p_t} needs more than {MAX_PRODUCT_BITS_NUMPY} bits")
        aq = float(quantize(np.array(a), p_t))
        F = in_t.fractional + p_t.fractional
        neg = to_codes(x, in_t) * to_codes(np.array(aq), p_t)
        if res_t is None:
            return np.where(x > 0, x, neg * 2.0 ** -F)
        from ..quantization import requantize_codes

        pos = requantize_codes(to_codes(x, in_t), in_t.fractional, res_t)
        return np.where(x > 0, pos, requantize_codes(neg, F, res_t)) * res_t.lsb

    def forward(self, step, x, in_t, opts):
        return self.values(step, x, in_t)

    def forward_tf(self, step, x, in_t, fwd):
        import tensorflow as tf


        smooth = tf.where(x > 0, x, step.attrs["alpha"] * x)
        if fwd.precision is None:
            return q_ste(smooth, step.types.get("result"))
        a, p_t, res_t = step.attrs["alpha"], step.types.get("param"), step.types.get("result")
        if in_t is None or p_t is None or in_t.width + p_t.width > 53:
            value = numpy_in_tf(lambda v: self.values(step, v, in_t), x, x.dtype)
        else:  # the product of two grid values with at most 53 significant bits is exact in float64
            from ..quantization import quantize_tensor

            x64 = tf.cast(x, tf.float64)
            neg = x64 * float(quantize(np.array(a), p_t))
            value = tf.where(x64 > 0, x64, neg)
            if res_t is not None:
                value = tf.where(x64 > 0, quantize_tensor(x64, res_t.value_cast_type, ste=False),
                                 quantize_tensor(neg, res_t.value_cast_type, ste=False))
        return with_value(smooth, tf.cast(value, x.dtype))

    def hls_precision(self, step):
        return {"result": (step.types.get("result"), f"{step.keras_name}.activation"),
                "param": (step.types.get("param"), f"{step.keras_name}.param")}


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

        fn = step.attrs.get("fn")
        x32 = tf.cast(x, tf.float32)
        y = fn(x32) if fn is not None else step.layer(x32, training=fwd.training)
        return q_ste(tf.cast(y, fwd.dtype), step.types.get("result"))


RELU = ReLUFamily()
LINEAR = LinearFamily()
FLOAT_ACTIVATION = FloatActivationFamily()
TABLE_ACTIVATION = TableActivationFamily()
LEAKY_RELU = LeakyReLUFamily()


class ActivationLayers(LayerFamily):
    """Dispatch of ``Activation`` and ``ReLU`` layers to the families above."""

    name = "activation"
    keras_classes = ("Activation", "ReLU", "LeakyReLU")
    fields = ("activation",)

    def parse(self, layer, ctx):
        if type(layer).__name__ == "LeakyReLU":
            return LEAKY_RELU.parse(layer, ctx)
        if type(layer).__name__ == "ReLU":
            default = layer.max_value is None and float(layer.negative_slope) == 0.0 and float(layer.threshold) == 0.0
            if default:
                return RELU.parse(layer, ctx)
            if layer.max_value is None and float(layer.threshold) == 0.0:
                return LEAKY_RELU.parse(layer, ctx)  # hls4ml's Keras 3 parser maps it to LeakyReLU
            if layer.max_value is None and float(layer.negative_slope) == 0.0:
                return THRESHOLDED_RELU.parse(layer, ctx)  # hls4ml's ThresholdedReLU
            if ctx.strict:
                if layer.max_value is not None:
                    raise unsupported(layer, f"max_value={layer.max_value}: hls4ml 1.3.0's Keras 3 ReLU handler "
                                      "asserts max_value is None", "use Activation('relu6') for a ReLU clipped at 6 "
                                      "(io_parallel), or ReLU() followed by a saturating activation type")
                raise unsupported(
                    layer,
                    "ReLU with both negative_slope and threshold is refused by hls4ml 1.3.0",
                    "use negative_slope or threshold, not both",
                )
            return FLOAT_ACTIVATION.parse(layer, ctx)
        act = activation_name(layer.activation)
        if act == "relu":
            return RELU.parse(layer, ctx)
        if act == "linear":
            return LINEAR.parse(layer, ctx)
        if act in TABLE_FUNCTIONS:
            return TABLE_ACTIVATION.parse(layer, ctx)
        if act == "softmax":
            return SOFTMAX.parse(layer, ctx)
        if act == "relu6":
            return RELU6.parse(layer, ctx)
        if ctx.strict:
            raise unsupported(
                layer, f"activation {act!r} is not emulated bit for bit", f"use one of {', '.join(EXACT_ACTIVATIONS)}"
            )
        return FLOAT_ACTIVATION.parse(layer, ctx)


ACTIVATION_LAYERS = ActivationLayers()
