"""Softmax as hls4ml 1.3.0 computes it (``nnet_activation.h``, ``nnet_activation_stream.h``).

``implementation='stable'`` (hls4ml's default), on one 1-D slice of n inputs:

1. ``x_max`` = the largest input; ``d_i = (inp_norm_t)(x_max - x_i)``;
2. ``exp_res[i] = (accum_t) exp_table[top log2(N_exp) bits of d_i]``, where
   ``N_exp = min(N, 2**W)`` of ``inp_norm_t`` (hls4ml's shrink); the table holds
   ``exp(-v)`` of the ``inp_norm_t`` value whose top bits are the index;
3. ``exp_sum = (inv_inp_t) reduce(exp_res)``: a balanced adder tree (``nnet_common.h``
   ``reduce``, left half = the largest power of two below n), every partial sum an
   ``accum_t``;
4. ``inv = inv_table[top log2(N) bits of exp_sum]`` (``1/v`` of the ``inv_inp_t`` value);
5. ``res[i] = (result_t)(exp_res[i] * inv)`` (exact product).

``latency`` skips step 1 and addresses the exp table (``exp(+v)``) with the input's own top
bits. ``argmax``: 1 at the first largest input, 0 elsewhere. The tables come from hls4ml's
C++ (:mod:`kappa.layers.tables`). io_parallel and io_stream compute the same bits for a 1-D
input (one stream word holds the whole slice).

Fields: ``activation`` (result), ``accumulator`` (accum_t), ``exp_table``, ``inv_table``,
``inv_inp``, ``inp_norm``; a field with no type (neither the layer nor ``default``) takes
hls4ml's explicit default: ``ap_fixed<18,8,AP_RND,AP_SAT>`` for the first four, and
``ap_ufixed<W-1,I-1>`` of a signed ``ap_fixed<W,I>`` input for ``inp_norm``.
Options (``layer_options``): ``table_size`` (a power of two, default 1024) and
``implementation`` (``stable``, ``latency``, ``argmax``).
"""

from __future__ import annotations

import numpy as np

from ..fixed_point import FixedPointType
from ..quantization import quantize, requantize_codes, to_codes
from ..straight_through import numpy_in_tf, q_ste, with_value
from .base import LayerFamily, Step, shape_of, unsupported

IMPLEMENTATIONS = ("stable", "latency", "argmax")
DEFAULT_TABLE_T = FixedPointType.from_string("ap_fixed<18,8,AP_RND,AP_SAT>")
DEFAULT_TABLE_SIZE = 1024


def default_inp_norm(in_t: FixedPointType) -> FixedPointType:
    """hls4ml's ``inp_norm_t`` when none is configured (``core_templates.py``):
    ``ap_ufixed<W - s, I - s>`` of the input ``ap_fixed<W, I>`` (s = 1 if signed)."""
    s = 1 if in_t.signed else 0
    return FixedPointType.from_string(f"ap_ufixed<{in_t.width - s},{in_t.integer - s}>")


def top_bits(v: np.ndarray, t: FixedPointType, n: int) -> np.ndarray:
    """``softmax_idx_from_real_val``: the top log2(n) bits of ``v``'s W-bit pattern in ``t``."""
    b = int(n).bit_length() - 1
    c = to_codes(v, t) & ((np.int64(1) << t.width) - 1)
    return c >> np.int64(t.width - b)


def top_bits_tf(v, t: FixedPointType, n: int):
    """TensorFlow :func:`top_bits` for float64 ``v`` on ``t`` (``t.width <= 53``): int32 indices.

    Every step is exact in float64: the code ``v * 2**F`` is an integer below 2**53, its
    W-bit pattern is ``code mod 2**W`` and the top bits are a floor division by a power of two.
    """
    import tensorflow as tf

    b = int(n).bit_length() - 1
    c = tf.math.floormod(v * 2.0**t.fractional, 2.0**t.width)
    return tf.cast(tf.math.floor(c * 2.0 ** -(t.width - b)), tf.int32)


