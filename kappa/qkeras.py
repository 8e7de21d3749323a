"""QKeras models -> a plain Keras twin + the PrecisionDict that expresses their quantizers.

hls4ml 1.3.0 cannot convert a QKeras model when Keras 3 is installed (it picks its Keras 3
parser, which does not know QKeras layers). :func:`from_qkeras` gives kappa's usual path
instead: a plain Keras model with the same layer names and the weights already on their
quantizer grids, and a PrecisionDict whose types compute what the QKeras quantizers
compute.

What the QKeras quantizers really compute (qkeras-v3 1.2.1, ``qkeras/quantizers.py``; each
point is checked in ``tests/models/test_qkeras.py``):

* ``quantized_bits(bits, integer, symmetric, keep_negative, alpha=None|1)``: with
  ``m = 2**(bits - keep_negative)`` it returns ``2**integer * clip(round(x * m / 2**integer),
  keep_negative * (-m + symmetric), m - 1) / m``. ``round`` is ``keras.ops.round``, which
  rounds half to even (TensorFlow's ``round``): that is ap_fixed's ``AP_RND_CONV``, not
  ``AP_RND``. The clip is saturation. So it is ``ap_fixed<bits, integer + 1, AP_RND_CONV,
  AP_SAT>`` (``AP_SAT_SYM`` when symmetric; ``ap_ufixed<bits, integer, AP_RND_CONV,
  AP_SAT>`` without keep_negative): the integer argument excludes the sign bit, one less
  than ap_fixed's I.
* ``quantized_relu(bits, integer)`` (no sigmoid, negative_slope 0, no upper bound): with
  ``m = 2**bits``, ``2**integer * clip(round(x * m / 2**integer), 0, m - 1) / m``, round half
  to even: a ReLU whose result is ``ap_ufixed<bits, integer, AP_RND_CONV, AP_SAT>``.
* Both return ``x + stop_gradient(xq - x)`` computed in float32, which is ``xq`` only while
  the subtraction is exact. quantized_bits applies it to the unclipped input, so far out of
  range it cancels: ``quantized_bits(6, 0)(1e8)`` is 0.0 in QKeras, where ap_fixed
  saturates to 0.96875 (quantized_relu clips first and is not affected). kappa follows the
  firmware; the twin's weights (never that large) are the exact grid values.
* ``quantized_po2``, ``binary``, ``ternary`` (weights only): their values are powers of two,
  +-1, or {-1, 0, +1} times a fixed alpha; the weight type is the narrowest ap_fixed that
  holds every quantized weight exactly (checked), never ``ap_int<2>`` (which would select
  hls4ml's ternary product).

Refused, naming the layer (no exact ap_fixed form, or not emulated by kappa): ``alpha``
other than None/1 (``"auto"``/``"auto_po2"`` scales are per-channel floats that hls4ml
applies with an extra ``ApplyAlpha`` layer), stochastic rounding, ``qnoise_factor`` != 1,
``quantized_relu`` with ``use_sigmoid``, ``negative_slope`` or ``relu_upper_bound``,
activation quantizers other than quantized_bits/quantized_relu, ``QBatchNormalization``
(its gamma/beta/mean/variance quantizers are not yet mapped), and QKeras layers other than
QDense, QConv1D, QConv2D, QActivation.

Types QKeras leaves open (QKeras computes them in float32): the model input
(``input_type``), a final softmax (``softmax_type``, tables at hls4ml's defaults), each
weighted layer's accumulator (``accumulator``; default: the
narrowest lossless type for that layer's inputs and quantized weights, so the firmware
sum equals the exact sum), the result of a weighted layer without an output quantizer
(its accumulator type, lossless), and a float bias (``bias_type``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .fixed_point import FixedPointType, as_type
from .precision import INPUT_LAYER, PrecisionDict
from .quantization import quantize

DEFAULT_INPUT_TYPE = "ap_fixed<16,6,AP_RND_CONV,AP_SAT>"
"""``input_type`` default: 10 fractional bits, range [-32, 32)."""
DEFAULT_BIAS_TYPE = "ap_fixed<16,6,AP_RND_CONV,AP_SAT>"
"""``bias_type`` default, for weighted layers whose QKeras bias is not quantized."""
DEFAULT_SOFTMAX_TYPE = "ap_ufixed<16,0,AP_RND,AP_SAT>"
"""``softmax_type`` default: the result of a kept softmax (probabilities in [0, 1), LSB 2**-16);
its tables take hls4ml's defaults (:mod:`kappa.layers.softmax`)."""
MAX_ACCUMULATOR_BITS = 62
MAX_GRID_BITS = 32

