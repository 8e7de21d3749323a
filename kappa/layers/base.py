"""What every layer family shares: the firmware step, the firmware options, the family base.

A *layer family* (one module in this package: ``dense``, ``conv``, ``pooling``,
``reshape``, ``activations``, ``batchnorm``) holds, for the Keras layer classes it owns:

* ``parse``: the Keras layer -> one or more firmware :class:`Step` s, split the way
  hls4ml 1.3.0 splits them (a Dense/Conv with ``activation='relu'`` becomes the layer and
  ``<name>_relu``; a ``same``-padded convolution under io_stream gets the
  ``zp1d_``/``zp2d_`` zero-padding layer hls4ml inserts);
* ``fields``: the PrecisionDict fields a layer of the family has;
* ``forward``: the numpy firmware forward (bit-exact with the C++ templates);
* ``forward_tf``: the TensorFlow training forward (same quantization points,
  straight-through gradients);
* ``hls_precision``: the hls4ml precision keys (``weight``, ``bias``, ``accum``,
  ``result``) and their types; ``weights``: the weight arrays the converter writes.

The family objects are registered in :mod:`kappa.layers` by Keras class name, the way
hls4ml registers one handler per Keras layer class. No TensorFlow import here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from ..fixed_point import FixedPointType

IO_TYPES = ("io_parallel", "io_stream")
STRATEGIES = ("Latency", "Resource", "distributed_arithmetic")
SUPPORTED_LAYERS_STRICT = (
    "InputLayer",
    "Dense (activation None/'linear', 'relu', 'sigmoid', 'tanh', 'softmax'; on a 1-D input, or point-wise on a "
    "(n, features) or (h, w, features) input as hls4ml's pointwise convolution, softmax excepted)",
    "Conv1D, Conv2D (channels_last, padding 'valid'/'same', any strides, dilation 1, "
    "activation 'linear'/'relu'/'sigmoid'/'tanh')",
    "MaxPooling1D/2D, AveragePooling1D/2D (padding 'valid'; 'same' under io_parallel)",
    "GlobalMaxPooling1D/2D, GlobalAveragePooling1D/2D",
    "Flatten, Reshape",
    "DepthwiseConv1D, DepthwiseConv2D (depth_multiplier 1, strategy Latency; otherwise as Conv1D/2D)",
    "Activation('linear'/'relu'/'sigmoid'/'tanh'/'softmax'), ReLU() (default arguments, or negative_slope only, or "
    "threshold only: hls4ml's ThresholdedReLU), LeakyReLU, PReLU (shared_axes None), Activation('relu6') "
    "(io_parallel), Softmax() (last axis); sigmoid/tanh/softmax also fused into Dense/Conv",
    "ZeroPadding1D/2D, Cropping1D/2D, UpSampling1D/2D (nearest), Permute (up to 3 axes; not right before "
    "Flatten -> Dense)",
    "Embedding (1-D input of indices, an integer input type within the table)",
    "BatchNormalization (last axis; a separate hls4ml layer)",
    "Dropout, SpatialDropout1D/2D/3D, GaussianDropout, AlphaDropout (identities, removed by hls4ml); "
    "GaussianNoise, ActivityRegularization (identities; hls.convert refuses them: remove them)",
    "Add, Subtract, Multiply, Average, Maximum, Minimum (two inputs of one shape), Concatenate (two inputs, any "
    "sample axis); functional models with branches, several inputs and several outputs",
)
"""Layers kappa emulates bit for bit (``strict=True``), in io_parallel and io_stream."""


@dataclass(frozen=True)
class FirmwareOptions:
    """The firmware choices that change what hls4ml computes (shared by ``predict_quantized``,
    ``hls.convert`` and the job YAML, with the same defaults).

    Attributes:
        io_type: ``"io_parallel"`` (arrays) or ``"io_stream"`` (hls::stream of pixels).
        strategy: ``"Latency"`` or ``"Resource"``.
        reuse_factor: integer >= 1 (multiplications per multiplier).
        layer_options: ``{keras layer name: {option: value}}`` for per-layer, non-type
            options (none of today's layer families takes one; unknown names and options are
            refused).

    Raises:
        ValueError: an unknown io_type or strategy, or a reuse factor that is not an
            integer >= 1 (the message names the value and the valid ones).
    """

    io_type: str = "io_parallel"
    strategy: str = "Latency"
    reuse_factor: int = 1
    layer_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def __post_init__(self):
        if self.io_type not in IO_TYPES:
            raise ValueError(f"io_type {self.io_type!r} is not supported; valid: {', '.join(IO_TYPES)}")
        if self.strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {self.strategy!r}; valid: {', '.join(STRATEGIES)}")
        if (
            isinstance(self.reuse_factor, bool)
            or not isinstance(self.reuse_factor, (int, np.integer))
            or self.reuse_factor < 1
        ):
            raise ValueError(f"reuse_factor must be an integer >= 1, got {self.reuse_factor!r}")
        if self.strategy == "distributed_arithmetic" and self.reuse_factor != 1:  # hls4ml raises the same
            raise ValueError(f"strategy 'distributed_arithmetic' needs reuse_factor 1, got {self.reuse_factor!r}")
        if not isinstance(self.layer_options, Mapping):
            raise ValueError(
                f"layer_options must be a mapping {{layer name: {{option: value}}}}, got {self.layer_options!r}"
            )


@dataclass
class Step:
    """One hls4ml layer of the firmware, with everything needed to emulate and convert it.

    Attributes:
        name: the hls4ml layer name (``dense0``, ``dense0_relu``, ``zp2d_conv0``, ...).
        family: the :class:`LayerFamily` that computes it.
        keras_name: the Keras layer it comes from (its PrecisionDict key).
        layer: that Keras layer (None for layers hls4ml inserts).
        attrs: family-specific geometry (kernel, strides, padding, pool op, activation).
        types: resolved types, ``{"weight", "bias", "accumulator", "result"}`` as the
            family uses them; None = floating point (no PrecisionDict).
        var_index: ``kernel``/``bias``/``gamma``/``beta`` -> index into the Keras
            model's ``trainable_variables`` (training).
        in_shape, out_shape: per-sample shapes (channels_last), e.g. ``(8, 8, 1)`` (a merge:
            its first input's shape; all of them in ``attrs["in_shapes"]``).
        inputs: the names of the steps (or model inputs) this step reads, in argument
            order; set by :func:`kappa.layers.build_plan` (one name, except for merges).
    """

    name: str
    family: "LayerFamily"
    keras_name: str
    layer: Any = None
    attrs: dict = field(default_factory=dict)
    types: dict = field(default_factory=dict)
    var_index: dict = field(default_factory=dict)
    in_shape: tuple = ()
    out_shape: tuple = ()
    inputs: tuple = ()

    @property
    def kind(self) -> str:
        """The family name plus, for activations, the function (``"dense"``, ``"relu"``, ...)."""
        return self.attrs.get("kind", self.family.name)

    @property
    def result_type(self) -> FixedPointType | None:
        return self.types.get("result")


class LayerFamily:
    """Base of the layer families (one subclass per module; see the module docstring).

    Subclasses set ``name``, ``keras_classes`` and ``fields`` and override what applies.
    """

    name: str = ""
    keras_classes: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()
    #: True: the step passes its input type through (Flatten, Reshape, zero padding).
    passthrough: bool = False
    #: True: the step is created by hls4ml's optimizer, not present in its configuration.
    inserted: bool = False
    #: True: the numpy forward is the firmware's arithmetic (False: float, training only).
    firmware_exact: bool = True
    #: Per-layer, non-type options the family takes (``layer_options``).
    options: tuple[str, ...] = ()
    #: True: ``forward``/``forward_tf``/``check`` take lists of inputs and input types (merges).
    multi_input: bool = False

    # ---------------------------------------------------------------- parsing
    def parse(self, layer, ctx: "ParseContext") -> list[Step]:  # pragma: no cover - abstract
        raise NotImplementedError

    def check(self, step: Step, opts: FirmwareOptions, in_t: FixedPointType | None) -> None:
        """Refuse what kappa cannot emulate bit for bit (ValueError naming the layer)."""

    # ---------------------------------------------------------------- forward
    def forward(self, step: Step, x: np.ndarray, in_t: FixedPointType | None, opts: FirmwareOptions) -> np.ndarray:
        """Numpy firmware forward: ``x`` (N, *in_shape) float64 on ``in_t`` -> (N, *out_shape)."""
        raise NotImplementedError  # pragma: no cover - abstract

    def forward_tf(self, step: Step, x, in_t, fwd) -> Any:
        """TensorFlow training forward (``fwd`` is the calling :class:`TrainingForward`)."""
        raise NotImplementedError  # pragma: no cover - abstract

    def data_side_tf(self, step: Step, x, in_t, fwd) -> dict | None:
        """For a step that reads a model input: the tensors of ``forward_tf`` that depend on
        ``x`` (N, *in_shape) alone, as ``{key: (M, width)}`` with one row per output position,
        ``M = N * prod(out_shape[:-1])``, in sample order, which ``forward_tf`` then reads from
        ``fwd.prepared(step)``; None: nothing to compute ahead (the default)."""
        return None

    # ------------------------------------------------------------- converter
    def hls_precision(self, step: Step) -> dict[str, tuple[FixedPointType | None, str]]:
        """``{hls4ml precision key: (type, "layer.field" for messages)}`` of the step."""
        return {"result": (step.types.get("result"), f"{step.keras_name}.activation")}

    def weights(self, step: Step) -> list[tuple[str, str | None, np.ndarray, FixedPointType | None]]:
        """``[(hls4ml key, Keras attribute, float64 array, type)]`` the converter writes
        (attribute None: hls4ml computes the array itself; kappa's values replace it)."""
        return []

    def hls_config(self, step: Step) -> dict:
        """Non-type entries of the step's hls4ml layer configuration (``TableSize``, ...)."""
        return {}

    def export_problems(self, step: Step, prev_t: FixedPointType | None) -> list[str]:
        """Reasons the step's types cannot be written to firmware (empty: none)."""
        return []


@dataclass
class ParseContext:
    """What :func:`kappa.layers.build_plan` gives a family's ``parse``.

    Attributes:
        precision: PrecisionDict or None (float).
        opts: the firmware options.
        strict: only firmware-exact families (inference, conversion).
        variables: the model's ``trainable_variables``.
    """

    precision: Any
    opts: FirmwareOptions
    strict: bool
    variables: list

    def dtype(self, layer_name: str, fld: str) -> FixedPointType | None:
        return None if self.precision is None else self.precision.dtype(layer_name, fld)

    def var_index(self, layer) -> dict:
        """``{"kernel"|"bias"|"gamma"|"beta"|"alpha"|"embeddings": index into variables}`` of the layer's
        trainable ones."""
        idx = {}
        for attr in ("kernel", "bias", "gamma", "beta", "alpha", "embeddings"):
            v = getattr(layer, attr, None)
            if v is not None and getattr(v, "trainable", False):
                i = index_of(v, self.variables)
                if i >= 0:
                    idx[attr] = i
        return idx


def same_variable(a, b) -> bool:
    """Identity, then ``path``, then ``name`` comparison of two Keras/TF variables."""
    if a is b:
        return True
    pa, pb = getattr(a, "path", None), getattr(b, "path", None)
    if pa is not None and pb is not None:
        return pa == pb
    return getattr(a, "name", object()) == getattr(b, "name", object())


def index_of(var, variables) -> int:
    """Position of ``var`` in ``variables`` (identity first, then :func:`same_variable`); -1 if absent."""
    for i, v in enumerate(variables):
        if v is var:
            return i
    for i, v in enumerate(variables):
        if same_variable(v, var):
            return i
    return -1


def unsupported(layer, why: str, instead: str = "") -> ValueError:
    """The error for a layer (or configuration of it) kappa cannot emulate."""
    extra = f"; {instead}" if instead else ""
    return ValueError(
        f"layer {layer.name!r} ({type(layer).__name__}): {why}{extra}. "
        f"supported layers: {'; '.join(SUPPORTED_LAYERS_STRICT)}"
    )


def shape_of(tensor) -> tuple:
    """Per-sample shape of a Keras tensor (batch axis dropped)."""
    return tuple(int(d) for d in tensor.shape[1:])