def tree_sum(cols: list, acc_t: FixedPointType, cast=quantize):
    """``nnet::reduce<accum_t, n, Op_add<accum_t>>``: balanced tree, every sum cast to ``acc_t``
    with ``cast(value, acc_t)`` (numpy :func:`quantize`, or a TensorFlow cast)."""
    n = len(cols)
    if n == 1:
        return cols[0]
    if n == 2:
        return cast(cols[0] + cols[1], acc_t)
    left = 1 << ((n - 1).bit_length() - 1)
    return cast(tree_sum(cols[:left], acc_t, cast) + tree_sum(cols[left:], acc_t, cast), acc_t)


class SoftmaxFamily(LayerFamily):
    """``Activation('softmax')``, ``keras.layers.Softmax()`` (last axis) and fused softmax."""

    name = "softmax"
    keras_classes = ("Softmax",)
    fields = ("activation", "accumulator", "exp_table", "inv_table", "inv_inp", "inp_norm")
    options = ("table_size", "implementation")

    def make_step(self, name, layer, ctx, shape):
        opts = ctx.opts.layer_options.get(layer.name) or {}
        n = opts.get("table_size", DEFAULT_TABLE_SIZE)
        impl = opts.get("implementation", "stable")
        if impl not in IMPLEMENTATIONS:
            raise ValueError(f"layer_options[{layer.name!r}]['implementation'] = {impl!r}; valid: "
                             f"{', '.join(IMPLEMENTATIONS)} (hls4ml's 'legacy' is not emulated)")
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2 or (n & (n - 1)):
            raise ValueError(f"layer_options[{layer.name!r}]['table_size'] = {n!r}: a softmax table is addressed by "
                             "the top log2(N) bits of a value, so N must be a power of two >= 2 (e.g. 1024)")
        if len(shape) != 1:
            raise unsupported(layer, f"softmax over a {len(shape)}-D input of shape {shape} is not emulated",
                              "apply it to a 1-D input (after Flatten/Dense)")
        types = {"result": ctx.dtype(layer.name, "activation")}
        for f, key in (("accumulator", "accumulator"), ("exp_table", "exp_table"), ("inv_table", "inv_table"),
                       ("inv_inp", "inv_inp"), ("inp_norm", "inp_norm")):
            types[key] = ctx.dtype(layer.name, f)
            if ctx.precision is not None and types[key] is None and key != "inp_norm":
                types[key] = DEFAULT_TABLE_T
        return Step(name, self, layer.name, layer, {"kind": "softmax", "table_size": int(n), "implementation": impl},
                    types, {}, shape, shape)

    def parse(self, layer, ctx):
        if type(layer).__name__ == "Softmax":
            axis = layer.axis if isinstance(layer.axis, int) else tuple(layer.axis)
            if axis not in (-1, (-1,), len(shape_of(layer.input)), (len(shape_of(layer.input)),)):
                raise unsupported(layer, f"Softmax(axis={layer.axis}) is not emulated", "use axis=-1")
        return [self.make_step(layer.name, layer, ctx, shape_of(layer.output))]

    def resolve(self, step, in_t):
        """The step's types with ``inp_norm`` filled from the input type (hls4ml's default)."""
        t = dict(step.types)
        if t.get("inp_norm") is None and in_t is not None:
            t["inp_norm"] = default_inp_norm(in_t)
        return t

    def sizes(self, step, t, in_t) -> tuple[int, int]:
        """``(exp_table_size, inv_table_size)``: hls4ml's ``core_templates.py`` shrinks the exp
        table to the entries its index type can address, ``min(N, 2**W)`` of ``inp_norm_t``
        (``stable``) or of the input type (``latency``); the inversion table keeps N."""
        n = step.attrs["table_size"]
        index_t = t["inp_norm"] if step.attrs["implementation"] == "stable" else in_t
        return min(n, 2 ** index_t.width), n

    def check(self, step, opts, in_t):
        impl, n = step.attrs["implementation"], step.attrs["table_size"]
        if in_t is None or impl == "argmax" or step.types.get("exp_table") is None:
            return
        t = self.resolve(step, in_t)
        if impl == "stable":  # latency never uses inp_norm_t (hls4ml writes ap_fixed<1,0>)
            step.types["inp_norm"] = t["inp_norm"]
        exp_n, inv_n = self.sizes(step, t, in_t)
        step.attrs["exp_table_size"], step.attrs["inv_table_size"] = exp_n, inv_n
        if t["inv_inp"].width < n.bit_length() - 1:
            raise ValueError(f"layer {step.name!r}: the softmax inv_inp type {t['inv_inp']} has fewer than "
                             f"log2(table_size) = {n.bit_length() - 1} bits to address the inversion table; "
                             "use a smaller table_size or a wider inv_inp type")
        for k in ("exp_table", "inv_table", "accumulator", "inv_inp", "inp_norm"):
            if t[k].width > 53:
                raise ValueError(f"layer {step.name!r}: softmax {k} type {t[k]} is wider than 53 bits")
        if t["accumulator"].width + t["inv_table"].width > 62:
            raise ValueError(f"layer {step.name!r}: accumulator x inv_table products need more than 62 bits")

    def values(self, step, x, in_t):
        """Numpy softmax of ``x`` (N, n) on ``in_t`` (None: float softmax)."""
        impl = step.attrs["implementation"]
        res_t = step.types.get("result")
        if impl == "argmax":
            y = np.zeros_like(x)
            y[np.arange(len(x)), np.argmax(x, axis=1)] = 1.0  # first largest, as the C++ loop (strict >)
            return y if res_t is None else quantize(y, res_t)
        if in_t is None or step.types.get("exp_table") is None:
            e = np.exp(x - x.max(axis=1, keepdims=True))
            y = e / e.sum(axis=1, keepdims=True)
            return y if res_t is None else quantize(y, res_t)
        from .tables import softmax_tables

        t = self.resolve(step, in_t)
        acc_t, inv_inp_t = t["accumulator"], t["inv_inp"]
        exp_n, inv_n = self.sizes(step, t, in_t)
        if impl == "stable":
            d = quantize(x.max(axis=1, keepdims=True) - x, t["inp_norm"])
            index_t, idx = t["inp_norm"], top_bits(d, t["inp_norm"], exp_n)
        else:
            index_t, idx = in_t, top_bits(x, in_t, exp_n)
        exp_tab, inv_tab = softmax_tables(impl, exp_n, inv_n, t["exp_table"], t["inv_table"], index_t, inv_inp_t)
        exp_res = quantize(exp_tab[idx], acc_t)
        s = quantize(tree_sum([exp_res[:, i] for i in range(x.shape[1])], acc_t), inv_inp_t)
        inv = inv_tab[top_bits(s, inv_inp_t, inv_n)]
        if res_t is None:
            return exp_res * inv[:, None]
        inv_t = t["inv_table"]
        prod = to_codes(exp_res, acc_t) * to_codes(inv, inv_t)[:, None]
        return requantize_codes(prod, acc_t.fractional + inv_t.fractional, res_t) * res_t.lsb

    def values_tf(self, step, x, in_t):
        """:meth:`values` as TensorFlow float64 ops (the same bits), for the training graph;
        None where float64 cannot hold every intermediate exactly (a type wider than 53
        bits, ``accum_t`` x ``inv_table_t`` products wider than 53 bits) or the input is not
        (N, n): the caller then runs :meth:`values` through ``tf.numpy_function``.
        ``x``: float64 (N, n) on ``in_t``."""
        import tensorflow as tf

        from ..quantization import quantize_tensor
        from .tables import softmax_tables

        impl, res_t = step.attrs["implementation"], step.types.get("result")
        if impl == "argmax" or in_t is None or step.types.get("exp_table") is None or len(x.shape) != 2:
            return None
        t = self.resolve(step, in_t)
        acc_t, inv_inp_t, inv_t = t["accumulator"], t["inv_inp"], t["inv_table"]
        index_t = t["inp_norm"] if impl == "stable" else in_t
        if max(index_t.width, inv_inp_t.width, in_t.width) > 53 or acc_t.width + inv_t.width > 53:
            return None
        exp_n, inv_n = self.sizes(step, t, in_t)
        exp_tab, inv_tab = softmax_tables(impl, exp_n, inv_n, t["exp_table"], inv_t, index_t, inv_inp_t)

        def cast(v, ty):
            return quantize_tensor(v, ty, ste=False)

        if impl == "stable":
            d = cast(tf.reduce_max(x, axis=1, keepdims=True) - x, index_t)
            idx = top_bits_tf(d, index_t, exp_n)
        else:
            idx = top_bits_tf(x, index_t, exp_n)
        exp_acc = quantize(exp_tab, acc_t)  # (accum_t) of every entry, cast once here
        exp_res = tf.gather(tf.constant(exp_acc, tf.float64), idx)
        n = int(x.shape[1])
        # Every partial sum of the adder tree lies in [n * min(e, 0), n * max(e, 0)] over the
        # entries e: inside accum_t's range no sum saturates, with WRAP the casts are modular;
        # either way the tree equals one float64 sum (exact below 2**53) cast once.
        in_range = n * max(float(exp_acc.max()), 0.0) <= acc_t.max and n * min(float(exp_acc.min()), 0.0) >= acc_t.min
        if (in_range or acc_t.overflow == "WRAP") and acc_t.width + n.bit_length() <= 53:
            total = tf.reduce_sum(exp_res, axis=1)
            total = total if in_range else cast(total, acc_t)
        else:
            total = tree_sum([exp_res[:, i] for i in range(n)], acc_t, cast)
        s = cast(total, inv_inp_t)
        inv = tf.gather(tf.constant(inv_tab, tf.float64), top_bits_tf(s, inv_inp_t, inv_n))
        prod = exp_res * inv[:, None]  # exact: at most 53 significant bits
        return prod if res_t is None else cast(prod, res_t)

    def forward(self, step, x, in_t, opts):
        return self.values(step, x, in_t)

    def forward_tf(self, step, x, in_t, fwd):
        import tensorflow as tf


        smooth = tf.nn.softmax(x, axis=-1)
        if fwd.precision is None:
            return q_ste(smooth, step.types.get("result"))
        if in_t is not None and step.attrs["implementation"] != "argmax":
            self.check(step, fwd.opts, in_t)
        value = self.values_tf(step, tf.cast(x, tf.float64), in_t)
        if value is None:
            value = numpy_in_tf(lambda a: self.values(step, a, in_t), x, x.dtype)
        return with_value(smooth, tf.cast(value, x.dtype))

    def hls_precision(self, step):
        if step.attrs["implementation"] == "argmax":
            return {"result": (step.types.get("result"), f"{step.keras_name}.activation")}
        t = step.types
        k = step.keras_name
        return {
            "result": (t.get("result"), f"{k}.activation"),
            "accum": (t.get("accumulator"), f"{k}.accumulator"),
            "exp_table": (t.get("exp_table"), f"{k}.exp_table"),
            "inv_table": (t.get("inv_table"), f"{k}.inv_table"),
            "inv_inp": (t.get("inv_inp"), f"{k}.inv_inp"),
            **({"inp_norm": (t.get("inp_norm"), f"{k}.inp_norm")} if step.attrs["implementation"] == "stable" else {}),
        }

    def hls_config(self, step):
        out = {"TableSize": step.attrs["table_size"], "Implementation": step.attrs["implementation"]}
        if "exp_table_size" in step.attrs:  # explicit: hls4ml then derives nothing itself
            out["exp_table_size"] = step.attrs["exp_table_size"]
            out["inv_table_size"] = step.attrs["inv_table_size"]
        return out


SOFTMAX = SoftmaxFamily()
