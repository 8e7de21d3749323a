"""Max/Average pooling 1D/2D and their global forms: parse rule, numpy firmware forward,
TensorFlow training forward, hls4ml keys.

PrecisionDict fields: ``accumulator`` (hls4ml ``accum_t``) and ``activation`` (the
result type). The firmware differs between the I/O modes (hls4ml 1.3.0):

io_parallel (``nnet_pooling.h``: ``pooling1d_cl``, ``pooling2d_cl``,
``global_pooling*_cl``):

* Max: the maximum is taken in the input type, then converted to ``accum_t`` and then
  to ``result_t``. A ``same``-padded window sees the padding as ``pad_val``: the input
  type with only its top bit set (the most negative value of a signed type, but
  2**(I-1) for an unsigned one).
* Average: ``accum_t y = 0; y += x[i]`` in window order (row, then column), every
  partial sum converted to ``accum_t`` (so inputs with more fractional bits are rounded
  with the accumulator's mode, and overflow acts); then ``y /= n`` with ap_fixed
  division by an integer, which truncates toward zero on the accumulator's LSB grid;
  ``n`` is the number of window cells inside the input (padding is not counted); the
  result is converted to ``result_t``.

io_stream (``nnet_pooling_stream.h``):

* windowed (line buffer): every input is first converted to ``accum_t``; Max takes the
  maximum of the converted values; Average adds them with hls4ml's balanced tree
  (``nnet::reduce``: left part the largest power of two below n), each sum an
  ``accum_t``, then divides by n (truncation toward zero);
* global: a running ``accum_t`` (initial value 0, or the accumulator's minimum for
  Max) combined pixel by pixel with each converted input, then divided by H*W.

With WRAP accumulators narrower than the input, "the maximum, then converted" and "the
maximum of the converted" differ; kappa computes each mode's own order. ``same``
padding is emulated under io_parallel and refused under io_stream (hls4ml's line-buffer
pooling has no padding), as are 2-D windows whose strides differ from the pool size under
io_stream (``pooling2d_buffer_cl`` asserts they are equal).

Max pooling with typed input and accumulator takes the windows' maxima in one compiled pass
without copying them (:meth:`PoolingFamily._fused_max`) and skips conversions that provably
change no value (:func:`kappa.layers.fastpath.cast_is_identity`); :meth:`PoolingFamily.window_forward`
is the definition on copied windows.
"""

from __future__ import annotations

import numpy as np

from ..fixed_point import FixedPointType
from ..quantization import quantize, requantize_codes, to_codes
from ..straight_through import q_ste, with_value
from .base import LayerFamily, ParseContext, Step, shape_of, unsupported
from .conv import as_2d, field_index, geometry, im2col, window_patches
from .fastpath import cast_is_identity

POOL_CLASSES = ("MaxPooling1D", "MaxPooling2D", "AveragePooling1D", "AveragePooling2D",
                "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalAveragePooling1D", "GlobalAveragePooling2D")


def tree_reduce(xs: list, op):
    """hls4ml's ``nnet::reduce`` (``nnet_common.h``): a balanced tree whose left part is the
    largest power of two strictly below n (``pow2(floorlog2(n - 1))``)."""
    n = len(xs)
    if n == 1:
        return xs[0]
    if n == 2:
        return op(xs[0], xs[1])
    left = 1 << ((n - 1).bit_length() - 1)
    return op(tree_reduce(xs[:left], op), tree_reduce(xs[left:], op))


def pad_value(t: FixedPointType | None) -> float:
    """``pad_val<T, Max>()`` of ``nnet_pooling.h``: T with only its top bit set."""
    if t is None:
        return -np.inf
    if t.signed:
        return float(t.min)
    return float(2 ** (t.width - 1)) * t.lsb


def _trunc_div(codes: np.ndarray, n) -> np.ndarray:
    """ap_fixed / integer on the dividend's LSB grid: truncation toward zero."""
    q = np.abs(codes) // n
    return np.where(codes < 0, -q, q)


