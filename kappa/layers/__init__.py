"""The layers kappa runs, one module per layer family, and the registry that parses a
Keras model into firmware steps.

Each family module (``dense``, ``conv``, ``depthwise``, ``pooling``, ``reshape``,
``spatial``, ``activations``, ``relu_variants``, ``softmax``, ``batchnorm``, ``embedding``,
``noop``, ``merge``) holds its parse rule, numpy firmware forward, TensorFlow training forward
and hls4ml precision keys (see :mod:`kappa.layers.base`). :data:`REGISTRY` maps Keras
class names to families, as hls4ml maps each Keras layer class to one handler. Adding a
layer kind is one new module plus one line in :data:`FAMILIES`.

Shared by the families: :mod:`kappa.layers._common` (product-bit limits, activation
names; imports no family), :mod:`kappa.layers.fused` (a layer's fused activation split
into its own steps; imports the activation families) and the straight-through helpers of
:mod:`kappa.straight_through`. Imports run one way: registry -> families -> shared helpers.

:func:`build_plan` is the one parser of Keras models: the firmware forward
(:mod:`kappa.firmware_forward`), the training forward (:mod:`kappa.training_forward`)
and the converter (``hls.convert``) all use it, so they accept and refuse the same
models with the same messages. It walks the model's graph (:mod:`kappa.layers.graph`:
inputs, layers in topological order with the layers they read, outputs), so a plan is a
DAG: every step names its input step(s). No TensorFlow import at module level.
"""

from __future__ import annotations

from typing import Any

from .activations import ACTIVATION_LAYERS, FLOAT_ACTIVATION
from .base import (
    IO_TYPES,
    STRATEGIES,
    SUPPORTED_LAYERS_STRICT,
    FirmwareOptions,
    LayerFamily,
    ParseContext,
    Step,
    index_of,
    same_variable,
)
from .batchnorm import BATCHNORM
from .conv import CONV
from .dense import DENSE
from .depthwise import DEPTHWISE
from .embedding import EMBEDDING
from .fused import fused_fields, fused_options
from .graph import ModelGraph, is_chain, model_graph
from .merge import MERGE
from .noop import NOOP
from .pooling import POOLING
from .relu_variants import PRELU
from .reshape import RESHAPE
from .softmax import SOFTMAX
from .spatial import SPATIAL

FAMILIES: tuple[LayerFamily, ...] = (DENSE, CONV, POOLING, RESHAPE, ACTIVATION_LAYERS, SOFTMAX, BATCHNORM, NOOP,
                                     SPATIAL, DEPTHWISE, PRELU, EMBEDDING, MERGE)
REGISTRY: dict[str, LayerFamily] = {cls: fam for fam in FAMILIES for cls in fam.keras_classes}

__all__ = ["FAMILIES", "REGISTRY", "SUPPORTED_LAYERS_STRICT", "FirmwareOptions", "LayerFamily", "Step",
           "build_plan", "chain_layers", "fields_by_layer", "same_variable", "index_of", "IO_TYPES", "STRATEGIES",
           "ModelGraph", "model_graph", "is_chain", "plan_outputs", "input_value_type"]


def _unsupported_class(layer) -> ValueError:
    return ValueError(
        f"layer {layer.name!r} of type {type(layer).__name__} is not supported; supported layers: "
        f"{'; '.join(SUPPORTED_LAYERS_STRICT)}"
    )


def chain_layers(keras_model) -> list:
    """The model's layers (input layer excluded), checked to form one chain.

    Raises:
        ValueError: several inputs/outputs, a layer used twice, or a branch.
    """
    import keras

    inputs = getattr(keras_model, "inputs", None) or []
    outputs = getattr(keras_model, "outputs", None) or []
    if len(inputs) > 1 or len(outputs) > 1:
        raise ValueError(
            f"model {keras_model.name!r} has {len(inputs)} inputs and {len(outputs)} outputs; "
            "kappa supports single-input, single-output chains of layers"
        )
    layers = []
    prev_out = inputs[0] if inputs else None
    for layer in keras_model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        nodes = getattr(layer, "_inbound_nodes", [])
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
        layers.append(layer)
    return layers


def family_of(layer, *, strict: bool) -> LayerFamily:
    """The family that handles ``layer`` (by Keras class name, then by base classes).

    Raises:
        ValueError: no family, naming the layer, its class and the supported set; a QKeras
            layer (its quantizers would be ignored: convert with ``kappa.from_qkeras``).
    """
    if type(layer).__module__.split(".")[0] == "qkeras":
        raise ValueError(
            f"layer {layer.name!r} is a QKeras {type(layer).__name__}: kappa would ignore its quantizers; "
            "convert the model with kappa.from_qkeras(model) and use the twin and PrecisionDict it returns"
        )
    if type(layer).__name__ == "FixedPointQuantizer":
        raise ValueError(
            f"layer {layer.name!r} is an HGQ FixedPointQuantizer: kappa expresses these quantizers as types; "
            "convert the model with kappa.from_hgq(model) and use the twin and PrecisionDict it returns"
        )
    for cls in type(layer).__mro__:
        fam = REGISTRY.get(cls.__name__)
        if fam is not None:
            return fam
    if not strict and not layer.trainable_weights:
        return FLOAT_ACTIVATION
    raise _unsupported_class(layer)


