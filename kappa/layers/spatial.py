"""ZeroPadding1D/2D, Cropping1D/2D, UpSampling1D/2D and Permute: layers whose every output
element is one input element or a zero.

hls4ml 1.3.0 (Keras 2 handlers ``converters/keras/reshaping.py`` and ``reshape.py``, reached
from its Keras 3 parser by the v2 fallback; ``Permute`` by the Keras 3 ``PermuteHandler``)
gives each of these layers its input's type as result type (``ZeroPadding*``, ``Cropping*``,
``Resize`` and ``Transpose`` call ``add_output_variable(..., precision=inp.type.precision)``),
so a PrecisionDict has no fields for them and kappa writes the input type back as theirs
(like Flatten/Reshape). The templates:

* ``nnet_padding.h`` / ``nnet_padding_stream.h`` (``zeropad1d_cl``, ``zeropad2d_cl``): zeros
  around the image, the values copied (channels_last).
* ``nnet_cropping.h`` / ``nnet_cropping_stream.h``: the window ``[top : H - bottom,
  left : W - right]``.
* ``nnet_image.h`` (io_parallel, ``resize_nearest``): output row ``i`` reads input row
  ``(i * ((H << 16) / H_new + 1)) >> 16`` (integer arithmetic; columns alike), which for the
  sizes hls4ml handles is ``i // factor``; ``nnet_image_stream.h`` (io_stream) repeats each
  pixel ``factor`` times (asserts ``H_new % H == 0``). kappa computes each mode's own index.
  ``interpolation='bilinear'`` is refused (hls4ml's templates have nearest only).
* ``nnet_transpose.h``: ``Permute(dims)`` is the transpose by ``dims - 1`` of the per-sample
  array. Refused when named like one of the Transpose layer's attributes (``perm``, ...: hls4ml
  stores the output variable under the layer's name and its template then fails) and directly
  before ``Flatten -> Dense`` (hls4ml's
  ``RemoveTransposeBeforeFlatten`` deletes the transpose and permutes the Dense weights, which
  changes the Dense's order of additions).

One mechanism computes all of them: an index map (per output element, the flat input index,
or -1 for a zero) built from the layer's geometry, applied with ``np.take`` (firmware) and
``tf.gather`` (training; gradients flow to the elements read). ``channels_first`` is refused.
"""

from __future__ import annotations

import numpy as np

from .base import LayerFamily, Step, shape_of, unsupported

TRANSPOSE_ATTRS = ("perm", "perm_str", "dim", "depth", "height", "width")
"""Attributes of hls4ml's Transpose layer: a Permute of that name breaks its template."""
SPATIAL_CLASSES = ("ZeroPadding1D", "ZeroPadding2D", "Cropping1D", "Cropping2D", "UpSampling1D", "UpSampling2D",
                   "Permute")


def _pairs(v, n: int) -> list[tuple[int, int]]:
    """Keras padding/cropping argument -> ``n`` (before, after) pairs."""
    if isinstance(v, (int, np.integer)):
        return [(int(v), int(v))] * n
    v = list(v)
    if n == 1 and len(v) == 2 and all(isinstance(a, (int, np.integer)) for a in v):
        return [(int(v[0]), int(v[1]))]
    out = []
    for a in v:
        out.append((int(a), int(a)) if isinstance(a, (int, np.integer)) else (int(a[0]), int(a[1])))
    return out


