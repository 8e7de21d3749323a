"""The layers kappa can run: one parser of Keras models for training and for firmware.

:func:`build_plan` turns a single-input, single-output chain of Keras 3 layers into
:class:`PlanStep` s. The training forward (``kappa.qforward``) and the firmware forward
(``kappa.forward``, and through it the converter) both use it, so they accept and refuse
the same models with the same messages. No TensorFlow import at module level.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SUPPORTED_LAYERS_STRICT = (
    "InputLayer",
    "Dense (activation None/'linear' or 'relu')",
    "Activation('linear')",
    "Activation('relu')",
    "ReLU() (default arguments)",
)
"""Layers :class:`QuantizedForward` can run bit-exactly (``strict=True``)."""


@dataclass
class PlanStep:
    """One layer of the forward plan.

    Attributes:
        kind: ``"dense"``, ``"relu"``, ``"linear"``, ``"batchnorm"`` or ``"generic"``.
        name: Keras layer name (the PrecisionDict key).
        layer: the Keras layer.
        fused: for ``"dense"``: ``"linear"``, ``"relu"`` or ``"other"`` (fused activation).
        var_index: name -> index into ``model.trainable_variables`` (``kernel``, ``bias``,
            ``gamma``, ``beta``).
    """

    kind: str
    name: str
    layer: Any
    fused: str = "linear"
    var_index: dict = field(default_factory=dict)


def _activation_name(fn) -> str:
    return getattr(fn, "__name__", type(fn).__name__)


def same_variable(a, b) -> bool:
    """Identity, then ``path``, then ``name`` comparison of two Keras/TF variables."""
    if a is b:
        return True
    pa, pb = getattr(a, "path", None), getattr(b, "path", None)
    if pa is not None and pb is not None:
        return pa == pb
    return getattr(a, "name", object()) == getattr(b, "name", object())


def _index_of(var, variables) -> int:
    for i, v in enumerate(variables):
        if v is var:
            return i
    for i, v in enumerate(variables):
        if same_variable(v, var):
            return i
    return -1


def _unsupported(layer, why: str = "") -> ValueError:
    extra = f" ({why})" if why else ""
    return ValueError(
        f"layer {layer.name!r} of type {type(layer).__name__} is not supported{extra}; "
        f"supported layers: {', '.join(SUPPORTED_LAYERS_STRICT)}"
    )


def build_plan(keras_model, *, strict: bool = True) -> list[PlanStep]:
    """Translate a single-input, single-output chain of Keras layers into a plan.

    Args:
        keras_model: a built Keras 3 model (functional or Sequential) whose layers form
            one chain (each layer consumes the previous layer's output).
        strict: True -> only the firmware-exact layers of ``SUPPORTED_LAYERS_STRICT``
            are accepted; False -> BatchNormalization and other parameter-free layers
            are also accepted (run in float, output cast to their activation type).

    Returns:
        List of :class:`PlanStep`, in execution order (the input layer excluded).

    Raises:
        ValueError: a layer outside the supported set (names the layer, its type and
            the supported set), a model with several inputs/outputs, or a branching graph.
    """
    import keras

    inputs = getattr(keras_model, "inputs", None) or []
    outputs = getattr(keras_model, "outputs", None) or []
    if len(inputs) > 1 or len(outputs) > 1:
        raise ValueError(
            f"model {keras_model.name!r} has {len(inputs)} inputs and {len(outputs)} outputs; "
            "kappa supports single-input, single-output chains of layers"
        )
    variables = list(keras_model.trainable_variables)
    plan: list[PlanStep] = []
    prev_out = inputs[0] if inputs else None
    for layer in keras_model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        # Chain check (functional models): the layer must consume the previous output.
        try:
            nodes = layer._inbound_nodes
        except AttributeError:  # pragma: no cover - Keras internals
            nodes = []
        if len(nodes) > 1:
            raise ValueError(f"layer {layer.name!r} is used {len(nodes)} times; kappa supports each layer once")
        if nodes and prev_out is not None:
            ins = list(nodes[0].input_tensors)
            if len(ins) != 1 or ins[0] is not prev_out:
                raise ValueError(
                    f"layer {layer.name!r} does not consume the previous layer's output: kappa supports "
                    "single-input, single-output chains of layers (no branches or skip connections)"
                )
        if nodes:
            outs = list(nodes[0].output_tensors)
            prev_out = outs[0] if outs else None

        idx = {}
        for attr in ("kernel", "bias", "gamma", "beta"):
            v = getattr(layer, attr, None)
            if v is not None and getattr(v, "trainable", False):
                i = _index_of(v, variables)
                if i >= 0:
                    idx[attr] = i
        if isinstance(layer, keras.layers.Dense):
            act = _activation_name(layer.activation)
            fused = act if act in ("linear", "relu") else "other"
            if fused == "other" and strict:
                raise _unsupported(layer, f"fused activation {act!r}; use 'linear' or 'relu'")
            plan.append(PlanStep("dense", layer.name, layer, fused, idx))
        elif isinstance(layer, keras.layers.Activation):
            act = _activation_name(layer.activation)
            if act in ("linear", "relu"):
                plan.append(PlanStep(act, layer.name, layer))
            elif strict:
                raise _unsupported(layer, f"activation {act!r} is table-based in hls4ml and cannot be emulated bit for bit")
            else:
                plan.append(PlanStep("generic", layer.name, layer))
        elif isinstance(layer, keras.layers.ReLU):
            default = (layer.max_value is None and float(layer.negative_slope) == 0.0
                       and float(layer.threshold) == 0.0)
            if default:
                plan.append(PlanStep("relu", layer.name, layer))
            elif strict:
                raise _unsupported(layer, "ReLU with max_value/negative_slope/threshold")
            else:
                plan.append(PlanStep("generic", layer.name, layer))
        elif isinstance(layer, keras.layers.BatchNormalization) and not strict:
            plan.append(PlanStep("batchnorm", layer.name, layer, var_index=idx))
        elif not strict and not layer.trainable_weights:
            plan.append(PlanStep("generic", layer.name, layer))
        else:
            raise _unsupported(layer)
    return plan