QLAYERS = ("QDense", "QConv1D", "QConv2D", "QActivation")


def _refuse(layer, why: str) -> ValueError:
    return ValueError(f"layer {layer.name!r} ({type(layer).__name__}): {why}")


def _num(v) -> float:
    return float(np.asarray(v).reshape(-1)[0]) if np.ndim(v) else float(v)


def quantizer_type(q, layer, *, role: str = "weight") -> FixedPointType | None:
    """The ap type a QKeras ``quantized_bits``/``quantized_relu`` computes (see the module docstring).

    Args:
        q: the quantizer object (``layer.kernel_quantizer_internal``, ``layer.activation``).
        layer: the layer it belongs to (for messages).
        role: ``"weight"`` or ``"activation"`` (messages only).

    Returns:
        the FixedPointType, or None for a quantizer without an ap_fixed rounding form
        (``quantized_po2``, ``binary``, ``ternary``: the caller takes the weights' grid).

    Raises:
        ValueError: a quantizer or option with no exact ap_fixed form (names the layer).
    """
    name = type(q).__name__
    if getattr(q, "use_stochastic_rounding", False):
        raise _refuse(layer, f"{role} quantizer {q} uses stochastic rounding, which has no firmware form")
    if _num(getattr(q, "qnoise_factor", 1.0)) != 1.0:
        raise _refuse(layer, f"{role} quantizer {q} has qnoise_factor={q.qnoise_factor} (a float blend of "
                             "quantized and unquantized values); use qnoise_factor=1")
    if name == "quantized_bits":
        alpha = q.alpha
        if alpha is not None and (isinstance(alpha, str) or _num(alpha) != 1.0):
            raise _refuse(layer, f"{role} quantizer {q} has alpha={alpha!r}: a scale that no ap_fixed type expresses "
                                 "(hls4ml applies it with an extra ApplyAlpha layer, which kappa does not emulate); "
                                 "use alpha=1 or None")
        bits, integer = int(q.bits), int(_num(q.integer))
        keep_negative = bool(q.keep_negative)
        if bits - keep_negative < 1:
            raise _refuse(layer, f"{role} quantizer {q} is a 1-bit sign quantizer (+-1, no zero), which no "
                                 "ap_fixed rounding computes; use binary() for weights")
        if keep_negative:
            ovf = "AP_SAT_SYM" if q.symmetric else "AP_SAT"
            return as_type(f"ap_fixed<{bits},{integer + 1},AP_RND_CONV,{ovf}>")
        return as_type(f"ap_ufixed<{bits},{integer},AP_RND_CONV,AP_SAT>")
    if name == "quantized_relu":
        if q.use_sigmoid or _num(q.negative_slope) != 0.0 or (q.relu_upper_bound is not None and
                                                              not q.is_quantized_clip):
            raise _refuse(layer, f"{role} quantizer {q}: only quantized_relu(bits, integer) without use_sigmoid, "
                                 "negative_slope or relu_upper_bound has an exact ReLU + ap_ufixed form")
        if not q.is_quantized_clip:
            raise _refuse(layer, f"{role} quantizer {q}: is_quantized_clip=False leaves values above the top of the "
                                 "grid unclipped, which no ap_ufixed type computes")
        return as_type(f"ap_ufixed<{int(q.bits)},{int(_num(q.integer))},AP_RND_CONV,AP_SAT>")
    if name in ("quantized_po2", "binary", "ternary") and role == "weight":
        return None
    raise _refuse(layer, f"{role} quantizer {name} has no exact ap_fixed form kappa emulates "
                         "(activations: quantized_bits, quantized_relu; weights also quantized_po2, binary, ternary)")


