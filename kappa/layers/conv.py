"""Conv1D / Conv2D (channels_last): parse rule, numpy firmware forward, TensorFlow
training forward, hls4ml keys.

Firmware arithmetic (hls4ml 1.3.0): every output pixel is one Dense over its receptive
field, with the Dense arithmetic of :mod:`kappa.layers.dense` (each product cast to
``accum_t``, the accumulator starting at the cast bias, partial sums cast, the result
cast to ``result_t``), the inputs taken in the order (kernel row, kernel column,
channel), which is the Keras kernel's order:

* io_parallel, Latency: ``conv_1d_latency_cl`` / ``conv_2d_latency_cl``
  (``nnet_conv1d_latency.h``, ``nnet_conv2d_latency.h``) fill an im2col buffer
  (zeros where ``same`` padding reaches outside the input) and multiply it pixel by
  pixel; Resource: ``conv_*_resource_cl`` cast every product to ``accum_t`` as well but
  add in another order, so a saturating accumulator is refused under Resource.
* io_stream: hls4ml inserts a ``ZeroPadding1D/2D`` layer named ``zp1d_<conv>`` /
  ``zp2d_<conv>`` before a ``same``-padded convolution (``conv_same_pad.py``; its result
  type is the convolution's input type) and then runs the line-buffer convolution
  (``nnet_conv_stream.h``: ``shift_line_buffer`` fills the window in (row, column,
  channel) order and calls the Dense kernel on it).

Zero inputs (padding) give zero products, which change no partial sum even when it
saturates, so padding inside the convolution and padding as a layer compute the same
bits. Padding follows TensorFlow: ``same`` gives ``ceil(in / stride)`` outputs with
``pad_before = pad_total // 2``.

Refused (naming the layer): dilation other than 1, groups other than 1,
``channels_first``, ``padding='causal'``.

Computation: the receptive fields are read through :func:`field_index` (the flat input index
of every field element, -1 for padding) by one compiled pass that converts the inputs to
codes, forms the dot products and casts the results
(:func:`kappa.layers.dense.fused_matrix_arith`); where that does not apply (a float type,
products beyond int64) or the exact float64 matrix product is cheaper (at least
:data:`BLAS_MIN_WORK` products per pixel), the im2col columns go to
:func:`kappa.layers.dense.matrix_arith`, the definition the fused pass is tested against.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .base import LayerFamily, ParseContext, Step, shape_of, unsupported
from .dense import (
    WEIGHT_FIELDS,
    check_weighted,
    fused_matrix_arith,
    matrix_fn,
    weighted_arrays,
    weighted_precision,
    weighted_types,
)
from .dense_tf import data_side_tf, matrix_arith_tf
from .fused import fused_activation_steps
from .reshape import ZEROPAD


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int, int]:
    """``(out, pad_before, pad_after)`` of TensorFlow's ``same`` padding along one axis."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return out, total // 2, total - total // 2


def geometry(in_shape: tuple, kernel: tuple, strides: tuple, padding: str) -> dict:
    """Spatial geometry of a convolution or pooling window over an (H, W, C) input.

    Args:
        in_shape: (H, W, C) (1-D layers use H = 1).
        kernel, strides: (kh, kw) and (sh, sw).
        padding: ``"valid"`` or ``"same"``.

    Returns:
        dict with ``out`` (OH, OW) and ``pads`` (top, bottom, left, right).
    """
    (H, W), (kh, kw), (sh, sw) = in_shape[:2], kernel, strides
    if padding == "same":
        oh, pt, pb = same_padding(H, kh, sh)
        ow, pl, pr = same_padding(W, kw, sw)
    else:
        oh, ow, pt, pb, pl, pr = (H - kh) // sh + 1, (W - kw) // sw + 1, 0, 0, 0, 0
    return {"out": (oh, ow), "pads": (pt, pb, pl, pr)}


