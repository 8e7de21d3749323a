"""HGQ proxy models -> a plain Keras twin + the PrecisionDict their quantizers express.

An HGQ proxy model (``hgq.utils.to_proxy_model``, the format of hls4ml's example models
``hgq_*.h5``) is a Keras model whose layers are followed by ``FixedPointQuantizer`` layers.
Each quantizer holds, per element, ``keep_negative`` (k), ``bits`` (b) and ``integers`` (i)
arrays and one rounding (``RND``) and overflow (``SAT``) mode, and quantizes its input to
``fixed<b, i>`` (``ap_fixed`` if k else ``ap_ufixed``). hls4ml 1.3.0 (``converters/keras/
hgq_proxy_model.py`` and ``model/optimizer/passes/hgq_proxy_model.py``,
``FuseFixedPointQuantizer``) removes a quantizer whose k, b, i are the same for every
element and gives its type, ``FixedPrecisionType(max(b, 1), i, k, RND, SAT)``, to the layer
before it as result type; a heterogeneous quantizer stays a per-element layer.

:func:`from_hgq` does the same fusion for kappa: every homogeneous quantizer becomes the
``activation`` type of the layer it follows (``input.value`` after the input layer), and the
quantizers disappear from the twin. The other types are chosen so that the firmware computes
exactly what the proxy model computes (each layer exact, then the quantizer):

* weights and biases: the narrowest ``ap_fixed`` holding the stored values exactly (HGQ
  stores them already quantized; checked);
* accumulators: the narrowest lossless WRAP type (:func:`kappa.qkeras.lossless_accumulator`),
  so a Dense/Conv result is ``quantizer(exact sum)``;
* a layer no quantizer follows (Flatten, Reshape, MaxPooling, an unquantized ReLU or
  Dense): its input type, or its lossless accumulator: nothing is rounded there.

Refused, naming the quantizer: heterogeneous (per-element) types (kappa's PrecisionDict has
one type per layer output; hls4ml keeps such a quantizer as its own per-element layer, which
kappa does not emulate: quantize that layer homogeneously, per layer, in HGQ, or convert this
model with hls4ml directly), rounding/overflow modes outside RND, RND_CONV, TRN / SAT,
SAT_SYM, WRAP, and layers kappa has no twin rule for (AveragePooling, whose accumulator hls4ml
derives itself; ``UnaryLUT``).

The Keras layer :func:`quantizer_class` (``FixedPointQuantizer``) is kappa's rebuild of the
proxy quantizer for :func:`kappa.load_model`: it computes the per-element quantization in
float64, so ``model.predict`` on a loaded proxy model gives the proxy's own numbers.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .fixed_point import FixedPointType
from .precision import INPUT_LAYER, PrecisionDict

QUANTIZER_CLASSES = ("FixedPointQuantizer", "HGQ>FixedPointQuantizer")
ROUNDING = ("RND", "RND_CONV", "TRN")
OVERFLOW = ("SAT", "SAT_SYM", "WRAP")
_CLASS = None


def quantizer_class():
    """The Keras 3 layer class ``FixedPointQuantizer`` (built on first use).

    Constructor: ``FixedPointQuantizer(RND, SAT, shape, overrides=None, fusible=False,
    name=...)``; weights ``keep_negative``, ``bits``, ``integers`` of ``shape`` (broadcast
    over the input, batch axis first). ``call(x)`` returns ``fixed<b, i>`` of every element
    (float32 result, computed in float64).

    Raises:
        ValueError: a rounding or overflow mode kappa does not compute (names them).
    """
    global _CLASS
    if _CLASS is not None:
        return _CLASS
    import keras
    import tensorflow as tf

    class FixedPointQuantizer(keras.layers.Layer):
        """kappa's rebuild of HGQ's proxy ``FixedPointQuantizer`` (see :mod:`kappa.hgq`)."""

        def __init__(self, RND="TRN", SAT="WRAP", shape=(1,), overrides=None, fusible=False, **kw):
            super().__init__(**kw)
            if RND not in ROUNDING or SAT not in OVERFLOW:
                raise ValueError(f"FixedPointQuantizer {kw.get('name')!r}: RND={RND!r}, SAT={SAT!r}; kappa computes "
                                 f"RND in {ROUNDING} and SAT in {OVERFLOW}")
            self.RND, self.SAT, self.qshape = RND, SAT, tuple(int(d) for d in shape)
            self.overrides, self.fusible = overrides or {}, bool(fusible)
            self.keep_negative = self.add_weight(name="keep_negative", shape=self.qshape, initializer="zeros",
                                                 trainable=False)
            self.bits = self.add_weight(name="bits", shape=self.qshape, initializer="zeros", trainable=False)
            self.integers = self.add_weight(name="integers", shape=self.qshape, initializer="zeros", trainable=False)

        def call(self, x):
            x = tf.cast(x, tf.float64)
            k, b, i = (tf.cast(v, tf.float64) for v in (self.keep_negative, self.bits, self.integers))
            v = x * 2.0 ** (b - i)  # in LSB units
            if self.RND == "TRN":
                c = tf.floor(v)
            elif self.RND == "RND":
                c = tf.floor(v + 0.5)
            else:
                c = tf.round(v)  # half to even
            lo = -k * 2.0 ** (b - 1)
            hi = 2.0 ** (b - k) - 1.0
            if self.SAT == "WRAP":
                c = tf.math.floormod(c - lo, 2.0 ** b) + lo
            else:
                c = tf.clip_by_value(c, lo + k if self.SAT == "SAT_SYM" else lo, hi)
            return tf.cast(tf.where(b > 0, c * 2.0 ** (i - b), 0.0), tf.float32)

        def compute_output_shape(self, input_shape):
            return input_shape

        def get_config(self):
            return {**super().get_config(), "RND": self.RND, "SAT": self.SAT, "shape": list(self.qshape),
                    "overrides": self.overrides, "fusible": self.fusible}

    _CLASS = FixedPointQuantizer
    return _CLASS


def is_quantizer(layer) -> bool:
    """True for a (kappa-rebuilt) HGQ ``FixedPointQuantizer`` layer."""
    return type(layer).__name__ == "FixedPointQuantizer"


def has_hgq_quantizers(model) -> bool:
    """True if ``model`` holds ``FixedPointQuantizer`` layers (an HGQ proxy model)."""
    return any(is_quantizer(layer) for layer in model.layers)


def quantizer_type(layer) -> FixedPointType:
    """The one type a homogeneous quantizer gives (``fixed<max(b, 1), i>``, its RND and SAT).

    Raises:
        ValueError: per-element (heterogeneous) types, naming the quantizer, the distinct
            types and the alternatives.
    """
    kbi = [np.asarray(v.numpy()).astype(np.int64).ravel() for v in (layer.keep_negative, layer.bits, layer.integers)]
    if any(np.unique(a).size != 1 for a in kbi):
        n = len({(int(k), int(b), int(i)) for k, b, i in zip(*kbi)})
        raise ValueError(
            f"HGQ quantizer {layer.name!r} gives its {kbi[0].size} elements {n} different types (heterogeneous, "
            f"bits {int(kbi[1].min())}..{int(kbi[1].max())}, integers {int(kbi[2].min())}..{int(kbi[2].max())}): "
            "kappa's PrecisionDict holds one type per layer output, and hls4ml keeps such a quantizer as a per-element "
            "layer kappa does not emulate; quantize this layer homogeneously (one type per layer) in HGQ, or convert "
            "the model with hls4ml's own bit-exact flow"
        )
    k, b, i = (int(a[0]) for a in kbi)
    return FixedPointType(max(b, 1), i, bool(k), layer.RND, layer.SAT)


def from_hgq(model, *, accumulator: str | None = None):
    """A plain Keras twin of an HGQ proxy model and the PrecisionDict of its quantizers.

    Args:
        model: a Keras 3 model with ``FixedPointQuantizer`` layers, as
            :func:`kappa.load_model` returns for an HGQ proxy file; a single chain.
        accumulator: one accumulator type for every Dense/Conv, or None: per layer the
            narrowest lossless WRAP type (the firmware then computes the proxy's numbers).

    Returns:
        ``(kappa.KerasModel, PrecisionDict)``: the twin (same layer names without the
        quantizers; weights as stored) and its types (see the module docstring).

    Raises:
        ValueError: heterogeneous quantizers, an input without a quantizer, a layer with no
            twin rule, weights that are not exact in 32 bits (the message names the layer).
    """
    import keras

    from .fixed_point import as_type
    from .layers import chain_layers
    from .nn import KerasModel
    from .qkeras import grid_type, lossless_accumulator

    layers = chain_layers(model)
    if not layers or not is_quantizer(layers[0]):
        raise ValueError(f"model {model.name!r}: the input is not followed by a FixedPointQuantizer, so its type is "
                         "unknown; this is not an HGQ proxy model (kappa.load_model on the file HGQ wrote)")
    acc_fixed = as_type(accumulator) if accumulator is not None else None
    in_t = quantizer_type(layers[0])
    spec: dict[str, dict[str, Any]] = {INPUT_LAYER: {"value": str(in_t)}}
    inp = keras.Input(tuple(int(d) for d in model.inputs[0].shape[1:]), name=model.inputs[0].name.split(":")[0])
    x, cur_t, last, copies, cls_of = inp, in_t, None, [], {}
    for layer in layers[1:]:
        cls = type(layer).__name__
        if is_quantizer(layer):
            if last is None:
                raise ValueError(f"HGQ quantizer {layer.name!r} follows another quantizer; kappa fuses one quantizer "
                                 "into the layer before it")
            cur_t = quantizer_type(layer)
            spec.setdefault(last, {})["activation"] = str(cur_t)
            if cls_of[last] in ("MaxPooling1D", "MaxPooling2D", "GlobalMaxPooling1D", "GlobalMaxPooling2D"):
                spec[last]["accumulator"] = spec[last]["activation"]
            last = None
            continue
        new = type(layer).from_config(layer.get_config())
        x = new(x)
        copies.append((layer, new))
        cls_of[layer.name] = cls
        if cls in ("Dense", "Conv1D", "Conv2D", "DepthwiseConv1D", "DepthwiseConv2D"):
            kernel = np.asarray(layer.kernel.numpy(), np.float64)
            w_t = grid_type(kernel, layer, "kernel")
            entry = {"weight": str(w_t)}
            bias, b_t = None, None
            if layer.use_bias:
                bias = np.asarray(layer.bias.numpy(), np.float64)
                b_t = grid_type(bias, layer, "bias")
                entry["bias"] = str(b_t)
            w2 = kernel.reshape(-1, kernel.shape[-1]) if not cls.startswith("Depthwise") else \
                kernel.reshape(-1, kernel.shape[-2])
            acc_t = acc_fixed or lossless_accumulator(cur_t, w2, w_t, bias, b_t, layer)
            entry.update(accumulator=str(acc_t), activation=str(acc_t))
            spec[layer.name] = entry
            cur_t = acc_t
        elif cls in ("Activation", "ReLU") and (cls == "ReLU" or layer.get_config()["activation"] in ("relu", "linear")):
            spec[layer.name] = {"activation": str(cur_t)}
        elif cls in ("MaxPooling1D", "MaxPooling2D", "GlobalMaxPooling1D", "GlobalMaxPooling2D"):
            spec[layer.name] = {"accumulator": str(cur_t), "activation": str(cur_t)}
        elif cls not in ("Flatten", "Reshape", "ZeroPadding1D", "ZeroPadding2D", "Cropping1D", "Cropping2D",
                         "UpSampling1D", "UpSampling2D", "Permute"):
            raise ValueError(f"layer {layer.name!r} ({cls}) of the HGQ proxy model: kappa has no twin rule for it "
                             "(it converts Dense, Conv1D/2D, DepthwiseConv1D/2D, relu/linear activations, max "
                             "pooling and the layers that move values)")
        last = layer.name
    twin = keras.Model(inp, x, name=model.name)
    for old, new in copies:
        new.set_weights(old.get_weights())
    return KerasModel(twin), PrecisionDict(spec)
