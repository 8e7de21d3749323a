"""The Python quantized forward path: the numbers hls4ml firmware must reproduce.

``predict_quantized`` evaluates a chain of Keras ``Dense`` / ``Activation`` / ``ReLU``
layers with the arithmetic of hls4ml 1.3.0's io_parallel templates
(``nnet_dense_latency.h``, ``nnet_dense_resource.h``, ``nnet_activation.h``):

1. the input is converted to the ``input.value`` type;
2. Dense: weights and biases are converted to their types; each product
   ``x[i] * w[i][j]`` is formed exactly and converted to ``accum_t`` on its own; the
   accumulator starts at ``(accum_t) bias[j]``; products are added one by one, every
   partial sum converted to ``accum_t`` (only overflow can act: the sum of two values on
   the accumulator grid is on the grid); the output is ``(result_t) acc[j]``;
3. ReLU: ``x > 0 ? x : 0`` converted to the layer's result type;
4. a Dense with a fused ReLU is split, as hls4ml does, into the Dense (whose result type
   kappa sets to the accumulator type, a lossless cast) and ``<name>_relu`` whose result
   type is the Dense's ``activation`` field.

All values are float64 and every step is exact: a product of a ``Wx``-bit and a
``Ww``-bit code has at most ``Wx + Ww`` significant bits, so ``Wx + Ww <= 53`` is
required, and accumulations stay below 2**53 LSBs.

The order of additions matters only for saturating accumulators (with WRAP the sum is
modular and any order gives the same bits). For the Latency strategy it is the input
order i = 0 .. n_in-1. The Resource strategy (``nnet_dense_resource.h``) adds in an
interleaved order that depends on the reuse factor and, for RF > n_in, through
intermediate ``accum_t`` partial sums that saturate on their own; kappa does not emulate
that, so a saturating accumulator under Resource is refused (:func:`check_strategy`).
"""

from __future__ import annotations

from dataclasses import dataclass
import numpy as np

from .fixed_point import FixedPointType
from .inputs import check_inference_precision, check_inputs, model_input_shape
from .layers import build_plan
from .precision import INPUT_LAYER, PrecisionDict, ensure_precision_dict
from .quantization import quantize, requantize_codes, to_codes



@dataclass
class LayerStep:
    """One step of the firmware forward path.

    Attributes:
        name: hls4ml layer name (a fused ReLU is ``<dense>_relu``).
        kind: ``"dense"``, ``"relu"`` or ``"linear"``.
        keras_name: the Keras layer it comes from.
        weight, bias: float arrays (Dense only), shapes (n_in, n_out) and (n_out,).
        types: field -> FixedPointType (None = floating point) for this step.
    """

    name: str
    kind: str
    keras_name: str
    weight: np.ndarray | None = None
    bias: np.ndarray | None = None
    types: dict | None = None
    use_bias: bool = True


def layer_steps(keras_model, precision: PrecisionDict | None) -> list[LayerStep]:
    """The firmware steps of ``keras_model`` with their types from ``precision``.

    The model is parsed by :func:`kappa.layers.build_plan` (strict), the same parser the
    training forward uses.

    Args:
        keras_model: a Keras 3 model whose layers form a single chain of supported layers.
        precision: PrecisionDict (or None: every type floating point).

    Raises:
        ValueError: an unsupported layer or activation, several inputs/outputs, or a
            branching graph (names the layer and the supported set).
    """
    p = precision or PrecisionDict({})
    steps: list[LayerStep] = []
    for ps in build_plan(keras_model, strict=True):
        name, layer = ps.name, ps.layer
        if ps.kind == "dense":
            kernel = np.asarray(layer.kernel.numpy(), dtype=np.float64)
            bias = np.asarray(layer.bias.numpy(), dtype=np.float64) if layer.use_bias else np.zeros(kernel.shape[1])
            acc_t = p.dtype(name, "accumulator")
            dense_types = {
                "weight": p.dtype(name, "weight"),
                "bias": p.dtype(name, "bias"),
                "accumulator": acc_t,
                "result": p.dtype(name, "activation") if ps.fused == "linear" else acc_t,
            }
            steps.append(LayerStep(name, "dense", name, kernel, bias, dense_types, use_bias=bool(layer.use_bias)))
            if ps.fused == "relu":
                steps.append(LayerStep(f"{name}_relu", "relu", name, types={"result": p.dtype(name, "activation")}))
        else:  # "relu" or "linear" (strict plans hold nothing else)
            steps.append(LayerStep(name, ps.kind, name, types={"result": p.dtype(name, "activation")}))
    return steps


def _q(x: np.ndarray, t: FixedPointType | None) -> np.ndarray:
    return x if t is None else quantize(x, t)


def check_strategy(steps: list[LayerStep], strategy: str) -> None:
    """Refuse what kappa cannot emulate for ``strategy`` ("Latency" or "Resource").

    Raises:
        ValueError: unknown strategy, or a saturating accumulator under Resource (names
            the layer and the fix: use a WRAP accumulator or the Latency strategy).
    """
    if strategy not in ("Latency", "Resource"):
        raise ValueError(f"unknown strategy {strategy!r}; valid: Latency, Resource")
    if strategy == "Resource":
        for st in steps:
            acc = (st.types or {}).get("accumulator")
            if st.kind == "dense" and acc is not None and acc.overflow != "WRAP":
                raise ValueError(
                    f"layer {st.name!r}: accumulator {acc} saturates, and the Resource strategy adds "
                    f"products in an order (with intermediate partial sums) kappa does not emulate; "
                    f"use a WRAP accumulator or strategy='Latency'"
                )