def as_2d(shape: tuple) -> tuple:
    """Per-sample (W, C) -> (1, W, C); (H, W, C) unchanged."""
    return (1, *shape) if len(shape) == 2 else tuple(shape)


def im2col(x: np.ndarray, kernel: tuple, strides: tuple, pads: tuple, pad_value: float = 0.0) -> np.ndarray:
    """Receptive fields of every output pixel.

    Args:
        x: (N, H, W, C). kernel: (kh, kw). strides: (sh, sw). pads: (top, bottom, left, right).
        pad_value: the value of padded positions.

    Returns:
        (N, OH, OW, kh * kw * C) in (row, column, channel) order (a view where possible).
    """
    pt, pb, pl, pr = pads
    if any(pads):
        x = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)), constant_values=pad_value)
    kh, kw = kernel
    win = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(1, 2))  # (N, OH', OW', C, kh, kw)
    win = win[:, ::strides[0], ::strides[1]]
    n, oh, ow, c = win.shape[:4]
    return np.ascontiguousarray(win.transpose(0, 1, 2, 4, 5, 3)).reshape(n, oh, ow, kh * kw * c)


@lru_cache(maxsize=256)
def field_index(in_shape: tuple, kernel: tuple, strides: tuple, pads: tuple) -> np.ndarray:
    """The flat per-sample index of every input of every receptive field: int64 (OH * OW,
    kh * kw * C), rows in output-pixel order, columns in :func:`im2col`'s (row, column, channel)
    order, -1 where the window reaches the padding. ``in_shape`` (H, W, C); the other
    arguments as :func:`im2col`. Read-only (cached)."""
    h, w, c = in_shape
    src = np.arange(h * w * c, dtype=np.float64).reshape(1, h, w, c)
    cols = im2col(src, kernel, strides, pads, pad_value=-1.0)
    idx = cols.reshape(-1, cols.shape[-1]).astype(np.int64)
    idx.flags.writeable = False
    return idx


#: Receptive fields times filters from which a convolution whose float64 matrix product is
#: exact takes that product (im2col + BLAS) rather than the fused integer kernel.
BLAS_MIN_WORK = 2048


def as_pair(v, rank):
    """A Keras kernel/stride/pool argument (int or tuple) as a 2-D pair: ``(1, v)`` for rank 1."""
    v = tuple(int(a) for a in (v if isinstance(v, (tuple, list)) else (v,) * rank))
    return (1, *v) if rank == 1 else v


