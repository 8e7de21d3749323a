"""Fused activations (``Dense(..., activation='relu')``, ``Conv2D(..., activation='tanh')``):
the steps they are split into, as hls4ml splits them, and the fields and options they add
to their layer. Used by the Dense and convolution families and the layer registry.
"""

from __future__ import annotations

from ._common import activation_name
from .activations import EXACT_ACTIVATIONS, FLOAT_ACTIVATION, RELU, TABLE_ACTIVATION, TABLE_FUNCTIONS, TABLE_OPTIONS
from .base import ParseContext, Step, unsupported
from .softmax import SOFTMAX

__all__ = ["fused_activation_steps", "fused_fields", "fused_options"]


def fused_options(layer) -> tuple[str, ...]:
    """The ``layer_options`` a layer with a fused activation takes (table size, softmax implementation)."""
    act = activation_name(getattr(layer, "activation", None)) if hasattr(layer, "activation") else ""
    if act in TABLE_FUNCTIONS:
        return TABLE_OPTIONS
    if act == "softmax":
        return SOFTMAX.options
    return ()


def fused_fields(layer) -> tuple[str, ...]:
    """The PrecisionDict fields a fused table activation adds to its layer (``table``, softmax's)."""
    act = activation_name(getattr(layer, "activation", None)) if hasattr(layer, "activation") else ""
    if act in TABLE_FUNCTIONS:
        return ("table",)
    if act == "softmax":
        return tuple(f for f in SOFTMAX.fields if f != "activation")
    return ()


def fused_activation_steps(layer, ctx: ParseContext, shape: tuple) -> tuple[list[Step], str]:
    """The steps a fused activation of ``layer`` becomes, and its name.

    Returns:
        ``(steps, fused)``: ``fused`` is ``"linear"`` (no step), ``"relu"``
        (``<name>_relu`` with the layer's ``activation`` type), ``"sigmoid"``/``"tanh"``
        (``<name>_<fn>``, a table with the layer's ``table`` type), ``"softmax"``
        (``<name>_softmax``) or the function's name (a float step, training only).

    Raises:
        ValueError: another function with ``ctx.strict``.
    """
    act = activation_name(layer.activation)
    if act == "linear":
        return [], "linear"
    result = {"result": ctx.dtype(layer.name, "activation")}
    name = f"{layer.name}_{act}"
    if act == "relu":
        return [Step(name, RELU, layer.name, layer, {"kind": "relu"}, result, {}, shape, shape)], act
    if act in TABLE_FUNCTIONS:
        return [TABLE_ACTIVATION.make_step(name, layer, ctx, act, shape)], act
    if act == "softmax":
        return [SOFTMAX.make_step(name, layer, ctx, shape)], act
    if ctx.strict:
        raise unsupported(layer, f"fused activation {act!r} is not emulated bit for bit",
                          f"use one of {', '.join(EXACT_ACTIVATIONS)}")
    return [Step(name, FLOAT_ACTIVATION, layer.name, layer, {"kind": "generic", "fn": layer.activation},
                 result, {}, shape, shape)], act