def grid_type(values: np.ndarray, layer, what: str) -> FixedPointType:
    """The narrowest signed ``ap_fixed<W,I>`` holding every value of ``values`` exactly.

    Raises:
        ValueError: values that need more than 32 bits (names the layer).
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    for frac in range(0, MAX_GRID_BITS + 1):
        if np.all(v * 2.0 ** frac == np.round(v * 2.0 ** frac)):
            break
    else:
        raise _refuse(layer, f"its quantized {what} values are not on any grid of <= {MAX_GRID_BITS} fractional bits")
    codes = np.round(v * 2.0 ** frac).astype(np.int64)
    lo, hi = int(codes.min(initial=0)), int(codes.max(initial=0))
    width = 1
    while not (-(2 ** (width - 1)) <= lo and hi <= 2 ** (width - 1) - 1):
        width += 1
    width = max(width, 2)
    if width > MAX_GRID_BITS:
        raise _refuse(layer, f"its quantized {what} values need {width} bits")
    t = FixedPointType(width, width - frac, True, "RND_CONV", "SAT")
    assert np.array_equal(quantize(v, t), v)
    return t


def lossless_accumulator(in_t: FixedPointType, w: np.ndarray, w_t: FixedPointType, b: np.ndarray | None,
                         b_t: FixedPointType | None, layer) -> FixedPointType:
    """The narrowest WRAP accumulator in which no product, partial sum or bias loses a bit.

    Fractional bits: ``F_in + F_w`` (and at least the bias's); integer bits: enough for
    ``max|x| * sum_i |w_ij| + |b_j|`` over outputs j, the largest any partial sum can reach
    (``max|x|`` is the input type's largest magnitude; ``w`` flattened to (terms, outputs)).

    Raises:
        ValueError: the accumulator would need more than 62 bits (names the layer; pass
            ``accumulator=`` to choose a narrower, rounding one).
    """
    frac = in_t.fractional + w_t.fractional
    if b_t is not None:
        frac = max(frac, b_t.fractional)
    xmax = max(abs(in_t.min), abs(in_t.max))
    w2 = np.abs(np.asarray(w, np.float64).reshape(-1, w.shape[-1]))
    bound = xmax * w2.sum(axis=0)
    if b is not None:
        bound = bound + np.abs(b)
    top = float(bound.max(initial=0.0))
    integer = max(1, math.ceil(math.log2(top + 2.0 ** -frac)) + 1) if top > 0 else 1
    width = integer + frac
    if width > MAX_ACCUMULATOR_BITS:
        raise _refuse(layer, f"a lossless accumulator needs {width} bits (> {MAX_ACCUMULATOR_BITS}); pass "
                             "accumulator='ap_fixed<W,I,...>' to choose one")
    return FixedPointType(width, integer, True, "TRN", "WRAP")


def has_qkeras_layers(model) -> bool:
    """True if any layer of ``model`` is a QKeras layer (its class comes from the qkeras package)."""
    return any(type(layer).__module__.split(".")[0] == "qkeras" for layer in model.layers)


def _weights_on_grid(q, w: np.ndarray, layer, what: str):
    """(quantized values float64, their type) of a kernel or bias under QKeras quantizer ``q``."""
    t = quantizer_type(q, layer, role="weight")
    if t is not None:
        return quantize(np.asarray(w, np.float64), t), t
    wq = np.asarray(q(np.asarray(w, np.float32)), dtype=np.float64)
    return wq, grid_type(wq, layer, what)


def _activation_name(act) -> str:
    return getattr(act, "__name__", str(act))


def from_qkeras(model, *, input_type: str = DEFAULT_INPUT_TYPE, accumulator: str | None = None,
                bias_type: str = DEFAULT_BIAS_TYPE, drop_final_softmax: bool = False,
                softmax_type: str = DEFAULT_SOFTMAX_TYPE):
    """A plain Keras twin of a QKeras model and the PrecisionDict expressing its quantizers.

    Args:
        model: a built Keras 3 model with QKeras layers (qkeras-v3), a single chain.
        input_type: the firmware input type (QKeras leaves the input float).
        accumulator: one accumulator type for every weighted layer, or None: per layer the
            narrowest lossless WRAP type (:func:`lossless_accumulator`).
        bias_type: the type of a bias without a QKeras bias quantizer.
        drop_final_softmax: True: a softmax at the end (an ``Activation('softmax')`` layer
            or a last layer's softmax activation) is left out of the twin, which then ends
            at the logits. False: a final softmax is kept, with result type ``softmax_type``
            and hls4ml's default tables (QKeras computes it in float; the firmware's
            table-based softmax is what kappa emulates bit for bit).

    Returns:
        ``(kappa.KerasModel, PrecisionDict)``: the twin (``.model`` is the Keras model; same
        layer names, weights on their quantizer grids) and its types.

    Raises:
        ValueError: a layer or quantizer without an exact ap_fixed form (see the module
            docstring; the message names the layer), or a model that is not a chain.
    """
    import keras

    from .layers import chain_layers
    from .nn import KerasModel

    layers = chain_layers(model)
    in_t = as_type(input_type)
    acc_fixed = as_type(accumulator) if accumulator is not None else None
    b_default = as_type(bias_type)
    spec: dict[str, dict[str, Any]] = {INPUT_LAYER: {"value": str(in_t)}}
    if drop_final_softmax and layers:
        last = layers[-1]
        if isinstance(last, keras.layers.Activation) and _activation_name(last.activation) == "softmax":
            layers = layers[:-1]
            drop_final_softmax = False
    cur_t = in_t
    inp = keras.Input(tuple(int(d) for d in model.inputs[0].shape[1:]), name=model.inputs[0].name.split(":")[0])
    x = inp
    weights_to_set = []
    for idx, layer in enumerate(layers):
        cls = type(layer).__name__
        is_last = idx == len(layers) - 1
        if cls in ("QDense", "QConv1D", "QConv2D"):
            act = layer.activation
            act_name = _activation_name(act)
            out_q = None
            if type(act).__name__ in ("quantized_bits", "quantized_relu"):
                out_q = quantizer_type(act, layer, role="activation")
                fused = "relu" if type(act).__name__ == "quantized_relu" else "linear"
            elif act_name in ("linear", "relu"):
                fused = act_name
            elif act_name == "softmax" and drop_final_softmax and is_last:
                fused = "linear"
            elif act_name == "softmax" and is_last:
                fused = "softmax"
            else:
                raise _refuse(layer, f"activation {act_name!r}: kappa emulates linear, relu, quantized_bits and "
                                     "quantized_relu")
            kernel = layer.kernel.numpy()
            kq = layer.kernel_quantizer_internal
            if kq is None:
                raise _refuse(layer, "its kernel has no quantizer (float weights have no exact ap_fixed type); give "
                                     "it kernel_quantizer=quantized_bits(...)")
            kw, w_t = _weights_on_grid(kq, kernel, layer, "kernel")
            bw, b_t = None, None
            if layer.use_bias:
                bias = layer.bias.numpy()
                bq = layer.bias_quantizer_internal
                if bq is None:
                    b_t = b_default
                    bw = quantize(np.asarray(bias, np.float64), b_t)
                else:
                    bw, b_t = _weights_on_grid(bq, bias, layer, "bias")
            acc_t = acc_fixed or lossless_accumulator(cur_t, kw, w_t, bw, b_t, layer)
            res_t = out_q or acc_t  # no output quantizer: the lossless accumulator value
            if fused == "softmax":
                res_t = as_type(softmax_type)
            cfg = {"name": layer.name, "use_bias": layer.use_bias, "activation": fused}
            if cls == "QDense":
                new = keras.layers.Dense(layer.units, **cfg)
            else:
                conv = keras.layers.Conv1D if cls == "QConv1D" else keras.layers.Conv2D
                if getattr(layer, "data_format", "channels_last") != "channels_last":
                    raise _refuse(layer, "data_format must be channels_last")
                new = conv(layer.filters, layer.kernel_size, strides=layer.strides, padding=layer.padding,
                           dilation_rate=layer.dilation_rate, **cfg)
            entry = {"weight": str(w_t), "accumulator": str(acc_t), "activation": str(res_t)}
            if b_t is not None:
                entry["bias"] = str(b_t)
            spec[layer.name] = entry
            weights_to_set.append((new, kw, bw))
            cur_t = res_t
        elif cls == "QActivation":
            q = layer.activation
            qname = type(q).__name__
            if qname in ("quantized_bits", "quantized_relu"):
                res_t = quantizer_type(q, layer, role="activation")
                fn = "relu" if qname == "quantized_relu" else "linear"
            elif _activation_name(q) in ("linear", "relu"):
                res_t, fn = cur_t, _activation_name(q)
            else:
                raise _refuse(layer, f"activation {q}: kappa emulates quantized_bits, quantized_relu, linear and relu")
            new = keras.layers.Activation(fn, name=layer.name)
            spec[layer.name] = {"activation": str(res_t)}
            cur_t = res_t
        elif cls.startswith("Q"):
            why = ("its gamma/beta/mean/variance quantizers are not yet expressed as a PrecisionDict (kappa "
                   "converts QDense, QConv1D, QConv2D and QActivation)" if cls == "QBatchNormalization"
                   else "kappa converts QDense, QConv1D, QConv2D and QActivation")
            raise _refuse(layer, why)
        elif cls == "Activation" and _activation_name(layer.activation) == "softmax" and is_last:
            new = keras.layers.Activation("softmax", name=layer.name)
            spec[layer.name] = {"activation": str(as_type(softmax_type))}
        elif cls == "Activation" and _activation_name(layer.activation) in ("linear", "relu"):
            new = keras.layers.Activation(_activation_name(layer.activation), name=layer.name)
            spec[layer.name] = {"activation": str(cur_t)}
        elif cls in ("MaxPooling1D", "MaxPooling2D", "GlobalMaxPooling1D", "GlobalMaxPooling2D"):
            new = type(layer).from_config(layer.get_config())
            spec[layer.name] = {"accumulator": str(cur_t), "activation": str(cur_t)}
        elif cls in ("Flatten", "Reshape"):
            new = type(layer).from_config(layer.get_config())
        else:
            raise _refuse(layer, "no QKeras twin rule for this layer (kappa converts QDense, QConv1D, QConv2D, "
                                 "QActivation, linear/relu Activation, a final softmax, max pooling, Flatten and "
                                 "Reshape)")
        x = new(x)
    twin = keras.Model(inp, x, name=model.name)
    for new, kw, bw in weights_to_set:
        for var, values in ((new.kernel, kw), (new.bias if bw is not None else None, bw)):
            if var is None:
                continue
            var.assign(values.astype(np.float32))
            if not np.array_equal(np.asarray(var.numpy(), np.float64), values):
                raise ValueError(f"layer {new.name!r}: its quantized weights are not exact in float32 (more than 24 "
                                 "significant bits)")
    return KerasModel(twin), PrecisionDict(spec)