class ConvFamily(LayerFamily):
    """``keras.layers.Conv1D`` and ``Conv2D``."""

    name = "conv"
    keras_classes = ("Conv1D", "Conv2D")
    fields = WEIGHT_FIELDS

    def parse(self, layer, ctx: ParseContext) -> list[Step]:

        rank = 1 if type(layer).__name__ == "Conv1D" else 2
        if getattr(layer, "data_format", "channels_last") != "channels_last":
            raise unsupported(layer, f"data_format {layer.data_format!r}", "use channels_last")
        if any(int(d) != 1 for d in np.atleast_1d(layer.dilation_rate)):
            raise unsupported(layer, f"dilation_rate {layer.dilation_rate} is not emulated", "use dilation_rate=1")
        if int(getattr(layer, "groups", 1)) != 1:
            raise unsupported(layer, f"groups={layer.groups} is not emulated", "use groups=1")
        if layer.padding not in ("valid", "same"):
            raise unsupported(layer, f"padding {layer.padding!r} is not emulated", "use 'valid' or 'same'")
        return window_steps(self, layer, ctx, rank)

    def check(self, step, opts, in_t):
        check_weighted(step, opts, in_t)

    def forward(self, step, x, in_t, opts):
        a = step.attrs
        arrays = {k: v for k, _, v, _ in weighted_arrays(step)}
        w = arrays["weight"].reshape(-1, arrays["weight"].shape[-1])  # (kh*kw*C, F) in Keras order
        if opts.strategy != "distributed_arithmetic":  # one compiled pass, no im2col copy
            idx = field_index(as_2d(step.in_shape), a["kernel"], a["strides"], a["pads"])
            y = fused_matrix_arith(x.reshape(x.shape[0], -1), idx, w, arrays.get("bias"), step.types, in_t,
                                   prefer_blas=idx.shape[1] * w.shape[1] >= BLAS_MIN_WORK)
            if y is not None:
                return y.reshape((x.shape[0], *step.out_shape))
        cols = im2col(x.reshape((x.shape[0], *as_2d(step.in_shape))), a["kernel"], a["strides"], a["pads"])
        n, oh, ow, k = cols.shape
        y = matrix_fn(opts)(cols.reshape(-1, k), w, arrays.get("bias"), step.types, in_t, step.name)
        return y.reshape((x.shape[0], *step.out_shape))

    def data_side_tf(self, step, x, in_t, fwd):
        import tensorflow as tf

        cols = patches_tf(step, x)  # (N, OH, OW, kh*kw*C), (row, column, channel) order
        return data_side_tf(tf.reshape(cols, [-1, int(cols.shape[-1])]), step, in_t, fwd)

    def forward_tf(self, step, x, in_t, fwd):
        import tensorflow as tf

        a = step.attrs
        pre = fwd.prepared(step)
        if pre is None:
            cols = patches_tf(step, x)  # (N, OH, OW, kh*kw*C), (row, column, channel) order
            rows = tf.reshape(cols, [-1, int(cols.shape[-1])])
        else:
            rows = pre["x"]
        k = int(rows.shape[-1])
        kernel = fwd.param(step, "kernel")
        w = tf.reshape(kernel, [k, -1])
        b = fwd.param(step, "bias") if a["use_bias"] else None
        y = matrix_arith_tf(rows, w, b, step, in_t, fwd, pre)
        return tf.reshape(y, [-1, *step.out_shape])

    def hls_precision(self, step):
        return weighted_precision(step)

    def weights(self, step):
        return weighted_arrays(step)


CONV = ConvFamily()


def window_steps(family, layer, ctx: ParseContext, rank: int) -> list[Step]:
    """The steps of a checked convolution-like ``layer`` (Conv1D/2D, DepthwiseConv1D/2D) of
    ``family``: io_stream's inserted zero padding (:func:`stream_zero_pad`), the layer itself
    (attrs: use_bias, fused activation, rank, kernel, strides, pads, padding) and its fused
    activation's steps."""
    in_shape, out_shape = shape_of(layer.input), shape_of(layer.output)
    kernel, strides = as_pair(layer.kernel_size, rank), as_pair(layer.strides, rank)
    pads = geometry(as_2d(in_shape), kernel, strides, layer.padding)["pads"]
    steps, conv_in, pads = stream_zero_pad(layer, ctx, in_shape, pads, rank)
    act_steps, fused = fused_activation_steps(layer, ctx, out_shape)
    attrs = {"use_bias": bool(layer.use_bias), "fused": fused, "rank": rank, "kernel": kernel,
             "strides": strides, "pads": pads, "padding": layer.padding}
    steps.append(Step(layer.name, family, layer.name, layer, attrs, weighted_types(ctx, layer.name, fused),
                      ctx.var_index(layer), conv_in, out_shape))
    return steps + act_steps


def patches_tf(step, x):
    """TensorFlow im2col: the (N, OH, OW, kh*kw*C) windows of ``x`` (N, *step.in_shape) for the
    step's ``kernel``, ``strides`` and zero ``pads`` (top, bottom, left, right), each window in
    (row, column, channel) order, as :func:`im2col` gives them in numpy."""
    import tensorflow as tf

    a = step.attrs
    kh, kw = a["kernel"]
    sh, sw = a["strides"]
    pt, pb, pl, pr = a["pads"]
    x4 = tf.reshape(x, [-1, *as_2d(step.in_shape)])
    if any(a["pads"]):
        x4 = tf.pad(x4, [[0, 0], [pt, pb], [pl, pr], [0, 0]])
    return window_patches(x4, (kh, kw), (sh, sw))