def dense_forward(x: np.ndarray, step: LayerStep, input_type: FixedPointType | None = None) -> np.ndarray:
    """Firmware Dense on quantized inputs ``x`` of shape (N, n_in) -> (N, n_out), float64.

    Args:
        input_type: the type of ``x`` (checked for product exactness).

    Raises:
        ValueError: ``Wx + Ww > 62`` (a product would not fit int64).
    """
    t = step.types
    w = _q(step.weight, t["weight"])
    b = _q(step.bias, t["bias"])
    wt = t["weight"]
    if wt is not None and wt.kind == "int" and wt.signed and wt.width == 2:
        # hls4ml selects the 'weight_ternary' product for ap_int<2> weights
        # (FPGABackend.product_type, nnet_mult.h): w == 0 -> 0, w == -1 -> -x, otherwise +x,
        # so the weight -2 multiplies as +1.
        w = np.where(w == -2.0, 1.0, w)
    acc_t = t["accumulator"]
    if acc_t is None:
        out = x @ w + b
        return _q(out, t["result"])
    n_in, n_out = w.shape
    x_t, w_t, b_t = input_type, t["weight"], t["bias"]
    if x_t is None or w_t is None or (b_t is None and step.use_bias):
        # Floating-point operands (training without a full PrecisionDict): no exactness claim.
        prods = quantize(x[:, :, None] * w[None, :, :], acc_t)
        acc = quantize(np.broadcast_to(b, (x.shape[0], n_out)), acc_t)
        for i in range(n_in):
            acc = quantize(acc + prods[:, i, :], acc_t)
        return _q(acc, t["result"])
    if x_t.width + w_t.width > 62:
        raise ValueError(f"layer {step.name!r}: {x_t} x {w_t} products need {x_t.width + w_t.width} bits; "
                         f"kappa's int64 emulation supports at most 62")
    # Exact integer pipeline: codes are value / lsb (int64).
    xc, wc = to_codes(x, x_t), to_codes(w, w_t)
    prods = requantize_codes(xc[:, :, None] * wc[None, :, :], x_t.fractional + w_t.fractional, acc_t)
    if step.use_bias:
        acc0 = requantize_codes(to_codes(b, b_t), b_t.fractional, acc_t)
    else:
        acc0 = np.zeros(n_out, dtype=np.int64)
    acc = np.broadcast_to(acc0, (x.shape[0], n_out)).copy()
    if acc_t.overflow == "WRAP":
        # Modular arithmetic (int64 overflow included): the order of additions does not matter.
        acc = requantize_codes(acc + prods.sum(axis=1), acc_t.fractional, acc_t)
    else:  # saturating: every partial sum saturates, in input order (Latency strategy)
        for i in range(n_in):
            acc = requantize_codes(acc + prods[:, i, :], acc_t.fractional, acc_t)
    res_t = t["result"]
    if res_t is None:
        return acc * acc_t.lsb
    return requantize_codes(acc, acc_t.fractional, res_t) * res_t.lsb


def layer_outputs(keras_model, precision, X, *, strategy: str = "Latency") -> list[tuple[str, np.ndarray]]:
    """Every firmware step's output on ``X``, in network order (hls4ml layer names).

    Returns:
        ``[(name, array (N, units))]``; the last entry is :func:`predict_quantized`'s result.
        Used to locate the first layer where firmware and Python part.

    Raises:
        ValueError: as :func:`predict_quantized`.
    """
    precision = ensure_precision_dict(precision)
    check_inference_precision(keras_model, precision)  # layers the model has, no S_RND in firmware
    x = check_inputs(X, model_input_shape(keras_model), what="X")
    steps = layer_steps(keras_model, precision)
    check_strategy(steps, strategy)
    in_t = precision.dtype(INPUT_LAYER, "value") if precision else None
    x = _q(x, in_t)
    cur_t = in_t
    outs = []
    for step in steps:
        if step.kind == "dense":
            x = dense_forward(x, step, cur_t)
        elif step.kind == "relu":
            x = _q(np.maximum(x, 0.0), step.types["result"])
        else:
            x = _q(x, step.types["result"])
        cur_t = step.types["result"]
        outs.append((step.name, x))
    return outs


def predict_quantized(keras_model, precision, X, *, strategy: str = "Latency") -> np.ndarray:
    """The inference-mode Python quantized forward path that firmware is compared against.

    Args:
        keras_model: a Keras 3 model of supported layers (see ``kappa.layers.SUPPORTED_LAYERS_STRICT``).
        precision: PrecisionDict, nested dict, YAML/JSON path, or None (float).
        X: inputs, shape (N, n_in), finite (a single sample as shape (1, n_in); never broadcast).
        strategy: ``"Latency"`` or ``"Resource"``; Resource with a saturating
            accumulator is refused (see :func:`check_strategy`).

    Returns:
        float64 array, shape (N, d_out).

    Raises:
        ValueError: unsupported layer, bad PrecisionDict (a layer the model lacks, S_RND in
            a firmware field), X of another shape (says which was expected), non-finite X
            (names the index), unknown strategy.
    """
    return layer_outputs(keras_model, precision, X, strategy=strategy)[-1][1]