def resize_index(n_in: int, n_out: int, io_type: str) -> np.ndarray:
    """Input row/column read by each output row/column of hls4ml's nearest-neighbour resize
    (see the module docstring; io_parallel: the 16-bit fixed-point ratio of ``nnet_image.h``)."""
    i = np.arange(n_out, dtype=np.int64)
    if io_type == "io_stream":
        return i // (n_out // n_in)
    ratio = ((n_in << 16) // n_out) + 1
    return (i * ratio) >> 16


def index_map(cls: str, layer, in_shape: tuple, io_type: str) -> np.ndarray:
    """Flat input index of every output element (-1: a zero), shape = the output shape."""
    src = np.arange(int(np.prod(in_shape)), dtype=np.int64).reshape(in_shape)
    if cls == "ZeroPadding1D":
        (l, r), = _pairs(layer.padding, 1)
        return np.pad(src, ((l, r), (0, 0)), constant_values=-1)
    if cls == "ZeroPadding2D":
        (t, b), (l, r) = _pairs(layer.padding, 2)
        return np.pad(src, ((t, b), (l, r), (0, 0)), constant_values=-1)
    if cls == "Cropping1D":
        (l, r), = _pairs(layer.cropping, 1)
        return src[l:in_shape[0] - r]
    if cls == "Cropping2D":
        (t, b), (l, r) = _pairs(layer.cropping, 2)
        return src[t:in_shape[0] - b, l:in_shape[1] - r]
    if cls == "UpSampling1D":
        s = int(layer.size)
        return src[resize_index(in_shape[0], in_shape[0] * s, io_type)]
    if cls == "UpSampling2D":
        sh, sw = (int(a) for a in layer.size)
        rows = resize_index(in_shape[0], in_shape[0] * sh, io_type)
        cols = resize_index(in_shape[1], in_shape[1] * sw, io_type)
        return src[rows][:, cols]
    if cls == "Permute":
        return np.transpose(src, [int(d) - 1 for d in layer.dims])
    raise AssertionError(cls)  # pragma: no cover - the registry only sends the classes above


class SpatialFamily(LayerFamily):
    """The layers of :data:`SPATIAL_CLASSES` (see the module docstring)."""

    name = "spatial"
    keras_classes = SPATIAL_CLASSES
    fields = ()
    passthrough = True

    def parse(self, layer, ctx):
        cls = type(layer).__name__
        if getattr(layer, "data_format", "channels_last") not in (None, "channels_last"):
            raise unsupported(layer, f"data_format {layer.data_format!r}", "use channels_last")
        if cls == "UpSampling2D" and getattr(layer, "interpolation", "nearest") != "nearest":
            raise unsupported(layer, f"interpolation {layer.interpolation!r}: hls4ml 1.3.0's resize templates "
                              "implement nearest only", "use interpolation='nearest'")
        in_shape, out_shape = shape_of(layer.input), shape_of(layer.output)
        if cls == "Permute":
            self._check_permute(layer, in_shape, ctx.opts.io_type)
        idx = index_map(cls, layer, in_shape, ctx.opts.io_type)
        if tuple(idx.shape) != tuple(out_shape):  # pragma: no cover - a Keras geometry kappa misread
            raise unsupported(layer, f"kappa computes an output of shape {idx.shape}, Keras {out_shape}")
        return [Step(layer.name, self, layer.name, layer, {"kind": cls, "index": idx.ravel()}, {}, {},
                     in_shape, out_shape)]

    @staticmethod
    def _check_permute(layer, in_shape, io_type):
        if len(in_shape) > 3:
            raise unsupported(layer, f"a {len(in_shape)}-D permutation (hls4ml's transpose takes up to 3 axes)",
                              "permute at most 3 axes")
        if layer.name in TRANSPOSE_ATTRS:
            raise unsupported(layer, f"the name {layer.name!r}: hls4ml stores a layer's output variable as the "
                              "attribute of that name, which replaces its transpose attribute of the same name "
                              "(TypeError in its transpose template)", "rename the layer")
        nxt = [n.operation for n in getattr(layer, "_outbound_nodes", [])]
        if len(nxt) == 1 and type(nxt[0]).__name__ in ("Flatten", "Reshape") and len(shape_of(nxt[0].output)) == 1:
            after = [n.operation for n in getattr(nxt[0], "_outbound_nodes", [])]
            if len(after) == 1 and type(after[0]).__name__ == "Dense":
                raise unsupported(layer, f"Permute -> {nxt[0].name} -> Dense {after[0].name!r}: hls4ml's "
                                  "RemoveTransposeBeforeFlatten pass deletes the transpose and reorders the Dense "
                                  "weights, which changes the Dense's addition order (and its weight files)",
                                  "leave the Permute out (the Dense can take its inputs in any order) or put a "
                                  "layer between the Flatten and the permutation")

    def forward(self, step, x, in_t, opts):
        flat = np.concatenate([x.reshape(len(x), -1), np.zeros((len(x), 1))], axis=1)
        return flat[:, step.attrs["index"]].reshape((len(x), *step.out_shape))  # index -1: the zero column

    def forward_tf(self, step, x, in_t, fwd):
        import tensorflow as tf

        flat = tf.reshape(x, [-1, int(np.prod(step.in_shape))])
        flat = tf.concat([flat, tf.zeros_like(flat[:, :1])], axis=1)
        idx = np.where(step.attrs["index"] < 0, int(np.prod(step.in_shape)), step.attrs["index"])
        return tf.reshape(tf.gather(flat, idx, axis=1), [-1, *step.out_shape])

    def hls_precision(self, step):
        return {"result": (step.types.get("result"), f"{step.keras_name} (passes the previous type through)")}


SPATIAL = SpatialFamily()