@lru_cache(maxsize=64)
def _window_rows(h: int, w: int, kernel: tuple, strides: tuple) -> np.ndarray:
    """Pixel index ``r * w + c`` of every (out row, out column, kernel row, kernel column),
    in that order, for VALID windows of an (h, w) image."""
    (kh, kw), (sh, sw) = kernel, strides
    oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
    r = (np.arange(oh) * sh)[:, None, None, None] + np.arange(kh)[None, None, :, None]
    c = (np.arange(ow) * sw)[None, :, None, None] + np.arange(kw)[None, None, None, :]
    return (r * w + c).reshape(-1).astype(np.int32)


def window_patches(x4, kernel: tuple, strides: tuple):
    """``tf.image.extract_patches(x4, [1, kh, kw, 1], [1, sh, sw, 1], rates 1, "VALID")`` as a
    row gather: the same values, and the same gradient bit for bit, several times faster on CPU.

    Windows that do not overlap (strides equal to the kernel: max/average pooling) are a
    reshape and a transpose instead, whose gradient moves each incoming value to its pixel
    (every pixel is in at most one window, so there is nothing to add: the same values, about
    twice as fast as the gather and its segment sum in a training step).

    ``x4`` (N, H, W, C) is viewed as (N*H*W, C) rows, and the rows of every window are
    gathered in (image, out row, out column, kernel row, kernel column) order. The gradient
    of the gather sums the incoming rows into pixels with ``unsorted_segment_sum`` in that
    order; for every element of the input that is the order of TensorFlow's
    ``ExtractImagePatches`` gradient (``array_grad._ExtractImagePatchesGrad``: rows in (out
    row, out column, kernel row, kernel column) order, images side by side), so the same
    float additions happen in the same order (``tests/training/test_window_patches.py``
    compares values and gradients).

    Returns:
        (N, OH, OW, kh*kw*C) tensor, each window in (row, column, channel) order.
    """
    import tensorflow as tf

    _, h, w, c = (int(d) if d is not None else None for d in x4.shape)
    (kh, kw), (sh, sw) = kernel, strides
    oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
    n = tf.shape(x4)[0]
    if (kh, kw) == (sh, sw):
        t6 = tf.reshape(x4[:, :oh * kh, :ow * kw, :], tf.stack([n, oh, kh, ow, kw, c]))
        return tf.reshape(tf.transpose(t6, [0, 1, 3, 2, 4, 5]), tf.stack([n, oh, ow, kh * kw * c]))
    base = tf.constant(_window_rows(h, w, (kh, kw), (sh, sw)))                       # (OH*OW*kh*kw,)
    idx = tf.reshape(tf.range(n, dtype=tf.int32)[:, None] * (h * w) + base[None, :], [-1])
    g = tf.gather(tf.reshape(x4, [-1, c]), idx)                                      # (N*OH*OW*kh*kw, C)
    return tf.reshape(g, tf.stack([n, oh, ow, kh * kw * c]))


def stream_zero_pad(layer, ctx, in_shape, pads, rank) -> tuple[list, tuple, tuple]:
    """Under io_stream hls4ml inserts a zero-padding layer before a ``same`` convolution and
    runs the convolution on the padded image: ``([that ZeroPadding step], padded shape, no
    pads)``; otherwise ``([], in_shape, pads)``. ``pads`` is (top, bottom, left, right)."""
    if ctx.opts.io_type != "io_stream" or not any(pads):
        return [], in_shape, pads
    pt, pb, pl, pr = pads
    h, w, c = as_2d(in_shape)
    padded = (w + pl + pr, c) if rank == 1 else (h + pt + pb, w + pl + pr, c)
    step = Step(f"zp{rank}d_{layer.name}", ZEROPAD, layer.name, None, {"pads": pads, "rank": rank}, {}, {},
                in_shape, padded)
    return [step], padded, (0, 0, 0, 0)