def build_plan(
    keras_model, precision: Any = None, opts: FirmwareOptions | None = None, *, strict: bool = True
) -> list[Step]:
    """Parse a Keras model (a chain, or a graph with branches, several inputs and outputs)
    into firmware steps.

    Args:
        keras_model: a built Keras 3 model (functional or Sequential).
        precision: a PrecisionDict (types are resolved into each step) or None (float).
        opts: firmware options (io_type decides the inserted zero-padding layers).
        strict: True -> only firmware-exact layers (``SUPPORTED_LAYERS_STRICT``); False ->
            also BatchNormalization, other activations and parameter-free layers, computed
            in float (training only).

    Returns:
        list of :class:`Step` in topological order (the input layers excluded); each step's
        ``inputs`` names the steps or model inputs it reads (the model's outputs are the
        last steps of the layers :func:`model_graph` lists); passthrough steps (Flatten,
        Reshape, inserted padding) carry their input's result type.

    Raises:
        ValueError: an unsupported layer (names it, its type and the supported set), a
            configuration of a layer kappa cannot emulate (names the layer, the reason and
            what would work instead), a layer used twice.
    """
    opts = opts or FirmwareOptions()
    ctx = ParseContext(precision, opts, strict, list(keras_model.trainable_variables))
    graph = model_graph(keras_model)
    layers = [layer for layer, _ in graph.layers]
    _check_layer_options(
        opts, {layer.name: family_of(layer, strict=strict) for layer in layers}, {layer.name: layer for layer in layers}
    )
    steps: list[Step] = []
    types = {name: input_value_type(precision, name) for name in graph.inputs}
    last = {name: name for name in graph.inputs}  # Keras layer or input -> the step holding its output
    for layer, preds in graph.layers:
        fam = family_of(layer, strict=strict)
        srcs = tuple(last[p] for p in preds)
        for st in fam.parse(layer, ctx):
            st.inputs = srcs
            if st.family.passthrough:
                st.types["result"] = types[srcs[0]] if srcs else None
            steps.append(st)
            types[st.name] = st.types.get("result")
            srcs = (st.name,)
        last[layer.name] = srcs[0]
    return steps


def plan_outputs(keras_model, steps: list[Step]) -> tuple[str, ...]:
    """The names of the steps holding ``keras_model``'s outputs, in ``model.outputs`` order."""
    by_keras = {}
    for st in steps:
        by_keras[st.keras_name] = st.name  # the last step of each Keras layer
    return tuple(by_keras[name] for name in model_graph(keras_model).outputs)


def input_value_type(precision, name: str):
    """The type of the model input ``name``: its own ``value`` entry in the PrecisionDict (a
    multi-input model may type each input), else ``input.value`` (else ``default.value``);
    None without a PrecisionDict."""
    from .. import precision as _p

    if precision is None:
        return None
    if name in precision.layers and precision.to_dict()[name].get("value") is not None:
        return precision.dtype(name, "value")
    return precision.dtype(_p.INPUT_LAYER, "value")


def _check_layer_options(opts: FirmwareOptions, families: dict, layers: dict) -> None:
    """Refuse per-layer options for layers the model does not have or whose family takes none."""
    problems = []
    for name, options in opts.layer_options.items():
        fam = families.get(name)
        if fam is None:
            problems.append(
                f"layer_options names {name!r}, which is not a layer of the model (its layers: {', '.join(families)})"
            )
            continue
        allowed = tuple(dict.fromkeys(fam.options + fused_options(layers[name])))
        for key in options or {}:
            if key not in allowed:
                problems.append(
                    f"layer_options[{name!r}][{key!r}]: a {fam.name} layer takes "
                    + (f"the options {', '.join(allowed)}" if allowed else "no options")
                )
    if problems:
        raise ValueError("invalid layer_options:\n  " + "\n  ".join(problems))


def fields_by_layer(keras_model, *, strict: bool = False) -> dict[str, tuple[str, ...]]:
    """``{Keras layer name: PrecisionDict fields it has}`` (for ``PrecisionDict.validate``);
    a model input has the field ``value`` (its own type, overriding ``input.value``)."""
    graph = model_graph(keras_model)
    out = {name: ("value",) for name in graph.inputs}
    for layer, _ in graph.layers:
        try:
            fam = family_of(layer, strict=strict)
            own = fam.fields
            if type(layer).__name__ in ("LeakyReLU", "ReLU"):
                own = own + ("param",)
            out[layer.name] = tuple(dict.fromkeys(own + fused_fields(layer)))
        except ValueError:
            out[layer.name] = ()
    return out