class PoolingFamily(LayerFamily):
    """The eight Keras pooling layers (channels_last)."""

    name = "pool"
    keras_classes = POOL_CLASSES
    fields = ("accumulator", "activation")

    def parse(self, layer, ctx: ParseContext) -> list[Step]:
        cls = type(layer).__name__
        if getattr(layer, "data_format", "channels_last") != "channels_last":
            raise unsupported(layer, f"data_format {layer.data_format!r}", "use channels_last")
        if cls.startswith("Global") and getattr(layer, "keepdims", False):
            raise unsupported(layer, "keepdims=True is not emulated", "use keepdims=False")
        in_shape, out_shape = shape_of(layer.input), shape_of(layer.output)
        rank = 1 if cls.endswith("1D") else 2
        attrs = {"op": "max" if "Max" in cls else "average", "global": cls.startswith("Global"), "rank": rank}
        if not attrs["global"]:
            pool = tuple(int(v) for v in np.atleast_1d(layer.pool_size))
            strides = tuple(int(v) for v in np.atleast_1d(layer.strides))
            kernel, strides = ((1, *pool), (1, *strides)) if rank == 1 else (pool, strides)
            if layer.padding == "same" and ctx.opts.io_type == "io_stream":
                raise unsupported(layer, "padding='same' under io_stream: hls4ml's line-buffer pooling has no padding",
                                  "use padding='valid' or io_type='io_parallel'")
            if rank == 2 and ctx.opts.io_type == "io_stream" and kernel != strides:
                raise unsupported(layer, f"strides {strides} differ from pool_size {kernel} under io_stream: hls4ml's "
                                  "line-buffer 2-D pooling (nnet_pooling_stream.h) asserts they are equal",
                                  "use strides equal to pool_size, or io_type='io_parallel'")
            geo = geometry(as_2d(in_shape), kernel, strides, layer.padding)
            attrs.update(kernel=kernel, strides=strides, pads=geo["pads"])
        types = {"accumulator": ctx.dtype(layer.name, "accumulator"), "result": ctx.dtype(layer.name, "activation")}
        return [Step(layer.name, self, layer.name, layer, attrs, types, {}, in_shape, out_shape)]

    # ------------------------------------------------------------- windows
    @staticmethod
    def _windows(step: Step, x: np.ndarray, pad: float) -> tuple[np.ndarray, np.ndarray]:
        """(N, OH, OW, P, C) window values in window order and (OH, OW) cell counts."""
        a = step.attrs
        x4 = x.reshape((x.shape[0], *as_2d(step.in_shape)))
        n, h, w, c = x4.shape
        if a["global"]:
            return x4.reshape(n, 1, 1, h * w, c), np.full((1, 1), h * w)
        cols = im2col(x4, a["kernel"], a["strides"], a["pads"], pad_value=pad)
        oh, ow = cols.shape[1:3]
        p = a["kernel"][0] * a["kernel"][1]
        inside = im2col(np.ones((1, h, w, 1)), a["kernel"], a["strides"], a["pads"], pad_value=0.0)
        return cols.reshape(n, oh, ow, p, c), inside[0].sum(axis=-1).astype(np.int64)

    def forward(self, step, x, in_t, opts):
        a = step.attrs
        acc_t, res_t = step.types.get("accumulator"), step.types.get("result")
        stream = opts.io_type == "io_stream"
        if a["op"] == "max" and acc_t is not None and in_t is not None and not (stream and any(a.get("pads", ()))):
            return self._fused_max(step, x, in_t, acc_t, res_t, stream)
        return self.window_forward(step, x, in_t, opts)

    def window_forward(self, step, x, in_t, opts):
        """:meth:`forward` on copied windows (the definition; max pooling takes
        :meth:`_fused_max`, which the tests compare with this)."""
        a = step.attrs
        acc_t, res_t = step.types.get("accumulator"), step.types.get("result")
        stream = opts.io_type == "io_stream"
        win, counts = self._windows(step, x, pad_value(in_t) if a["op"] == "max" else 0.0)
        counts = counts[None, :, :, None]
        if acc_t is None or in_t is None:
            y = win.max(axis=3) if a["op"] == "max" else win.sum(axis=3) / counts
            y = y if acc_t is None else quantize(y, acc_t.value_cast_type)
        elif a["op"] == "max":
            cast = acc_t.value_cast_type
            y = quantize(win, cast).max(axis=3) if stream else quantize(win.max(axis=3), cast)
        else:
            y = self._average_codes(win, counts, in_t, acc_t, stream, a["global"]) * acc_t.lsb
        y = y if res_t is None else quantize(y, res_t.value_cast_type)
        return y.reshape((x.shape[0], *step.out_shape))

    @staticmethod
    def _fused_max(step, x, in_t, acc_t, res_t, stream):
        """Max pooling without window copies (:func:`kappa.fused_kernels.window_max_kernel`), the
        numbers of :meth:`forward`'s window path: io_parallel converts the window maximum to
        ``accum_t``; io_stream (no padding) converts every input first, which is the same as
        converting ``x`` element by element before taking the maxima. Casts that provably
        change nothing are skipped (:func:`kappa.layers.fastpath.cast_is_identity`)."""
        from ..fused_kernels import window_max_kernel

        a = step.attrs
        h, w, c = as_2d(step.in_shape)
        if a["global"]:
            idx = np.arange(h * w, dtype=np.int64)[None, :]
        else:
            idx = field_index((h, w, 1), a["kernel"], a["strides"], a["pads"])
        cast = acc_t.value_cast_type
        skip = cast_is_identity(in_t, cast)
        src = np.ascontiguousarray(x, np.float64).reshape(x.shape[0], h * w, c)
        if stream and not skip:
            src = quantize(src, cast)
        y = np.empty((x.shape[0], idx.shape[0], c), np.float64)
        window_max_kernel()(src, idx, pad_value(in_t), y)
        if not stream and not skip:
            y = quantize(y, cast)
        if res_t is not None and not cast_is_identity(in_t if skip else cast, res_t.value_cast_type):
            y = quantize(y, res_t.value_cast_type)
        return y.reshape((x.shape[0], *step.out_shape))

    @staticmethod
    def _average_codes(win, counts, in_t, acc_t, stream, is_global):
        fa, fi = acc_t.fractional, in_t.fractional
        codes = to_codes(win, in_t)
        p = win.shape[3]
        if stream:
            conv = requantize_codes(codes, fi, acc_t)  # each input converted to accum_t first
            parts = [conv[:, :, :, i] for i in range(p)]

            def add(u, v):
                return requantize_codes(u + v, fa, acc_t)

            if is_global:  # running accumulator, pixel by pixel
                total = np.zeros_like(parts[0])
                for part in parts:
                    total = add(total, part)
            else:
                total = tree_reduce(parts, add)
        else:  # accum_t y = 0; y += x[i]: exact sum, then converted to accum_t
            f = max(fa, fi)
            total = np.zeros(codes.shape[:3] + codes.shape[4:], dtype=np.int64)
            for i in range(p):
                s = (total << (f - fa)) + (codes[:, :, :, i] << (f - fi))
                total = requantize_codes(s, f, acc_t)
        return _trunc_div(total, counts)

    def check(self, step, opts, in_t):
        acc = step.types.get("accumulator")
        if acc is not None and step.attrs["op"] == "average" and acc.width > 51:
            raise ValueError(f"layer {step.name!r}: accumulator {acc} is wider than kappa's 51-bit limit for average "
                             "pooling")

    # ------------------------------------------------------------ training
    def forward_tf(self, step, x, in_t, fwd):
        import tensorflow as tf

        from ..quantization import quantize_tensor

        a = step.attrs
        acc_t, res_t = step.types.get("accumulator"), step.types.get("result")
        x4 = tf.reshape(x, [-1, *as_2d(step.in_shape)])
        h, w, c = as_2d(step.in_shape)
        if a["global"]:
            win = tf.reshape(x4, [-1, 1, 1, h * w, c])
            counts = tf.constant(float(h * w), x.dtype)
        else:
            kh, kw = a["kernel"]
            sh, sw = a["strides"]
            pt, pb, pl, pr = a["pads"]
            pad = pad_value(in_t) if a["op"] == "max" else 0.0
            xp = tf.pad(x4, [[0, 0], [pt, pb], [pl, pr], [0, 0]], constant_values=pad) if any(a["pads"]) else x4
            cols = window_patches(xp, (kh, kw), (sh, sw))
            oh, ow = int(cols.shape[1]), int(cols.shape[2])
            win = tf.reshape(cols, [-1, oh, ow, kh * kw, c])
            _, cnt = self._windows(step, np.zeros((1, *step.in_shape)), 0.0)
            counts = tf.constant(cnt[None, :, :, None].astype(np.float64), x.dtype)
        smooth = tf.reduce_max(win, axis=3) if a["op"] == "max" else tf.reduce_sum(win, axis=3) / counts
        if acc_t is None or in_t is None:
            return tf.reshape(q_ste(q_ste(smooth, acc_t), res_t), [-1, *step.out_shape])

        def qa(v):
            return quantize_tensor(v, acc_t.value_cast_type, ste=False)

        stream = fwd.opts.io_type == "io_stream"
        if a["op"] == "max":
            val = tf.reduce_max(qa(win), axis=3) if stream else qa(tf.reduce_max(win, axis=3))
        else:
            parts = [win[:, :, :, i] for i in range(int(win.shape[3]))]
            if stream:
                parts = [qa(p) for p in parts]
                if a["global"]:
                    total = tf.zeros_like(parts[0])
                    for p in parts:
                        total = qa(total + p)
                else:
                    total = tree_reduce(parts, lambda u, v: qa(u + v))
            else:
                total = tf.zeros_like(parts[0])
                for p in parts:
                    total = qa(total + p)
            units = total / acc_t.lsb  # integers below 2**51: exact
            q = tf.math.floor(tf.abs(units) / counts)
            val = tf.where(units < 0, -q, q) * acc_t.lsb
        out = q_ste(with_value(smooth, val), res_t)
        return tf.reshape(out, [-1, *step.out_shape])

    # ------------------------------------------------------------ converter
    def hls_precision(self, step):
        return {"accum": (step.types.get("accumulator"), f"{step.keras_name}.accumulator"),
                "result": (step.types.get("result"), f"{step.keras_name}.activation")}


POOLING = PoolingFamily()
